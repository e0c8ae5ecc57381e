"""Nothing bypassed: whoever wrote any of a release never approves it, every edit of a release
is audited with its old and new values, and params compare by value for their type."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from experiments import services
from experiments.params import compare_params, diff_params
from experiments.releases import approve_release, create_release, edit_release
from tests.factories import PARAMS, candidate
from tradeops.audit import history
from tradeops.models import ConfigRelease, ParamSpec

RELEASES = reverse("admin:tradeops_configrelease_changelist")


@pytest.fixture
def leverage_draft(baseline, people):
    """The operator's draft release with max_leverage 5, waiting for a Team lead."""
    ParamSpec.objects.create(
        key="max_leverage", category="risk", value_type="int", min_value=1, max_value=25
    )
    return create_release(
        based_on=baseline, changes={"max_leverage": 5}, tag="v1.5.0", by=people["operator"]
    )


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def save_change_form(client, release, **fields):
    """Post a release's admin change form the way its Save button does."""
    form = {
        "tag": release.tag,
        "git_commit": release.git_commit,
        "params": json.dumps(release.params),
        "notes": release.notes,
        **fields,
    }
    url = reverse("admin:tradeops_configrelease_change", args=[release.pk])
    return client.post(url, form, follow=True)


def approve_in_admin(client, release):
    return client.post(
        RELEASES,
        {"action": "approve", "_selected_action": [release.pk], "confirm": "yes", "note": "ok"},
        follow=True,
    )


# -- four-eyes: whoever edited a draft does not approve it ------------------------------------


def test_a_lead_who_edited_a_draft_in_the_change_form_cannot_approve_it(leverage_draft, people):
    lead = logged_in(people["lead"])
    params = {**leverage_draft.params, "max_leverage": 20}
    save_change_form(lead, leverage_draft, params=json.dumps(params))

    response = approve_in_admin(lead, leverage_draft)

    assert (
        "four-eyes: lena edited release v1.5.0 and cannot approve it" in response.content.decode()
    )
    leverage_draft.refresh_from_db()
    assert not leverage_draft.is_approved
    assert leverage_draft.params["max_leverage"] == 20
    assert leverage_draft.last_edited_by == people["lead"]
    edit = history(leverage_draft).get(action="edited")
    assert (edit.actor, edit.data) == (people["lead"], {"params.max_leverage": [5, 20]})
    approve_in_admin(logged_in(people["lead2"]), leverage_draft)  # another lead reviews it
    leverage_draft.refresh_from_db()
    assert leverage_draft.approved_by == people["lead2"]


def test_the_edit_and_its_values_show_in_the_release_history(leverage_draft, people):
    lead = logged_in(people["lead"])
    save_change_form(lead, leverage_draft, notes="tighter", git_commit="abc123")
    page = lead.get(reverse("admin:tradeops_configrelease_change", args=[leverage_draft.pk]))
    text = page.content.decode()
    # The values as people read them, not JSON (issue 23: no raw JSON to people).
    assert "edited" in text and "git_commit: (empty) → abc123" in text
    assert history(leverage_draft).get(action="edited").data == {
        "git_commit": ["", "abc123"],
        "notes": ["", "tighter"],
    }


def test_an_earlier_editor_cannot_approve_after_someone_else_edits(leverage_draft, people):
    edit_release(
        leverage_draft, changes={"params": {**PARAMS, "max_leverage": 20}}, by=people["lead"]
    )
    edit_release(leverage_draft, changes={"notes": "typo fixed"}, by=people["operator"])
    with pytest.raises(ValidationError, match="four-eyes: lena edited release v1.5.0"):
        approve_release(leverage_draft, by=people["lead"])
    approve_release(leverage_draft, by=people["lead2"])


def test_the_author_still_cannot_approve_and_a_save_without_changes_is_no_edit(baseline, people):
    release = create_release(
        based_on=baseline, changes={"fib_proximity_bps": 20}, tag="x", by=people["lead2"]
    )
    save_change_form(logged_in(people["lead"]), release)  # opened and saved, nothing changed
    release.refresh_from_db()
    assert release.last_edited_by is None
    assert [e.action for e in history(release)] == ["created"]
    with pytest.raises(ValidationError, match="four-eyes: leo created release x"):
        approve_release(release, by=people["lead2"])
    approve_release(release, by=people["lead"])


def test_an_edit_is_validated_like_a_new_release(leverage_draft, people):
    with pytest.raises(ValidationError, match="max_leverage: 50 is above the maximum 25"):
        edit_release(
            leverage_draft,
            changes={"params": {**PARAMS, "max_leverage": 50}},
            by=people["lead"],
        )
    with pytest.raises(ValidationError, match="already has a release v1.4.0"):
        edit_release(leverage_draft, changes={"tag": "v1.4.0"}, by=people["lead"])
    with pytest.raises(ValidationError, match="version cannot be edited"):
        edit_release(leverage_draft, changes={"version": 7}, by=people["lead"])
    leverage_draft.refresh_from_db()
    assert leverage_draft.last_edited_by is None and leverage_draft.params["max_leverage"] == 5


def test_an_approved_release_changes_only_its_notes_and_that_is_audited(leverage_draft, people):
    approve_release(leverage_draft, by=people["lead"])
    with pytest.raises(ValidationError, match="approved and immutable"):
        edit_release(
            leverage_draft,
            changes={"params": {**PARAMS, "max_leverage": 20}},
            by=people["lead2"],
        )
    lead = logged_in(people["lead"])
    # Its page says so (issue 23): the config read-only, notes open.
    page = lead.get(reverse("admin:tradeops_configrelease_change", args=[leverage_draft.pk]))
    html = page.content.decode()
    assert "Approved release v1.5.0: its config is read-only, notes may be added" in html
    assert 'name="params"' not in html and 'name="notes"' in html
    save_change_form(lead, leverage_draft, notes="ran fine for a week")
    leverage_draft.refresh_from_db()
    assert leverage_draft.notes == "ran fine for a week"
    assert leverage_draft.last_edited_by is None  # four-eyes is about the draft
    assert history(leverage_draft).last().data == {"notes": ["", "ran fine for a week"]}


def test_the_database_refuses_an_approval_by_the_last_editor(leverage_draft, people):
    ConfigRelease.objects.filter(pk=leverage_draft.pk).update(last_edited_by=people["lead"])
    with pytest.raises(IntegrityError, match="release_four_eyes"), transaction.atomic():
        ConfigRelease.objects.filter(pk=leverage_draft.pk).update(
            approved_by=people["lead"], approved_at=timezone.now()
        )


# -- params compare by value for their type ---------------------------------------------------


def test_params_compare_by_value_for_their_type(baseline):
    ParamSpec.objects.create(key="reduce_only", category="execution", value_type="bool")
    old = {**PARAMS, "reduce_only": True, "no_spec": 1}
    same = {
        **old,
        "entry_zone_tolerance_pct": "0.350",  # a decimal with an extra trailing zero
        "side_balance_pressure": 0,  # a whole decimal written as a number
    }
    assert diff_params(old, same) == {}
    assert diff_params(old, {**old, "fib_proximity_bps": "18"}) == {
        "fib_proximity_bps": (18, "18")  # an int param's "18" is not the number 18
    }
    assert diff_params(old, {**old, "reduce_only": 1}) == {"reduce_only": (True, 1)}
    assert diff_params(old, {**old, "no_spec": "1"}) == {"no_spec": (1, "1")}
    assert diff_params(old, {**old, "entry_zone_tolerance_pct": "0.3"}) == {
        "entry_zone_tolerance_pct": ("0.35", "0.3")
    }
    assert not any(changed for *_, changed in compare_params(old, same))


def test_a_respelled_decimal_is_no_lever(baseline, people):
    experiment = services.create_experiment(
        bot=baseline.bot,
        name="A nothing",
        lever="entry_zone_tolerance_pct",
        candidate=candidate(baseline, people, entry_zone_tolerance_pct="0.350"),
        success_criteria="x",
        by=people["operator"],
    )
    with pytest.raises(ValidationError, match="exactly one strategy param must differ.*none"):
        services.submit(experiment, by=people["operator"], note="ready")


def test_a_respelled_decimal_is_not_a_second_change(baseline, people):
    experiment = services.create_experiment(
        bot=baseline.bot,
        name="A side balance",
        lever="side_balance_pressure",
        candidate=candidate(
            baseline, people, side_balance_pressure="0.3", entry_zone_tolerance_pct="0.3500"
        ),
        success_criteria="x",
        by=people["operator"],
    )
    services.submit(experiment, by=people["operator"], note="one lever")
    assert experiment.status == "submitted"


def test_the_diff_and_the_compare_page_show_a_respelling_unchanged(baseline, people):
    respelled = candidate(baseline, people, tag="v1.4.1", entry_zone_tolerance_pct="0.350")
    lead = logged_in(people["lead"])
    page = lead.get(reverse("admin:tradeops_configrelease_change", args=[respelled.pk]))
    assert "same params as v1.4.0" in page.content.decode()
    url = reverse("admin:tradeops_configrelease_compare", args=[baseline.pk, respelled.pk])
    compare = lead.get(url).content.decode()
    assert "<td>0.350</td>" in compare  # each release's own spelling is shown, unquoted
    assert 'class="changed"' not in compare


def test_a_taken_tag_in_the_change_form_shows_on_the_tag_field(leverage_draft, people):
    response = save_change_form(logged_in(people["operator"]), leverage_draft, tag="v1.4.0")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "tag": ["alpha already has a release v1.4.0"]
    }
    assert ConfigRelease.objects.get(pk=leverage_draft.pk).tag == "v1.5.0"
