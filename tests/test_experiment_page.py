"""The experiment's page as a Team lead reads it before approving: the lever's change next to
the lever, and an Approve button only for who may approve it."""

import re

from django.urls import reverse

from experiments import services
from experiments.lifecycle import open_moves
from experiments.models import ScalingStep
from experiments.plan import draft_from_plan
from tests.factories import candidate, draft, log_in_as
from tradeops.roles import TEAM_LEAD

APPROVE_BUTTON = re.compile(r'value="approve">(?:(?!</form>).)*>Approve</button>', re.DOTALL)


def page(client, experiment):
    return client.get(reverse("admin:experiments_experiment_change", args=[experiment.pk]))


def lever_row(response):
    """The lever's row of the page, as text."""
    html = response.content.decode()
    start = html.index("field-lever")
    return re.sub(r"<[^>]+>|\s+", " ", html[start : html.index("form-row", start + 20)])


def test_the_lever_shows_its_change_from_the_baseline(client, baseline, people):
    experiment = draft(baseline, people, lever="fib_proximity_bps", fib_proximity_bps=15)
    log_in_as(client, "reader", TEAM_LEAD)

    row = lever_row(page(client, experiment))

    assert "fib_proximity_bps: 18 → 15" in row
    services.submit(experiment, by=people["operator"], note="ready")
    assert "fib_proximity_bps: 18 → 15" in lever_row(page(client, experiment))


def test_a_draft_changing_more_than_its_lever_says_so(client, baseline, people):
    experiment = draft(baseline, people, side_balance_pressure="0.3", fib_proximity_bps=20)
    log_in_as(client, "reader", TEAM_LEAD)

    row = lever_row(page(client, experiment))

    assert "side_balance_pressure: 0 → 0.3; the candidate also changes fib_proximity_bps" in row


def test_the_submitter_gets_no_approve_button(client, baseline, people):
    experiment = draft(baseline, people)
    services.submit(experiment, by=people["lead"], note="lead submits")

    client.force_login(people["lead"])
    assert not APPROVE_BUTTON.search(page(client, experiment).content.decode())
    client.force_login(people["lead2"])
    assert APPROVE_BUTTON.search(page(client, experiment).content.decode())


def test_the_submitters_own_post_is_still_refused(client, baseline, people):
    experiment = draft(baseline, people)
    services.submit(experiment, by=people["lead"], note="lead submits")
    client.force_login(people["lead"])

    response = client.post(
        reverse("admin:experiments_experiment_changelist"),
        {"action": "approve", "_selected_action": [experiment.pk], "confirm": "yes", "note": "me"},
        follow=True,
    )

    experiment.refresh_from_db()
    assert experiment.status == "submitted" and experiment.approved_by is None
    assert "four-eyes: lena submitted" in response.content.decode()


def test_the_approve_note_page_shows_the_change_and_the_candidate(client, baseline, people):
    experiment = draft_from_plan(
        bot=baseline.bot,
        key="A",
        lever="side_balance_pressure",
        value="0.3",
        tag="v1.5.0-a",
        by=people["operator"],
    )
    services.submit(experiment, by=people["operator"], note="ready")
    client.force_login(people["lead"])

    note_page = client.post(
        reverse("admin:experiments_experiment_changelist"),
        {"action": "approve", "_selected_action": [experiment.pk]},
    ).content.decode()

    assert "side_balance_pressure: 0 → 0.3" in note_page
    assert "Candidate release v1.5.0-a: a draft, approved with this experiment." in note_page


def test_four_eyes_hides_the_move_for_scaling_steps_too(baseline, people):
    step = ScalingStep.objects.create(
        bot=baseline.bot,
        param="risk_per_trade_pct",
        from_release=baseline,
        to_release=candidate(baseline, people, tag="v1.4.1", risk_per_trade_pct="0.55"),
        step_pct=10,
        proposed_by=people["lead"],
    )
    assert open_moves(step, people["lead"]) == []
    assert open_moves(step, people["lead2"]) == ["approve"]
