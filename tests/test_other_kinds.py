"""Fills, decisions, health events and equity go through the same service."""

import datetime

from ingestion import fields
from tests.factories import closed_trade, ingest
from tradeops.models import (
    DecisionCount,
    EquitySnapshot,
    Fill,
    HealthEvent,
    QuarantinedRecord,
    Trade,
)

FILL = {
    "external_id": "F-1",
    "trade_external_id": "T-1",
    "ts": "2026-11-02T10:00:01Z",
    "side": "sell",
    "price": "50010",
    "qty": "0.5",
    "fee": "2.75",
    "liquidity": "taker",
    "expected_price": "50000",
}


def test_fill_before_its_trade_is_an_orphan_until_the_trade_lands(bot):
    assert ingest(bot, "fills", FILL).accepted == 1
    assert Fill.objects.get().trade is None

    ingest(bot, "trades", closed_trade())

    fill = Fill.objects.get()
    assert fill.trade.external_id == "T-1"
    assert fill.slippage_bps == -2  # sold 10 above the expected 50000: 2 bps better


def test_fill_after_its_trade_is_linked_at_once(bot):
    ingest(bot, "trades", closed_trade())
    ingest(bot, "fills", FILL)
    assert Fill.objects.get().trade.external_id == "T-1"


def test_fills_attribute_their_slippage_to_the_trade_in_either_order(bot):
    # Sold 0.5 at 50010 against an expected 50000: 5 better, so -5 (positive = adverse).
    ingest(bot, "fills", FILL)
    ingest(bot, "trades", closed_trade())
    assert Trade.objects.get().realized_slippage == -5

    # A second fill on the already stored trade: bought 0.5 at 49820 against 49800 (+10).
    ingest(
        bot,
        "fills",
        {**FILL, "external_id": "F-2", "side": "buy", "price": "49820", "expected_price": "49800"},
    )
    assert Trade.objects.get().realized_slippage == 5


def test_fills_without_expected_prices_leave_slippage_unknown(bot):
    ingest(bot, "trades", closed_trade())
    ingest(bot, "fills", {k: v for k, v in FILL.items() if k != "expected_price"})
    assert Trade.objects.get().realized_slippage is None


def test_fill_resent_with_a_different_price_is_a_conflict(bot):
    ingest(bot, "fills", FILL)
    result = ingest(bot, "fills", {**FILL, "price": "50020"})
    assert result.quarantined == 1
    assert Fill.objects.get().price == 50010


def test_raw_decision_events_are_counted_per_day(bot):
    events = [
        {"ts": "2026-11-02T00:05:00Z", "symbol": "BTCUSDT", "outcome": "no_signal"},
        {"ts": "2026-11-02T00:10:00Z", "symbol": "BTCUSDT", "outcome": "no_signal"},
        {"ts": "2026-11-02T00:15:00Z", "outcome": "rejected", "reason": "spread"},
        {"ts": "2026-11-03T00:00:00Z", "symbol": "BTCUSDT", "outcome": "signal"},
    ]
    result = ingest(bot, "decisions", *events)

    assert result.accepted == 4
    counts = {
        (row.day.isoformat(), row.outcome, row.reason): row.count
        for row in DecisionCount.objects.all()
    }
    assert counts == {
        ("2026-11-02", "no_signal", ""): 2,
        ("2026-11-02", "rejected", "spread"): 1,
        ("2026-11-03", "signal", ""): 1,
    }


def test_the_same_raw_events_sent_again_are_not_counted_twice(bot):
    events = [{"ts": "2026-11-02T00:05:00Z", "symbol": "ETHUSDT", "outcome": "no_signal"}]
    ingest(bot, "decisions", *events)
    again = ingest(bot, "decisions", *events)
    more = ingest(bot, "decisions", {**events[0], "ts": "2026-11-02T00:10:00Z"})

    assert (again.accepted, again.unchanged) == (0, 1)
    assert more.accepted == 1
    assert DecisionCount.objects.get().count == 2


def test_precounted_decisions_set_the_days_count(bot):
    row = {"day": "2026-11-02", "symbol": "BTCUSDT", "outcome": "no_signal", "count": 250}
    assert ingest(bot, "decisions", row).accepted == 1
    assert ingest(bot, "decisions", row).unchanged == 1
    assert ingest(bot, "decisions", {**row, "count": 300}).updated == 1
    assert DecisionCount.objects.get().count == 300


def test_rejected_decision_needs_a_reason(bot):
    result = ingest(bot, "decisions", {"day": "2026-11-02", "outcome": "rejected", "count": 3})
    assert result.errors[0]["errors"] == {"reason": "required for a rejected decision"}
    assert QuarantinedRecord.objects.get().kind == "decisions"


def test_health_events_and_equity_are_idempotent(bot):
    event = {"ts": "2026-11-02T10:00:00Z", "kind": "state_change", "state": "DEGRADED"}
    assert ingest(bot, "health", event).accepted == 1
    assert ingest(bot, "health", event).unchanged == 1
    assert ingest(bot, "health", {**event, "state": "HALT"}).quarantined == 1
    assert HealthEvent.objects.get().state == "DEGRADED"

    snapshot = {"ts": "2026-11-02T00:00:00Z", "equity": "25000.5"}
    assert ingest(bot, "equity", snapshot).accepted == 1
    assert ingest(bot, "equity", snapshot).unchanged == 1
    assert EquitySnapshot.objects.get().ts == datetime.datetime(2026, 11, 2, tzinfo=datetime.UTC)


def test_state_change_needs_a_state(bot):
    result = ingest(bot, "health", {"ts": "2026-11-02T10:00:00Z", "kind": "state_change"})
    assert result.errors[0]["errors"] == {"state": "required for a state_change event"}


def test_a_value_the_database_refuses_is_quarantined_and_the_rest_lands(bot, monkeypatch):
    # Validation loosened by hand, as if a rule were missing: the database's own refusal still
    # costs only the record, not the batch.
    monkeypatch.setattr(fields, "MAX_DIGITS", 40)
    result = ingest(
        bot,
        "equity",
        {"ts": "2026-11-02T00:00:00Z", "equity": "1000"},
        {"ts": "2026-11-02T00:01:00Z", "equity": "1" + "0" * 24},
    )

    assert (result.accepted, result.quarantined) == (1, 1)
    assert "refused by the database" in result.errors[0]["errors"]["_record"]
    assert EquitySnapshot.objects.get().equity == 1000
    assert QuarantinedRecord.objects.get().raw.endswith('"1000000000000000000000000"}')
