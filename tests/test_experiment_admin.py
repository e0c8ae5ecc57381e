"""The decision framework from the admin, as a Team lead and an operator click through it."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from experiments import scaling
from experiments.jobs import refresh_scorecards
from experiments.models import Experiment, ScalingStep
from kpis.models import KPISnapshot
from tests.factories import draft, log_in_as, run_through, two_weeks
from tradeops.audit import history
from tradeops.models import ConfigRelease, ParamSpec, StabilizationWindow
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER
from tradeops.services import create_bot

EXPERIMENTS = reverse("admin:experiments_experiment_changelist")
RELEASES = reverse("admin:tradeops_configrelease_changelist")


@pytest.fixture
def lead(db):
    client = Client()
    log_in_as(client, "lead", TEAM_LEAD)
    return client


@pytest.fixture
def operator(db):
    client = Client()
    log_in_as(client, "operator", OPERATOR)
    return client


def act(client, changelist, action, obj, note="", **extra):
    """Post an admin action's note page the way the confirm button does."""
    return client.post(
        changelist,
        {"action": action, "_selected_action": [obj.pk], "confirm": "yes", "note": note, **extra},
        follow=True,
    )


def text(response):
    return response.content.decode()


def test_experiment_a_end_to_end_in_the_admin(baseline, people, lead, operator, embedded):
    bot = baseline.bot
    response = operator.post(
        reverse("admin:experiments_experiment_plan"),
        {
            "bot": bot.pk,
            "experiment": "A",
            "lever": "side_balance_pressure",
            "value": '"0.3"',
            "tag": "v1.5.0-a",
        },
        follow=True,
    )
    experiment = Experiment.objects.get(plan_key="A")
    assert "Drafted" in text(response)
    assert experiment.candidate_release.params["side_balance_pressure"] == "0.3"
    assert experiment.primary_kpis == ["avg_pnl_per_trade", "profit_factor"]

    # The candidate release needs a Team lead's approval before the experiment can start.
    act(lead, RELEASES, "approve", experiment.candidate_release, "reviewed the diff")
    assert ConfigRelease.objects.get(tag="v1.5.0-a").is_approved

    page = operator.get(reverse("admin:experiments_experiment_change", args=[experiment.pk]))
    assert "Submit for approval" in text(page)

    # The note page comes first; confirming without a note changes nothing.
    note_page = operator.post(
        EXPERIMENTS, {"action": "submit", "_selected_action": [experiment.pk]}
    )
    assert note_page.status_code == 200 and 'name="note"' in text(note_page)
    act(operator, EXPERIMENTS, "submit", experiment, note="")
    assert Experiment.objects.get(pk=experiment.pk).status == "draft"

    act(operator, EXPERIMENTS, "submit", experiment, "A as the plan says")
    act(lead, EXPERIMENTS, "approve", experiment, "go")
    act(operator, EXPERIMENTS, "start", experiment, "deployed v1.5.0-a")
    experiment.refresh_from_db()
    assert experiment.status == "running"

    refresh_scorecards()  # what the start enqueued for a worker
    page = text(lead.get(reverse("admin:experiments_experiment_change", args=[experiment.pk])))
    assert "Verdict: before/after only" in page and "Send to review" in page

    act(operator, EXPERIMENTS, "send_to_review", experiment, "day 5")
    decide_page = operator.post(
        EXPERIMENTS, {"action": "decide", "_selected_action": [experiment.pk]}
    )
    assert "Verdict:" in text(decide_page)  # the scorecard is in front of whoever decides
    response = act(
        operator, EXPERIMENTS, "decide", experiment, "keep needs the horizon", decision="keep"
    )
    assert "keep needs 5 days of running" in text(response)
    act(operator, EXPERIMENTS, "decide", experiment, "short share not down", decision="rollback")

    experiment.refresh_from_db()
    bot.refresh_from_db()
    assert experiment.status == "decided" and experiment.decision == "rollback"
    assert bot.current_release == baseline
    assert [(e.action, e.note) for e in history(experiment)][1:] == [
        ("submit", "A as the plan says"),
        ("approve", "go"),
        ("start", "deployed v1.5.0-a"),
        ("review", "day 5"),
        ("decide", "short share not down"),
    ]
    assert experiment.decisions.get().scorecard["test"]["release"] == "v1.5.0-a"
    decided = experiment.decisions.get()
    page = text(operator.get(reverse("admin:experiments_experiment_change", args=[experiment.pk])))
    assert (
        f"<strong>rollback</strong> by operator at {decided.decided_at:%Y-%m-%d %H:%M} UTC: "
        "short share not down"
    ) in page


def test_self_approval_is_refused_with_the_reason(baseline, people):
    client = Client()
    client.force_login(people["lead"])
    experiment = draft(baseline, people)
    act(client, EXPERIMENTS, "submit", experiment, "lead submits")
    response = act(client, EXPERIMENTS, "approve", experiment, "and approves")
    assert "four-eyes: lena submitted" in text(response)
    assert Experiment.objects.get(pk=experiment.pk).status == "submitted"


def test_b_cannot_be_drafted_before_a_and_tunes_one_lever(baseline, operator):
    plan_url = reverse("admin:experiments_experiment_plan")
    form = {"bot": baseline.bot.pk, "experiment": "B", "value": "20", "tag": "b1"}
    response = operator.post(plan_url, {**form, "lever": "fib_proximity_bps"})
    assert "queued after Experiment A: draft that first" in text(response)
    response = operator.post(plan_url, {**form, "lever": "side_balance_pressure"})
    assert "exactly one of fib_proximity_bps or entry_zone_tolerance_pct" in text(response)


def test_a_viewer_sees_no_transition_buttons(baseline, people):
    experiment = draft(baseline, people)
    client = Client()
    log_in_as(client, "vera", VIEWER)
    page = text(client.get(reverse("admin:experiments_experiment_change", args=[experiment.pk])))
    assert "Submit for approval" not in page
    act(client, EXPERIMENTS, "submit", experiment, "sneaky")
    assert Experiment.objects.get(pk=experiment.pk).status == "draft"


def test_a_release_is_a_copy_with_edits_and_compares(baseline, operator):
    add = reverse("admin:tradeops_configrelease_add")
    response = operator.post(
        add,
        {"based_on": baseline.pk, "changes": '{"fib_proximity_bps": 500}', "tag": "v2"},
    )
    assert "fib_proximity_bps: 500 is above the maximum 200" in text(response)

    operator.post(
        add, {"based_on": baseline.pk, "changes": '{"fib_proximity_bps": 20}', "tag": "v2"}
    )
    release = ConfigRelease.objects.get(tag="v2")
    assert release.params == {**baseline.params, "fib_proximity_bps": 20}
    assert not release.is_approved and release.version == 2

    response = operator.post(
        RELEASES, {"action": "compare", "_selected_action": [baseline.pk, release.pk]}, follow=True
    )
    assert '<tr class="changed"><td>fib_proximity_bps</td>' in text(response)
    assert "<td>18</td><td>20</td>" in text(response)


def test_the_baseline_does_not_change_under_a_running_experiment(baseline, people, lead):
    experiment = run_through(draft(baseline, people), people)
    response = act(lead, RELEASES, "make_baseline", experiment.candidate_release, "switch")
    assert "is running: cannot change the baseline" in text(response)
    assert ConfigRelease.objects.get(is_baseline=True) == baseline


def test_a_team_lead_freezes_and_the_exit_criteria_are_shown(baseline, lead, operator):
    add = reverse("admin:tradeops_stabilizationwindow_add")
    assert operator.get(add).status_code == 403
    lead.post(add, {"bot": baseline.bot.pk, "days": 7, "reason": "stabilize the winner"})
    window = StabilizationWindow.objects.get()
    assert window.ends_at - window.starts_at == datetime.timedelta(days=7)
    page = text(lead.get(reverse("admin:tradeops_stabilizationwindow_change", args=[window.pk])))
    assert "no malformed trade persistence" in page and "NOT met" not in page
    act(lead, reverse("admin:tradeops_stabilizationwindow_changelist"), "end_early", window, "ok")
    window.refresh_from_db()
    assert window.ended_early_at is not None


def test_scaling_from_the_admin(baseline, people, lead, operator):
    add = reverse("admin:experiments_scalingstep_add")
    form = {
        "bot": baseline.bot.pk,
        "param": "risk_per_trade_pct",
        "step_pct": "15",
        "tag": "v1.4.0-r1",
        "note": "two weeks up",
    }
    assert "not ready to scale" in text(operator.post(add, form))
    two_weeks(baseline)
    operator.post(add, form)
    step = ScalingStep.objects.get()
    assert step.to_release.params["risk_per_trade_pct"] == "0.575"

    act(lead, reverse("admin:experiments_scalingstep_changelist"), "approve", step, "approved")
    step.refresh_from_db()
    assert step.status == "holding" and step.hold_until > timezone.now()


# -- add and change forms save through the service; its refusal shows on the form ------------


def propose_in_admin(client, bot):
    form = {
        "bot": bot.pk,
        "param": "risk_per_trade_pct",
        "step_pct": "10",
        "tag": "v1.4.0-r1",
        "note": "two weeks up",
    }
    return client.post(reverse("admin:experiments_scalingstep_add"), form)


def form_errors(response):
    """The errors of the admin form a response re-rendered (200, not a redirect or a 500)."""
    assert response.status_code == 200
    return response.context["adminform"].form.errors


def test_a_bad_param_value_shows_on_the_release_form_with_the_param_named(baseline, operator):
    add = reverse("admin:tradeops_configrelease_add")
    response = operator.post(
        add, {"based_on": baseline.pk, "changes": '{"fib_proximity_bps": 500}', "tag": "v2"}
    )
    [error] = form_errors(response)["changes"]
    assert error.startswith("fib_proximity_bps: 500 is above the maximum 200")
    response = operator.post(
        add, {"based_on": baseline.pk, "changes": '{"fib_proximity_bps": 20}', "tag": "v1.4.0"}
    )
    assert form_errors(response) == {"tag": ["alpha already has a release v1.4.0"]}
    assert ConfigRelease.objects.count() == 1


def test_a_refusal_when_the_service_saves_shows_on_the_form_not_a_500(baseline, operator):
    """The raised value passes every check but the param's own bound, which only creating the
    raised release checks: the proposal is refused on the form and nothing of it is kept."""
    ParamSpec.objects.filter(key="risk_per_trade_pct").update(max_value="0.52")
    two_weeks(baseline)
    response = propose_in_admin(operator, baseline.bot)
    [error] = form_errors(response)["param"]
    assert error.startswith("risk_per_trade_pct: 0.55 is above the maximum 0.52")
    assert not ScalingStep.objects.exists()
    assert not ConfigRelease.objects.filter(tag="v1.4.0-r1").exists()


def test_a_proposal_judges_readiness_once_and_stores_no_snapshot(baseline, operator, monkeypatch):
    judged = []
    readiness = scaling.scaling_readiness

    def counted(bot, *args, **kwargs):
        judged.append(bot)
        return readiness(bot, *args, **kwargs)

    monkeypatch.setattr(scaling, "scaling_readiness", counted)
    two_weeks(baseline)
    propose_in_admin(operator, baseline.bot)
    step = ScalingStep.objects.get()
    assert judged == [baseline.bot]
    assert not KPISnapshot.objects.exists()
    assert [week["figures"]["trades"] for week in step.evidence["snapshots"]] == [21, 21]


def test_a_new_bot_gets_its_first_release_in_the_admin(baseline, operator):
    add = reverse("admin:tradeops_configrelease_add")
    bot, _ = create_bot(slug="fresh")
    params = '{"fib_proximity_bps": 18, "risk_per_trade_pct": "0.5"}'

    nothing = operator.post(add, {"changes": params, "tag": "v1"})
    both = operator.post(
        add, {"based_on": baseline.pk, "first_release_of": bot.pk, "changes": params, "tag": "v1"}
    )
    operator.post(add, {"first_release_of": bot.pk, "changes": params, "tag": "v1"})
    again = operator.post(add, {"first_release_of": bot.pk, "changes": params, "tag": "v2"})

    assert "a copy of one of the bot's releases" in form_errors(nothing)["based_on"][0]
    assert "either a copy, or a bot's first release" in form_errors(both)["first_release_of"][0]
    first = ConfigRelease.objects.get(bot=bot)
    assert (first.tag, first.version, first.is_approved) == ("v1", 1, False)
    assert first.params == {"fib_proximity_bps": 18, "risk_per_trade_pct": "0.5"}
    assert "has releases already" in form_errors(again)["first_release_of"][0]
