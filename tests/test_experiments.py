"""The decision framework: every rule refused with a message that names what broke it."""

import datetime
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from experiments import services
from experiments.models import Experiment, ScalingStep
from experiments.releases import approve_release, create_release, freeze_config
from tests.factories import PARAMS, candidate, draft, run_through
from tradeops.audit import history
from tradeops.models import ConfigRelease

# -- one-change rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lever, changes, message",
    [
        (
            "fib_proximity_bps",
            {"fib_proximity_bps": 20, "entry_zone_tolerance_pct": "0.4"},
            "differ: entry_zone_tolerance_pct, fib_proximity_bps",
        ),
        (
            "fib_proximity_bps",
            {"fib_proximity_bps": 20, "risk_per_trade_pct": "0.6"},
            "risk params must be identical to the baseline; changed: risk_per_trade_pct",
        ),
        ("order_type", {"order_type": "market"}, "added order_type"),
        ("side_balance_pressure", {"side_balance_pressure": None}, "removed side_balance_pressure"),
        ("fib_proximity_bps", {"fib_proximity_bps": "18"}, "changed only in type"),
        (
            "fib_proximity_bps",
            {"side_balance_pressure": "0.3"},
            "names lever fib_proximity_bps but the candidate changes side_balance_pressure",
        ),
    ],
    ids=["two params", "risk param", "param added", "param removed", "type only", "wrong lever"],
)
def test_one_change_rule_refuses_with_the_offending_keys(baseline, people, lever, changes, message):
    if changes == {"fib_proximity_bps": "18"}:
        # A type-only change also fails ParamSpec validation; build the candidate by hand.
        bad = ConfigRelease.objects.create(
            bot=baseline.bot,
            version=9,
            tag="typed",
            params={**PARAMS, "fib_proximity_bps": "18"},
            approved_at=timezone.now(),
        )
        experiment = services.create_experiment(
            bot=baseline.bot,
            name="typed",
            lever=lever,
            candidate=bad,
            success_criteria="x",
            by=people["operator"],
        )
    else:
        experiment = draft(baseline, people, lever=lever, **changes)
    with pytest.raises(ValidationError, match=message):
        services.submit(experiment, by=people["operator"], note="ready")
    assert Experiment.objects.get(pk=experiment.pk).status == "draft"


def test_param_values_are_checked_against_their_spec(baseline, people):
    with pytest.raises(ValidationError, match="fib_proximity_bps: 500 is above the maximum 200"):
        create_release(
            based_on=baseline, changes={"fib_proximity_bps": 500}, tag="x", by=people["operator"]
        )
    with pytest.raises(ValidationError, match="unknown parameter"):
        create_release(based_on=baseline, changes={"nope": 1}, tag="y", by=people["operator"])


# -- four-eyes and roles ---------------------------------------------------------------------


def test_nobody_approves_what_they_submitted(baseline, people):
    experiment = draft(baseline, people)
    services.submit(experiment, by=people["lead"], note="lead submits")
    with pytest.raises(ValidationError, match="four-eyes: lena submitted"):
        services.approve(experiment, by=people["lead"], note="self")
    services.approve(experiment, by=people["lead2"], note="second lead")


def test_operators_do_not_approve(baseline, people):
    experiment = run_through(draft(baseline, people), people, until="submit")
    with pytest.raises(PermissionDenied):
        services.approve(experiment, by=people["operator"], note="me")


def test_release_author_cannot_approve_it(baseline, people):
    release = create_release(
        based_on=baseline, changes={"fib_proximity_bps": 20}, tag="x", by=people["lead"]
    )
    with pytest.raises(ValidationError, match="four-eyes"):
        approve_release(release, by=people["lead"])


def test_a_note_is_required(baseline, people):
    with pytest.raises(ValidationError, match="a note is required"):
        services.submit(draft(baseline, people), by=people["operator"], note=" ")


# -- starting --------------------------------------------------------------------------------


def test_start_puts_the_candidate_live_and_freezes_the_triggers(baseline, people):
    experiment = run_through(draft(baseline, people), people)
    baseline.bot.refresh_from_db()
    assert experiment.status == "running"
    assert baseline.bot.current_release == experiment.candidate_release
    assert experiment.triggers["daily_loss_pct"] == -3.0
    assert [e.action for e in history(experiment)] == ["created", "submit", "approve", "start"]
    assert history(experiment).last().actor == people["operator"]


def test_no_start_during_a_stabilization_freeze(baseline, people):
    experiment = run_through(draft(baseline, people), people, until="approve")
    freeze_config(baseline.bot, days=2, reason="stabilize the winner", by=people["lead"])
    with pytest.raises(ValidationError, match="stabilization freeze"):
        services.start(experiment, by=people["operator"], note="go")


def test_no_start_while_another_experiment_runs(baseline, people):
    run_through(draft(baseline, people), people)
    second = run_through(
        draft(baseline, people, lever="fib_proximity_bps", fib_proximity_bps=20),
        people,
        until="approve",
    )
    with pytest.raises(ValidationError, match="already running"):
        services.start(second, by=people["operator"], note="go")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_one_wins(bot, people, baseline):
    first = run_through(draft(baseline, people), people, until="approve")
    second = run_through(
        draft(baseline, people, lever="fib_proximity_bps", fib_proximity_bps=20),
        people,
        until="approve",
    )
    barrier, outcomes = threading.Barrier(2), []

    def start(experiment):
        try:
            barrier.wait()
            services.start(experiment, by=people["operator"], note="go")
            outcomes.append("started")
        except ValidationError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(e,)) for e in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes)[1] == "started" and "already running" in sorted(outcomes)[0]
    assert Experiment.objects.filter(status="running").count() == 1


def test_b_waits_until_a_is_decided(baseline, people):
    a = run_through(draft(baseline, people), people)
    b = services.create_experiment(
        bot=baseline.bot,
        name="B entry quality",
        lever="fib_proximity_bps",
        candidate=candidate(baseline, people, tag="b", fib_proximity_bps=22),
        success_criteria="higher profit factor",
        by=people["operator"],
        prerequisite=a,
    )
    run_through(b, people, until="approve")
    services.send_to_review(a, by=people["operator"], note="5 days in")
    with pytest.raises(ValidationError, match="queued after A side_balance_pressure"):
        services.start(b, by=people["operator"], note="go")
    services.decide(a, decision="rollback", by=people["operator"], rationale="worse")
    services.start(b, by=people["operator"], note="go")


# -- deciding --------------------------------------------------------------------------------


def test_keep_needs_the_horizon_then_the_candidate_becomes_the_baseline(baseline, people):
    started = timezone.now() - datetime.timedelta(days=5)
    experiment = run_through(draft(baseline, people), people, now=started)
    services.send_to_review(experiment, by=people["operator"], note="review", now=started)
    with pytest.raises(ValidationError, match="keep needs 5 days of running"):
        services.decide(
            experiment,
            decision="keep",
            by=people["operator"],
            rationale="looks good",
            without_better=True,
            now=started,
        )

    # Five days after the start, on the services' own clock (now):
    services.decide(
        experiment, decision="keep", by=people["operator"], rationale="better", without_better=True
    )
    services.confirm_keep(experiment, by=people["lead"], note="confirmed at the weekly review")

    experiment.candidate_release.refresh_from_db()
    assert experiment.candidate_release.is_baseline
    assert not ConfigRelease.objects.get(pk=baseline.pk).is_baseline
    decision = experiment.decisions.get()
    assert decision.decision == "keep"
    assert decision.scorecard["verdict"] == "before/after only"  # no shadow: no evidence


def test_rollback_is_always_allowed_and_iterate_clones_a_draft(baseline, people):
    experiment = run_through(draft(baseline, people), people)
    services.send_to_review(experiment, by=people["operator"], note="day 1")
    _, follow_up = services.decide(
        experiment, decision="iterate", by=people["operator"], rationale="try 0.2"
    )
    baseline.bot.refresh_from_db()
    assert baseline.bot.current_release == baseline
    assert follow_up.status == "draft" and follow_up.lever == "side_balance_pressure"
    assert follow_up.iterated_from == experiment
    assert [e.action for e in history(follow_up)] == ["created"]


def test_horizon_is_never_below_five_days(baseline, people):
    with pytest.raises(ValidationError, match="at least 5"):
        services.create_experiment(
            bot=baseline.bot,
            name="short",
            lever="side_balance_pressure",
            candidate=candidate(baseline, people, side_balance_pressure="0.3"),
            success_criteria="x",
            by=people["operator"],
            min_horizon_days=3,
        )


def test_no_start_during_a_scaling_hold(baseline, people):
    experiment = run_through(draft(baseline, people), people, until="approve")
    ScalingStep.objects.create(
        bot=baseline.bot,
        param="risk_per_trade_pct",
        from_release=baseline,
        to_release=baseline,
        step_pct=10,
        status="holding",
        proposed_by=people["operator"],
        started_at=timezone.now(),
        hold_until=timezone.now() + datetime.timedelta(days=7),
    )
    with pytest.raises(ValidationError, match="scaling step risk_per_trade_pct"):
        services.start(experiment, by=people["operator"], note="go")


def test_a_queued_experiment_whose_baseline_was_replaced_is_withdrawn_and_redrafted(
    baseline, people
):
    from experiments.plan import draft_from_plan

    a = draft_from_plan(
        bot=baseline.bot,
        key="A",
        lever="side_balance_pressure",
        value="0.3",
        tag="a",
        by=people["operator"],
    )
    approve_release(a.candidate_release, by=people["lead"])
    run_through(a, people, now=timezone.now() - datetime.timedelta(days=6))
    b = draft_from_plan(
        bot=baseline.bot,
        key="B",
        lever="fib_proximity_bps",
        value=15,
        tag="b",
        by=people["operator"],
    )
    approve_release(b.candidate_release, by=people["lead"])
    run_through(b, people, until="approve")
    services.send_to_review(a, by=people["operator"], note="review")
    services.decide(
        a, decision="keep", by=people["operator"], rationale="less one-sided", without_better=True
    )
    services.confirm_keep(a, by=people["lead"], note="weekly review: kept")

    with pytest.raises(ValidationError, match="baseline v1.4.0 is no longer the bot's baseline"):
        services.start(b, by=people["operator"], note="go")
    services.withdraw(b, by=people["operator"], note="A kept: B again on the new baseline")
    again = draft_from_plan(
        bot=baseline.bot,
        key="B",
        lever="fib_proximity_bps",
        value=15,
        tag="b2",
        by=people["operator"],
    )
    assert again.baseline_release == a.candidate_release
    assert again.candidate_release.params["side_balance_pressure"] == "0.3"
    assert again.prerequisite == a
    with pytest.raises(ValidationError, match="cannot withdraw .* it is withdrawn"):
        services.withdraw(b, by=people["operator"], note="twice")
