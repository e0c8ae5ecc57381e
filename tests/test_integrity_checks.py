"""Each integrity check fires when it should, stays quiet when it should not, and its incident
resolves itself once a later run no longer finds the condition."""

import datetime
from decimal import Decimal

import django_rq
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrity.cleanup import plan_cleanup
from integrity.jobs import DAILY_CHECKS, run_daily_integrity_checks
from integrity.models import AlertChannel, AlertDelivery, IntegrityCheckRun, IntegrityIncident
from integrity.services import (
    acknowledge_incident,
    open_or_bump_incident,
    resolve_incident,
    run_integrity_checks,
)
from tests.factories import closed_trade, ingest, log_in_as, trade
from tests.queues import run_workers_burst
from tradeops.models import ConfigRelease, Fill, HealthEvent, JobRun, Trade
from tradeops.roles import OPERATOR, VIEWER

Kind = IntegrityIncident.Kind


def ago(**delta):
    return timezone.now() - datetime.timedelta(**delta)


def iso(moment):
    return moment.isoformat()


def check(bot):
    return run_integrity_checks(bot, triggered_by="test")


def open_kinds(bot):
    return set(
        IntegrityIncident.objects.filter(bot=bot)
        .exclude(status="resolved")
        .values_list("kind", flat=True)
    )


def recent_close(n, **overrides):
    closed = ago(hours=2)
    return closed_trade(
        external_id=f"R-{n}",
        opened_at=iso(closed - datetime.timedelta(hours=1)),
        closed_at=iso(closed),
        **overrides,
    )


@pytest.fixture
def released(bot):
    ConfigRelease.objects.create(bot=bot, version=1, tag="v1.4.0", approved_at=ago(days=30))
    return bot


def test_blocked_malformed_trade_is_a_violation_until_a_run_finds_nothing_new(released):
    ingest(released, "trades", recent_close(1, qty="0"))

    first = check(released)
    assert first.violations == 1
    assert Kind.BLOCKED_MALFORMED_TRADE in open_kinds(released)

    second = check(released)  # nothing quarantined since the first run
    assert second.violations == 0
    incident = IntegrityIncident.objects.get(kind=Kind.BLOCKED_MALFORMED_TRADE)
    assert incident.status == "resolved" and incident.resolved_by is None


def test_stored_trade_failing_todays_rules_is_found(released):
    ingest(released, "trades", recent_close(1))
    Trade.objects.update(net_pnl=Decimal("1"))  # a legacy row: net no longer gross - costs

    run = check(released)
    assert Kind.MALFORMED_STORED_TRADE in open_kinds(released)
    found = run.results[0]["violations"][0]
    assert found["detail"]["trade_ids"] == ["R-1"]

    Trade.objects.update(net_pnl=Decimal("94.25"))
    check(released)
    assert Kind.MALFORMED_STORED_TRADE not in open_kinds(released)


# A stored trade is held to the rule ingestion applies, by the check and by the cleanup alike.
NOW = datetime.datetime(2026, 11, 10, 12, tzinfo=datetime.UTC)
MINUTE = datetime.timedelta(minutes=1)
STORED_BROKEN = [
    ("P&L inconsistent", {"net_pnl": Decimal("9")}, "net_pnl"),
    ("closed past the clock-skew allowance", {"closed_at": NOW + 6 * MINUTE}, "closed_at"),
    (
        "opened past the allowance",
        {"opened_at": NOW + 6 * MINUTE, "closed_at": NOW + 7 * MINUTE},
        "opened_at",
    ),
    ("blank symbol", {"symbol": " "}, "symbol"),
]


def stored(bot, external_id, **changes):
    """A stored closed trade (net 10 = gross, no costs) with `changes` made behind ingestion."""
    row = trade(bot, external_id, NOW - 2 * MINUTE, "10")
    Trade.objects.filter(pk=row.pk).update(**changes)


def stored_trade_finding(bot):
    run = run_integrity_checks(bot, triggered_by="test", now=NOW)
    found = [
        violation
        for result in run.results
        for violation in result["violations"]
        if violation["kind"] == Kind.MALFORMED_STORED_TRADE
    ]
    return found[0]["detail"]["trade_ids"] if found else []


def planned(bot):
    return {
        row["external_id"]: row["reasons"] for row in plan_cleanup(bot, by="otto", now=NOW).rows
    }


@pytest.mark.parametrize(
    "changes, field", [case[1:] for case in STORED_BROKEN], ids=[c[0] for c in STORED_BROKEN]
)
def test_a_stored_trade_todays_rules_refuse_is_found_by_the_check_and_the_cleanup(
    bot, changes, field
):
    stored(bot, "GOOD")
    stored(bot, "BAD", **changes)

    assert stored_trade_finding(bot) == ["BAD"]
    reasons = planned(bot)
    assert list(reasons) == ["BAD"]
    assert reasons["BAD"][0].startswith(f"{field}: ")


def test_a_trade_stamped_within_the_clock_skew_allowance_is_not_flagged(bot):
    stored(bot, "SKEWED", closed_at=NOW + 4 * MINUTE)
    stored(bot, "BAD", closed_at=NOW + 4 * MINUTE, net_pnl=Decimal("9"))

    assert stored_trade_finding(bot) == ["BAD"]
    reasons = planned(bot)
    assert list(reasons) == ["BAD"]
    assert len(reasons["BAD"]) == 1 and reasons["BAD"][0].startswith("net_pnl: ")


def test_a_trade_ingestion_accepts_is_not_flagged(bot):
    # 0.5 off on a P&L of 10^12 is within ingestion's tolerance for float arithmetic.
    big = {"gross_pnl": "1000000000000", "fees": "0", "funding": "0", "net_pnl": "999999999999.5"}
    assert ingest(bot, "trades", closed_trade(**big)).accepted == 1

    assert stored_trade_finding(bot) == []
    assert planned(bot) == {}


@pytest.mark.parametrize("unknown, fires", [(2, False), (3, True)])
def test_unknown_exit_reasons_above_two_percent_of_closes(released, unknown, fires):
    closes = [recent_close(n) for n in range(100 - unknown)]
    closes += [recent_close(f"u{n}", exit_reason="") for n in range(unknown)]
    ingest(released, "trades", *closes)

    check(released)

    assert (Kind.UNKNOWN_EXIT_RATE in open_kinds(released)) is fires
    if fires:
        incident = IntegrityIncident.objects.get(kind=Kind.UNKNOWN_EXIT_RATE)
        assert incident.detail == {"unknown": 3, "closes": 100, "share": 0.03}
        assert incident.severity == "critical"


def test_unknown_exits_older_than_24h_do_not_count(released):
    old = ago(hours=30)
    ingest(
        released,
        "trades",
        closed_trade(
            opened_at=iso(old - datetime.timedelta(hours=1)), closed_at=iso(old), exit_reason=""
        ),
    )
    check(released)
    assert Kind.UNKNOWN_EXIT_RATE not in open_kinds(released)


FILL = {
    "trade_external_id": "R-1",
    "side": "sell",
    "price": "50000",
    "qty": "0.5",
    "fee": "1",
    "liquidity": "taker",
}


def test_orphan_fill_fires_after_its_grace_time_and_resolves_when_the_trade_lands(released):
    ingest(released, "fills", {**FILL, "external_id": "F-new", "ts": iso(ago(minutes=10))})
    check(released)
    assert Kind.ORPHAN_FILLS not in open_kinds(released)

    ingest(released, "fills", {**FILL, "external_id": "F-old", "ts": iso(ago(hours=2))})
    check(released)
    assert Kind.ORPHAN_FILLS in open_kinds(released)

    ingest(released, "trades", recent_close(1))
    check(released)
    assert Kind.ORPHAN_FILLS not in open_kinds(released)
    assert not Fill.objects.filter(trade__isnull=True).exists()


def test_trades_without_a_known_release(released):
    ingest(released, "trades", recent_close(1, release="v9.9.9"))
    run = check(released)
    assert Kind.TRADES_WITHOUT_RELEASE in open_kinds(released)
    assert run.results[2]["violations"][0]["detail"]["reported_tags"] == ["v9.9.9"]


@pytest.mark.parametrize("hours, fires", [(47, False), (49, True)])
def test_open_trade_past_its_max_holding_time(released, hours, fires):
    opened = ago(hours=hours)
    record = {
        key: value
        for key, value in closed_trade(opened_at=iso(opened)).items()
        if key not in ("closed_at", "exit_price", "gross_pnl", "fees", "funding", "net_pnl")
    }
    ingest(released, "trades", {**record, "status": "open", "exit_reason": ""})
    check(released)
    assert (Kind.STALE_OPEN_TRADES in open_kinds(released)) is fires


@pytest.mark.parametrize("exit_qty, fires", [("0.5", False), ("0.3", True)])
def test_closed_trade_whose_fills_do_not_add_up(released, exit_qty, fires):
    ingest(released, "trades", recent_close(1))  # short 0.5: entry sells, exit buys
    ts = iso(ago(hours=3))
    ingest(
        released,
        "fills",
        {**FILL, "external_id": "F-in", "ts": ts},
        {**FILL, "external_id": "F-out", "ts": ts, "side": "buy", "qty": exit_qty},
    )
    check(released)
    assert (Kind.FILL_QTY_MISMATCH in open_kinds(released)) is fires


@pytest.mark.parametrize("events, fires", [(2, False), (3, True)])
def test_repeated_kill_or_degraded_events(released, events, fires):
    kinds = ["kill_switch", "degraded", "safety_trigger"]
    ingest(
        released,
        "health",
        *[{"ts": iso(ago(hours=n + 1)), "kind": kinds[n]} for n in range(events)],
    )
    check(released)
    assert (Kind.SAFETY_EVENTS in open_kinds(released)) is fires


def test_check_run_records_every_check(released):
    run = check(released)
    assert [r["check"] for r in run.results] == [
        "new_malformed_rows",
        "unknown_exit_rate",
        "orphan_anomalies",
        "safety_events",
    ]
    assert run.violations == 0


def test_command_exits_non_zero_while_a_critical_incident_is_open(released, capsys):
    call_command("run_integrity_checks", "--bot", released.slug)
    assert "new_malformed_rows   ok" in capsys.readouterr().out

    ingest(released, "trades", recent_close(1, side="sideways"))
    with pytest.raises(SystemExit) as exit_info:
        call_command("run_integrity_checks", "--format", "json")
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert '"violations": 1' in captured.out
    assert "Blocked malformed trade persistence" in captured.err


def test_a_bump_counts_on_an_acknowledged_incident_and_opens_a_new_one_after_resolving(bot):
    AlertChannel.objects.create(name="ops", kind="apprise", target="json://ops.example.com/hook")
    conflict = {"bot": bot, "kind": Kind.TRADE_CONFLICT, "severity": "critical", "key": "T-1"}
    first = open_or_bump_incident(**conflict, title="Conflict")
    lena = log_in_as(Client(), "lena", OPERATOR)
    acknowledge_incident(first, user=lena, note="the bot resends T-1; checking with the dev")

    bumped = open_or_bump_incident(**conflict, title="Conflict again", occurrences=2)

    assert bumped.pk == first.pk
    assert (bumped.status, bumped.acknowledged_by, bumped.occurrences, bumped.title) == (
        "acknowledged",
        lena,
        3,
        "Conflict again",
    )
    assert bumped.last_seen_at >= first.last_seen_at
    assert AlertDelivery.objects.filter(event="opened").count() == 1  # seen: no new notice

    resolve_incident(bumped)
    reopened = open_or_bump_incident(**conflict, title="Conflict once more")

    assert reopened.pk != first.pk
    assert (reopened.status, reopened.occurrences, reopened.acknowledged_by) == ("open", 1, None)
    first.refresh_from_db()
    assert (first.status, first.occurrences) == ("resolved", 3)
    assert AlertDelivery.objects.filter(event="opened", incident=reopened).count() == 1


def test_operator_acknowledges_and_resolves_in_the_admin(client, released):
    ingest(released, "trades", recent_close(1, qty="0"))
    incident = IntegrityIncident.objects.get()
    operator = log_in_as(client, "otto", OPERATOR)
    url = reverse("admin:integrity_integrityincident_changelist")

    # The note page first; acknowledged once confirmed with a note.
    client.post(url, {"action": "acknowledge", "_selected_action": [incident.pk]})
    incident.refresh_from_db()
    assert incident.status == "open"
    client.post(
        url,
        {
            "action": "acknowledge",
            "_selected_action": [incident.pk],
            "confirm": "yes",
            "note": "ok",
        },
    )
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == ("acknowledged", operator)

    client.post(url, {"action": "resolve", "_selected_action": [incident.pk]})
    incident.refresh_from_db()
    assert (incident.status, incident.resolved_by) == ("resolved", operator)


def test_viewer_cannot_acknowledge(client, released):
    ingest(released, "trades", recent_close(1, qty="0"))
    incident = IntegrityIncident.objects.get()
    log_in_as(client, "vera", VIEWER)
    client.post(
        reverse("admin:integrity_integrityincident_changelist"),
        {"action": "acknowledge", "_selected_action": [incident.pk], "confirm": "yes", "note": "x"},
    )
    incident.refresh_from_db()
    assert incident.status == "open"


@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_the_daily_checks(bot):
    ingest(bot, "trades", recent_close(1, qty="0"))
    queue = django_rq.get_queue("default")
    queue.empty()
    job = queue.enqueue(run_daily_integrity_checks)

    run_workers_burst()

    assert job.get_status(refresh=True) == "finished"
    day = timezone.now().date().isoformat()
    assert JobRun.objects.get(name=DAILY_CHECKS, key=day).outcome == "succeeded"
    assert JobRun.objects.get(name=DAILY_CHECKS, key=f"{day}:{bot.pk}").outcome == "succeeded"
    run = IntegrityCheckRun.objects.get(bot=bot)
    assert run.triggered_by == "daily job" and run.violations >= 1
    assert HealthEvent.objects.count() == 0


def test_entries_into_degraded_or_halt_count_as_safety_events(released):
    states = ["DEGRADED", "NORMAL", "DEGRADED", "DEGRADED", "NORMAL", "HALT"]
    ingest(
        released,
        "health",
        *[
            {"ts": iso(ago(hours=10 - n)), "kind": "state_change", "state": state}
            for n, state in enumerate(states)
        ],
    )

    check(released)

    incident = IntegrityIncident.objects.get(bot=released, kind=Kind.SAFETY_EVENTS)
    assert incident.detail["by_kind"] == {"entered DEGRADED": 2, "entered HALT": 1}
