"""Risk scaling (plan section 5): +10% to +20% of one risk param, only after 2 weeks of stable
or improving profitability, never during an experiment, each step held 7 days under the same
rollback triggers."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from experiments.models import ScalingStep
from experiments.releases import freeze_config
from experiments.scaling import (
    approve_scaling_step,
    propose_scaling_step,
    scaled_value,
    scaling_readiness,
)
from experiments.services import start
from experiments.triggers import evaluate_live_changes
from integrity.models import IntegrityIncident
from tests.factories import draft, run_through, two_weeks
from tradeops.audit import history
from tradeops.models import ConfigRelease, HealthEvent, ParamSpec


@pytest.fixture
def profitable(baseline):
    two_weeks(baseline)
    return baseline


def propose(bot, people, step_pct=10, tag="v1.4.1-risk", by="operator"):
    return propose_scaling_step(
        bot=bot,
        param="risk_per_trade_pct",
        step_pct=step_pct,
        tag=tag,
        by=people[by],
        note="two good weeks",
    )


def test_two_profitable_stable_weeks_allow_a_step(profitable, people):
    readiness = scaling_readiness(profitable.bot)
    assert readiness["passed"], readiness["checks"]
    assert [c["check"] for c in readiness["checks"]][:3] == [
        f"week to {timezone.now().date() - datetime.timedelta(days=7)}: 21 closes (at least 20)",
        f"week to {timezone.now().date() - datetime.timedelta(days=7)}: net P&L 140.00 (above 0)",
        f"week to {timezone.now().date() - datetime.timedelta(days=7)}: profit factor 6.0 "
        "(above 1)",
    ]

    step = propose(profitable.bot, people)

    assert step.status == "proposed" and step.step_pct == Decimal("10.00")
    assert step.to_release.params["risk_per_trade_pct"] == "0.55"  # 0.5 + 10%
    assert not step.to_release.is_approved
    assert step.evidence["passed"] and len(step.evidence["snapshots"]) == 2
    assert [e.action for e in history(step)] == ["proposed"]


def test_a_falling_week_is_not_stable(baseline, people):
    two_weeks(baseline, week_before=(12, -4), latest_week=(8, -4))  # P&L/trade 6.67 -> 4
    readiness = scaling_readiness(baseline.bot)
    failed = [c["check"] for c in readiness["checks"] if not c["passed"]]
    assert failed == ["net P&L/trade 4.00 vs 6.67 the week before (at least 80% of it)"]
    with pytest.raises(ValidationError, match="not ready to scale: net P&L/trade 4.00"):
        propose(baseline.bot, people)


def test_a_losing_or_thin_week_fails_with_its_figures(baseline, people):
    two_weeks(baseline, latest_week=(1, -4))
    failed = [c["check"] for c in scaling_readiness(baseline.bot)["checks"] if not c["passed"]]
    today = timezone.now().date()
    assert f"week to {today}: net P&L -14.00 (above 0)" in failed
    assert f"week to {today}: profit factor 0.5 (above 1)" in failed


def test_an_open_critical_incident_blocks_scaling(profitable, people):
    IntegrityIncident.objects.create(
        bot=profitable.bot,
        kind="malformed_trade",
        severity="critical",
        title="x",
        opened_at=timezone.now(),
        last_seen_at=timezone.now(),
    )
    with pytest.raises(ValidationError, match="1 open critical integrity incident"):
        propose(profitable.bot, people)


@pytest.mark.parametrize("step_pct", [5, 25, Decimal("9.99"), Decimal("20.01")])
def test_a_step_is_10_to_20_percent(profitable, people, step_pct):
    with pytest.raises(ValidationError, match=r"\+10% to \+20%; this one is \+"):
        propose(profitable.bot, people, step_pct=step_pct)
    assert not ScalingStep.objects.exists()


def test_the_real_step_is_checked_after_rounding_a_whole_number():
    spec = ParamSpec(key="max_positions", value_type="int")
    assert scaled_value(spec, 5, 15) == (6, Decimal("20.00"))
    assert scaled_value(spec, 3, 10) == (3, Decimal("0.00"))  # refused by check_step_size
    assert scaled_value(ParamSpec(key="r", value_type="decimal"), "0.35", 15) == (
        "0.4025",
        Decimal("15.00"),
    )


def test_only_risk_params_scale(profitable, people):
    with pytest.raises(ValidationError, match="fib_proximity_bps is not a risk param"):
        propose_scaling_step(
            bot=profitable.bot,
            param="fib_proximity_bps",
            step_pct=10,
            tag="x",
            by=people["operator"],
            note="n",
        )


def test_no_scaling_during_an_experiment(profitable, people):
    run_through(draft(profitable, people), people)
    with pytest.raises(ValidationError, match="A side_balance_pressure is running: cannot scale"):
        propose(profitable.bot, people)


def test_no_scaling_during_a_freeze(profitable, people):
    freeze_config(profitable.bot, days=3, reason="stabilize", by=people["lead"])
    with pytest.raises(ValidationError, match="stabilization freeze"):
        propose(profitable.bot, people)


def test_approval_is_four_eyes_and_team_lead_only(profitable, people):
    step = propose(profitable.bot, people, by="lead")
    with pytest.raises(PermissionDenied):
        approve_scaling_step(step, by=people["operator"], note="me")
    with pytest.raises(ValidationError, match="four-eyes: lena proposed"):
        approve_scaling_step(step, by=people["lead"], note="self")
    approve_scaling_step(step, by=people["lead2"], note="ok")


def test_an_approved_step_becomes_the_baseline_and_holds_7_days(profitable, people):
    step = approve_scaling_step(propose(profitable.bot, people), by=people["lead"], note="go")

    bot = profitable.bot
    bot.refresh_from_db()
    assert step.status == "holding"
    assert step.hold_until - step.started_at == datetime.timedelta(days=7)
    assert bot.current_release == step.to_release
    assert ConfigRelease.objects.get(bot=bot, is_baseline=True) == step.to_release
    assert step.triggers["daily_loss_pct"] == -3.0 and "baseline_avg_loss" in step.triggers

    with pytest.raises(ValidationError, match="each step holds 7 days, the next may start"):
        propose(bot, people, tag="v1.4.2-risk")
    experiment = run_through(draft(step.to_release, people), people, until="approve")
    with pytest.raises(ValidationError, match="scaling step risk_per_trade_pct"):
        start(experiment, by=people["operator"], note="go")


def test_the_hold_ends_by_completing_the_step(profitable, people):
    step = approve_scaling_step(propose(profitable.bot, people), by=people["lead"], note="go")
    assert evaluate_live_changes() == [(step, [])]
    assert ScalingStep.objects.get(pk=step.pk).status == "holding"

    evaluate_live_changes(step.started_at + datetime.timedelta(days=8))  # the job, 8 days on

    step.refresh_from_db()
    assert step.status == "completed" and step.ended_at is not None
    assert [e.action for e in history(step)] == ["proposed", "approve", "complete"]


def test_a_rollback_trigger_rolls_the_step_back(profitable, people):
    step = approve_scaling_step(propose(profitable.bot, people), by=people["lead"], note="go")
    for seconds in (1, 2, 3):
        HealthEvent.objects.create(
            bot=profitable.bot,
            ts=step.started_at + datetime.timedelta(seconds=seconds),
            kind="kill_switch",
        )

    (subject, fired), *_ = evaluate_live_changes(step.started_at + datetime.timedelta(minutes=1))

    step.refresh_from_db()
    bot = profitable.bot
    bot.refresh_from_db()
    assert step.status == "rolled_back"
    assert fired[0]["trigger"] == "safety_events"
    assert step.trigger_evidence["fired"][0]["events"][0]["kind"] == "kill_switch"
    assert bot.current_release == profitable
    assert ConfigRelease.objects.get(bot=bot, is_baseline=True) == profitable
    incident = IntegrityIncident.objects.get(kind="rollback_trigger")
    assert incident.severity == "critical" and "rolled back" in incident.title
    assert history(step).last().actor_name == "rollback trigger"


def test_a_halt_rolls_the_step_back_at_once(profitable, people):
    step = approve_scaling_step(propose(profitable.bot, people), by=people["lead"], note="go")
    HealthEvent.objects.create(
        bot=profitable.bot,
        ts=step.started_at + datetime.timedelta(seconds=1),
        kind="state_change",
        state="HALT",
    )

    (subject, fired), *_ = evaluate_live_changes(step.started_at + datetime.timedelta(minutes=1))

    step.refresh_from_db()
    assert step.status == "rolled_back"
    assert [f["trigger"] for f in fired] == ["halt"]
    assert step.trigger_evidence["fired"][0]["events"][0]["state"] == "HALT"
