"""Every malformed-trade rule blocks persistence: the trade is quarantined, never stored."""

import pytest

from integrity.models import IntegrityIncident
from tests.factories import closed_trade, ingest, open_trade
from tradeops.models import QuarantinedRecord, Trade

MALFORMED = [
    ("missing external_id", {"external_id": None}, "external_id", "required"),
    ("missing symbol", {"symbol": None}, "symbol", "required"),
    ("empty symbol", {"symbol": "  "}, "symbol", "must not be empty"),
    ("unknown side", {"side": "buy"}, "side", "must be one of long, short"),
    ("unknown status", {"status": "pending"}, "status", "must be one of open, closed"),
    ("closed without closed_at", {"closed_at": None}, "closed_at", "required for a closed trade"),
    ("closed without exit price", {"exit_price": None}, "exit_price", "required for a closed"),
    ("closed without net_pnl", {"net_pnl": None}, "net_pnl", "required for a closed trade"),
    ("closed without fees", {"fees": None}, "fees", "required for a closed trade"),
    ("closed_at before opened_at", {"closed_at": "2026-11-02T09:59:59Z"}, "closed_at", "before"),
    ("zero qty", {"qty": "0"}, "qty", "greater than 0"),
    ("negative qty", {"qty": -1}, "qty", "greater than 0"),
    ("zero entry price", {"entry_price": 0}, "entry_price", "greater than 0"),
    ("negative exit price", {"exit_price": "-5"}, "exit_price", "greater than 0"),
    ("zero leverage", {"leverage": 0}, "leverage", "greater than 0"),
    ("net_pnl inconsistent", {"net_pnl": "95"}, "net_pnl", "inconsistent"),
    ("naive timestamp", {"opened_at": "2026-11-02T10:00:00"}, "opened_at", "no UTC offset"),
    ("unix timestamp", {"opened_at": 1762077600}, "opened_at", "ISO 8601"),
    ("garbage timestamp", {"closed_at": "yesterday"}, "closed_at", "not an ISO 8601"),
    ("future timestamp", {"closed_at": "2099-01-01T00:00:00Z"}, "closed_at", "future"),
    ("qty not a number", {"qty": "lots"}, "qty", "not a decimal"),
    ("qty is NaN", {"qty": "NaN"}, "qty", "not a finite"),
    ("boolean price", {"entry_price": True}, "entry_price", "expected a number"),
    ("qty rounds to 0", {"qty": "0.0000000000004"}, "qty", "greater than 0"),
    ("unknown field", {"colour": "red"}, "colour", "unknown field"),
]


@pytest.mark.parametrize(
    "overrides, field, message", [case[1:] for case in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_trade_is_quarantined_not_stored(bot, overrides, field, message):
    result = ingest(bot, "trades", closed_trade(**overrides))

    assert (result.accepted, result.quarantined) == (0, 1)
    assert message in result.errors[0]["errors"][field]
    assert not Trade.objects.exists()
    quarantined = QuarantinedRecord.objects.get()
    assert quarantined.reason == QuarantinedRecord.Reason.MALFORMED
    assert message in quarantined.errors[field]


def test_open_trade_with_exit_fields_is_malformed(bot):
    record = open_trade()
    record["exit_price"] = "49000"
    result = ingest(bot, "trades", record)
    assert result.errors[0]["errors"] == {"exit_price": "must be empty for an open trade"}


def test_every_error_of_a_record_is_reported_at_once(bot):
    result = ingest(bot, "trades", closed_trade(side="buy", qty="0", net_pnl="1"))
    assert set(result.errors[0]["errors"]) == {"side", "qty", "net_pnl"}


def test_blocked_malformed_trade_opens_a_critical_incident_then_bumps_it(bot):
    ingest(bot, "trades", closed_trade(qty="0"))
    ingest(bot, "trades", closed_trade(external_id="T-2", side="sideways"))

    incident = IntegrityIncident.objects.get()
    assert incident.kind == IntegrityIncident.Kind.BLOCKED_MALFORMED_TRADE
    assert incident.severity == IntegrityIncident.Severity.CRITICAL
    assert incident.title == "Blocked malformed trade persistence"
    assert incident.occurrences == 2


def test_valid_closed_trade_is_stored_with_exact_decimals(bot):
    result = ingest(bot, "trades", closed_trade(qty="0.123456789012", fees=5.5))

    assert result.accepted == 1
    trade = Trade.objects.get()
    assert str(trade.qty.normalize()) == "0.123456789012"
    assert trade.net_pnl == trade.gross_pnl - trade.fees - trade.funding
    assert trade.opened_at.utcoffset().total_seconds() == 0


def test_offsets_are_converted_to_utc(bot):
    ingest(bot, "trades", closed_trade(opened_at="2026-11-02T12:00:00+02:00"))
    assert Trade.objects.get().opened_at.isoformat() == "2026-11-02T10:00:00+00:00"


def test_empty_exit_reason_is_not_malformed(bot):
    """An empty exit reason is an *unknown* exit reason (a KPI), not a blocked trade."""
    result = ingest(bot, "trades", closed_trade(exit_reason=""))
    assert result.accepted == 1
