"""Experiments and scaling steps move by one mechanism (experiments.lifecycle): who may make a
move, a note, the row lock and the from-state, the move's rules, the new state and its audit
row. Every service runs on the clock it is given (`now`), so history is built through them."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from experiments import lifecycle, services
from experiments.models import Experiment, ScalingStep
from experiments.releases import approve_release, create_release
from experiments.scaling import (
    approve_scaling_step,
    complete_scaling_step,
    propose_scaling_step,
    roll_back_scaling_step,
)
from tests.factories import draft, run_through, two_weeks
from tradeops.audit import history
from tradeops.models import ConfigRelease

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


def reviewed(baseline, people, started):
    """An experiment started at `started` and sent to review the same day."""
    experiment = run_through(draft(baseline, people), people, until="approve")
    services.start(experiment, by=people["operator"], note="deployed", now=started)
    return services.send_to_review(experiment, by=people["operator"], note="review", now=started)


def proposed_step(baseline, people, now=None):
    two_weeks(baseline)
    return propose_scaling_step(
        bot=baseline.bot,
        param="risk_per_trade_pct",
        step_pct=10,
        tag="v1.4.1-risk",
        by=people["operator"],
        note="two good weeks",
        now=now,
    )


def holding_step(baseline, people, now=None):
    step = proposed_step(baseline, people, now)
    return approve_scaling_step(step, by=people["lead"], note="go", now=now)


# -- the horizon, on the clock ---------------------------------------------------------------


def test_a_keep_after_4_days_is_refused_and_after_5_accepted(baseline, people):
    started = timezone.now()
    experiment = reviewed(baseline, people, started)

    with pytest.raises(ValidationError, match="keep needs 5 days of running; .* has run 4 day"):
        services.decide(
            experiment,
            decision="keep",
            by=people["operator"],
            rationale="early",
            now=started + 4 * DAY,
        )
    assert Experiment.objects.get(pk=experiment.pk).status == "review"

    services.decide(
        experiment,
        decision="keep",
        by=people["operator"],
        rationale="5 days",
        now=started + 5 * DAY,
        without_better=True,
    )
    assert experiment.status == "keep_pending" and experiment.decision == "keep"


# -- history built through the services ------------------------------------------------------


def test_every_time_and_audit_row_of_an_experiment_is_the_clock_it_was_given(baseline, people):
    t0 = timezone.now() - 20 * DAY
    operator, lead = people["operator"], people["lead"]
    release = create_release(
        based_on=baseline,
        changes={"side_balance_pressure": "0.3"},
        tag="v1.5.0",
        by=operator,
        now=t0,
    )
    approve_release(release, by=lead, note="one lever", now=t0 + HOUR)
    experiment = services.create_experiment(
        bot=baseline.bot,
        name="A",
        lever="side_balance_pressure",
        candidate=release,
        success_criteria="less one-sided",
        by=operator,
        now=t0 + 2 * HOUR,
    )
    services.submit(experiment, by=operator, note="ready", now=t0 + 3 * HOUR)
    services.approve(experiment, by=lead, note="go", now=t0 + 4 * HOUR)
    services.start(experiment, by=operator, note="deployed", now=t0 + DAY)
    services.send_to_review(experiment, by=operator, note="day 6", now=t0 + 6 * DAY)
    services.decide(
        experiment,
        decision="keep",
        by=operator,
        rationale="ok",
        now=t0 + 7 * DAY,
        without_better=True,
    )
    services.confirm_keep(experiment, by=lead, note="weekly review", now=t0 + 8 * DAY)

    assert [(e.action, e.at) for e in history(experiment)] == [
        ("created", t0 + 2 * HOUR),
        ("submit", t0 + 3 * HOUR),
        ("approve", t0 + 4 * HOUR),
        ("start", t0 + DAY),
        ("review", t0 + 6 * DAY),
        ("keep", t0 + 7 * DAY),
        ("confirm keep", t0 + 8 * DAY),
    ]
    assert [(e.action, e.at) for e in history(release)] == [
        ("created", t0),
        ("approved", t0 + HOUR),
        ("baseline", t0 + 8 * DAY),
    ]
    experiment.refresh_from_db()
    assert (experiment.created_at, experiment.approved_at) == (t0 + 2 * HOUR, t0 + 4 * HOUR)
    assert (experiment.started_at, experiment.ended_at) == (t0 + DAY, t0 + 8 * DAY)
    assert experiment.keep_confirmed_at == t0 + 8 * DAY
    decision = experiment.decisions.get()
    assert decision.decided_at == t0 + 7 * DAY
    assert decision.scorecard["test"]["days"] == 6  # elapsed up to the decision's clock


def test_a_scaling_step_completes_when_its_clock_passes_the_hold(baseline, people):
    step = holding_step(baseline, people)
    assert step.hold_until == step.started_at + 7 * DAY

    with pytest.raises(ValidationError, match="holds until"):
        complete_scaling_step(step, step.hold_until - HOUR)
    complete_scaling_step(step, step.hold_until + HOUR)

    assert step.status == "completed" and step.ended_at == step.hold_until + HOUR
    assert [(e.action, e.actor_name, e.at) for e in history(step)][1:] == [
        ("approve", "lena", step.started_at),
        ("complete", "scaling hold", step.hold_until + HOUR),
    ]


# -- one mechanism, who may make which move ---------------------------------------------------


def test_a_person_does_not_stop_an_experiment_only_a_trigger_does(baseline, people):
    experiment = run_through(draft(baseline, people), people)
    with pytest.raises(PermissionDenied, match="lena may not stop experiments"):
        services.stop_by_trigger(experiment, evidence={"summary": "x"}, actor=people["lead"])
    assert Experiment.objects.get(pk=experiment.pk).status == "running"


def test_a_person_does_not_complete_a_step_only_the_hold_does(baseline, people):
    step = holding_step(baseline, people)
    with pytest.raises(PermissionDenied, match="lena may not complete scaling steps"):
        complete_scaling_step(step, step.hold_until + HOUR, actor=people["lead"])
    assert ScalingStep.objects.get(pk=step.pk).status == "holding"


def test_a_job_does_not_make_a_persons_move(baseline, people):
    step = proposed_step(baseline, people)
    with pytest.raises(PermissionDenied, match="rollback trigger may not approve scaling steps"):
        approve_scaling_step(step, by="rollback trigger", note="no")
    experiment = draft(baseline, people)
    with pytest.raises(PermissionDenied, match="rollback trigger may not submit experiments"):
        services.submit(experiment, by="rollback trigger", note="no")
    assert ScalingStep.objects.get(pk=step.pk).status == "proposed"


def test_a_rollback_by_a_trigger_is_audited_under_its_name(baseline, people):
    step = holding_step(baseline, people)
    roll_back_scaling_step(step, by="rollback trigger", note="3 kill switches")
    row = history(step).last()
    assert (row.action, row.actor, row.actor_name) == ("roll back", None, "rollback trigger")
    assert ConfigRelease.objects.get(bot=baseline.bot, is_baseline=True) == baseline


def test_a_move_from_the_wrong_state_names_the_state_for_both(baseline, people):
    step = holding_step(baseline, people)
    with pytest.raises(ValidationError, match=r"cannot approve scaling step .* it is holding"):
        approve_scaling_step(step, by=people["lead2"], note="again")
    experiment = draft(baseline, people)
    with pytest.raises(ValidationError, match="cannot start A side_balance_pressure: it is draft"):
        services.start(experiment, by=people["operator"], note="go")


def test_the_moves_open_to_a_person_follow_the_table(baseline, people):
    experiment = run_through(draft(baseline, people), people, until="submit")
    assert lifecycle.open_moves(experiment, people["operator"]) == ["withdraw"]
    assert lifecycle.open_moves(experiment, people["lead"]) == ["approve", "withdraw"]
    step = holding_step(baseline, people)
    assert lifecycle.open_moves(step, people["operator"]) == ["roll back"]
    assert lifecycle.open_moves(step, "scaling hold") == ["complete", "roll back"]
