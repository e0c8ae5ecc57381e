"""Each hard rollback trigger fires on crafted data and stays quiet just below its threshold;
a firing trigger stops the experiment, puts the baseline back and raises a critical incident."""

import datetime
from decimal import Decimal

import django_rq
import pytest

from experiments.jobs import evaluate_triggers_job
from experiments.triggers import evaluate_rollback_triggers
from integrity.models import IntegrityIncident
from tests.factories import draft, midnight, run_through, trade
from tests.queues import run_workers_burst
from tradeops.audit import history
from tradeops.models import EquitySnapshot, HealthEvent

UTC = datetime.UTC


@pytest.fixture
def running(baseline, people):
    # The baseline lost 10 per losing trade over the last 30 days (frozen at approval).
    for n in range(4):
        trade(
            baseline.bot,
            f"base-{n}",
            midnight(10) + datetime.timedelta(hours=n),
            -10,
            release=baseline,
        )
    return run_through(draft(baseline, people), people, now=midnight(2))


def equity(bot, *values):
    for days_ago, value in zip((2, 1, 0), values, strict=False):
        EquitySnapshot.objects.create(bot=bot, ts=midnight(days_ago), equity=Decimal(value))


def test_baseline_avg_loss_is_frozen_at_approval(running):
    assert running.triggers["baseline_avg_loss"] == "-10.00000000"


@pytest.mark.parametrize(
    "values, fires",
    [
        (("10000", "9690", "9389.61"), True),  # -3.1%, -3.1%
        (("10000", "9710", "9428.41"), False),  # -2.9%, -2.9%: just inside
        (("10000", "9690", "9786.90"), False),  # -3.1% then +1%: not consecutive
    ],
    ids=["two days worse than -3%", "two days at -2.9%", "one bad day"],
)
def test_two_consecutive_days_worse_than_minus_3_percent(running, values, fires):
    equity(running.bot, *values)
    fired = evaluate_rollback_triggers(running)
    assert bool(fired) is fires
    if fires:
        assert fired[0]["trigger"] == "daily_loss"
        assert [d["change_pct"] for d in fired[0]["days"]] == [-3.1, -3.1]


@pytest.mark.parametrize("loss, fires", [("-14.1", True), ("-13.9", False)])
def test_avg_loss_more_than_40_percent_worse_than_baseline(running, loss, fires):
    for n in range(3):
        trade(
            running.bot,
            f"test-{n}",
            midnight(1) + datetime.timedelta(hours=n),
            loss,
            release=running.candidate_release,
        )
    fired = evaluate_rollback_triggers(running)
    assert bool(fired) is fires
    if fires:
        assert fired[0]["trigger"] == "avg_loss" and fired[0]["deterioration"] == 0.41


@pytest.mark.parametrize("events, fires", [(2, False), (3, True)])
def test_repeated_kill_or_degraded_events(running, events, fires):
    for n in range(events):
        HealthEvent.objects.create(
            bot=running.bot,
            ts=midnight(1) + datetime.timedelta(hours=n),
            kind="degraded" if n % 2 else "kill_switch",
        )
    assert bool(evaluate_rollback_triggers(running)) is fires


def test_firing_stops_the_experiment_restores_the_baseline_and_raises_an_incident(running):
    equity(running.bot, "10000", "9000", "8000")

    evaluate_rollback_triggers(running)

    running.refresh_from_db()
    running.bot.refresh_from_db()
    assert running.status == "stopped"
    assert running.bot.current_release == running.baseline_release
    assert running.trigger_evidence["fired"][0]["trigger"] == "daily_loss"
    incident = IntegrityIncident.objects.get(kind="rollback_trigger")
    assert incident.severity == "critical" and "Rollback trigger stopped" in incident.title
    assert history(running).last().action == "stop"
    assert evaluate_rollback_triggers(running) == []  # stopped experiments are left alone


@pytest.mark.django_db(transaction=True)
def test_real_worker_stops_a_crafted_losing_experiment(bot, people, baseline):
    experiment = run_through(draft(baseline, people), people, now=midnight(2))
    equity(bot, "10000", "9500", "9000")
    queue = django_rq.get_queue("default")
    queue.empty()
    queue.enqueue(evaluate_triggers_job)

    run_workers_burst()

    experiment.refresh_from_db()
    assert experiment.status == "stopped"


def health(bot, hours, kind="state_change", state=""):
    """Health events an hour apart from yesterday's midnight, as the bot reports them."""
    for hour, event_state in zip(hours, state.split(), strict=True):
        HealthEvent.objects.create(
            bot=bot,
            ts=midnight(1) + datetime.timedelta(hours=hour),
            kind=kind,
            state="" if event_state == "-" else event_state,
        )


@pytest.mark.parametrize(
    "states, fires",
    [
        ("DEGRADED NORMAL DEGRADED NORMAL DEGRADED", True),  # three entries
        ("DEGRADED NORMAL DEGRADED", False),  # two entries
        ("DEGRADED DEGRADED DEGRADED DEGRADED", False),  # one entry, repeated
    ],
    ids=["three entries", "two entries", "a repeated state counts once"],
)
def test_entries_into_degraded_by_state_change_count(running, states, fires):
    health(running.bot, range(len(states.split())), state=states)

    fired = evaluate_rollback_triggers(running)

    assert bool(fired) is fires
    if fires:
        assert fired[0]["trigger"] == "safety_events"
        assert [e["state"] for e in fired[0]["events"]] == ["DEGRADED"] * 3


def test_a_state_in_force_at_the_start_is_not_entered_again_by_repeating_it(running):
    HealthEvent.objects.create(
        bot=running.bot, ts=midnight(3), kind="state_change", state="DEGRADED"
    )
    health(running.bot, [1, 2], state="DEGRADED DEGRADED")
    health(running.bot, [3, 4], kind="kill_switch", state="- -")

    assert evaluate_rollback_triggers(running) == []


def test_safety_triggers_count_with_kill_switches_and_entries(running):
    health(running.bot, [1, 2], kind="safety_trigger", state="- -")
    health(running.bot, [3], state="DEGRADED")

    fired = evaluate_rollback_triggers(running)

    assert [e["kind"] for e in fired[0]["events"]] == [
        "safety_trigger",
        "safety_trigger",
        "state_change",
    ]


def test_a_halt_stops_the_experiment_at_once_with_its_evidence(running):
    health(running.bot, [1, 2], state="HALT NORMAL")
    running.bot.health_events.filter(state="HALT").update(detail="margin ratio 92%")

    fired = evaluate_rollback_triggers(running, now=midnight(1) + datetime.timedelta(hours=3))

    running.refresh_from_db()
    running.bot.refresh_from_db()
    assert running.status == "stopped"
    assert running.bot.current_release == running.baseline_release
    halt = running.trigger_evidence["fired"][0]
    assert halt == fired[0]
    assert halt["trigger"] == "halt"
    assert halt["events"] == [
        {
            "ts": (midnight(1) + datetime.timedelta(hours=1)).isoformat(),
            "kind": "state_change",
            "state": "HALT",
            "detail": "margin ratio 92%",
        }
    ]
    assert "HALT" in IntegrityIncident.objects.get(kind="rollback_trigger").title


def test_a_halt_before_the_start_does_not_stop_it(running):
    HealthEvent.objects.create(bot=running.bot, ts=midnight(3), kind="state_change", state="HALT")
    health(running.bot, [1], state="NORMAL")

    assert evaluate_rollback_triggers(running) == []


def test_reports_of_the_same_moment_are_one_occurrence(running):
    for hour in (1, 3):  # two episodes, each told as a degraded event and its state change
        health(running.bot, [hour], kind="degraded", state="-")
        health(running.bot, [hour, hour + 1], state="DEGRADED NORMAL")

    assert evaluate_rollback_triggers(running) == []


def test_a_kill_switch_told_with_its_halt_is_the_halt(running):
    health(running.bot, [1], kind="kill_switch", state="-")
    health(running.bot, [1], state="HALT")

    fired = evaluate_rollback_triggers(running)

    assert fired[0]["trigger"] == "halt"
    assert fired[0]["events"][0]["state"] == "HALT"
