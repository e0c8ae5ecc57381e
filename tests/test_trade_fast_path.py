"""The hot paths give what the slow paths give: the trade fast path (ingestion.fastpath) never
accepts what validate_record refuses nor changes a value, and msgspec's reading of an NDJSON line
is json's."""

from decimal import Decimal

import pytest

from ingestion import parsing
from ingestion.fastpath import clean_trade
from ingestion.parsing import parse_ndjson
from ingestion.records import latest_allowed_timestamp, validate_record
from tradeops.models import IngestKind

CLOSED = {
    "external_id": "T-1",
    "symbol": "BTCUSDT",
    "side": "short",
    "status": "closed",
    "opened_at": "2026-11-20T10:00:00Z",
    "closed_at": "2026-11-20T12:30:00+02:00",
    "qty": "0.5",
    "entry_price": "50000",
    "exit_price": "49800",
    "leverage": "5",
    "gross_pnl": "100",
    "fees": "5.5",
    "funding": "0.25",
    "net_pnl": "94.25",
    "exit_reason": "take_profit",
    "release": "v1.4.0",
    "est_fees": "1.5",
    "est_funding": "0.1",
    "est_slippage_bps": "1.2",
}
OPEN = {
    "external_id": "T-2",
    "symbol": "ETHUSDT",
    "side": "long",
    "status": "open",
    "opened_at": "2026-11-20T10:00:00+00:00",
    "qty": "2",
    "entry_price": "3000.25",
}


def changed(base, **values):
    record = {**base, **values}
    return {name: value for name, value in record.items() if value is not ...}


TRADES = [
    CLOSED,
    OPEN,
    changed(OPEN, leverage=None, exit_reason=None, release=None),
    changed(OPEN, leverage=...),
    # JSON numbers, as msgspec and json decode them.
    changed(CLOSED, qty=Decimal("0.5"), entry_price=50000, leverage=5, fees=Decimal("5.50")),
    changed(CLOSED, gross_pnl=Decimal("1E+2"), net_pnl=Decimal("94.250000000000")),
    changed(CLOSED, qty=Decimal("0.1234567890123"), fees=Decimal("5.5000000000000")),
    changed(CLOSED, qty=Decimal("NaN")),
    changed(CLOSED, qty=Decimal("Infinity")),
    changed(CLOSED, qty=Decimal("1E+18"), entry_price=10**18, exit_price=10**17),
    changed(CLOSED, qty=True),
    changed(CLOSED, qty=0.5),
    changed(CLOSED, qty=[1]),
    changed(CLOSED, side=["short"]),
    changed(CLOSED, side={"a": 1}),
    # Decimal strings, plain or not.
    changed(CLOSED, qty="0.000000000001"),
    changed(CLOSED, qty="0.0000000000001"),
    changed(CLOSED, qty=" 0.5"),
    changed(CLOSED, qty="1e-2"),
    changed(CLOSED, qty="1_000"),
    changed(CLOSED, qty="\u0661"),
    changed(CLOSED, qty="-0.5"),
    changed(CLOSED, qty="0"),
    changed(CLOSED, qty="+1"),
    changed(CLOSED, qty="999999999999999999.999999999999"),
    changed(CLOSED, qty="9999999999999999999"),
    changed(CLOSED, gross_pnl="-0", fees="0", funding="0", net_pnl="0"),
    changed(CLOSED, leverage="0"),
    changed(CLOSED, net_pnl="94.250001"),
    changed(CLOSED, net_pnl="94.2500011"),
    changed(CLOSED, net_pnl="95"),
    # Text.
    changed(CLOSED, external_id=" T-1 ", symbol="\tBTCUSDT\n"),
    changed(CLOSED, external_id="   "),
    changed(CLOSED, external_id=""),
    changed(CLOSED, external_id="x" * 128),
    changed(CLOSED, external_id="x" * 129),
    changed(CLOSED, symbol="x" * 33),
    changed(CLOSED, symbol="BTC\x00USDT"),
    changed(CLOSED, symbol="BTC\x1fUSDT"),
    changed(CLOSED, symbol="BTCÜSDT"),
    changed(CLOSED, symbol="\ud800"),
    changed(CLOSED, symbol=7),
    changed(CLOSED, exit_reason=""),
    changed(CLOSED, exit_reason="  "),
    changed(CLOSED, release="r" * 101),
    changed(CLOSED, side="SHORT"),
    changed(CLOSED, status="cancelled"),
    # Times and the closed/open rules.
    changed(CLOSED, opened_at="2026-11-20T10:00:00"),
    changed(CLOSED, opened_at="2099-11-20T10:00:00Z"),
    changed(CLOSED, closed_at="2026-11-20T09:00:00Z"),
    changed(CLOSED, opened_at=1763632800),
    changed(CLOSED, opened_at="yesterday"),
    changed(CLOSED, opened_at="9999-12-31T23:59:59-01:00"),
    changed(CLOSED, closed_at=...),
    changed(CLOSED, net_pnl=...),
    changed(OPEN, closed_at="2026-11-20T12:30:00Z"),
    changed(OPEN, exit_price="1"),
    changed(OPEN, status=...),
    changed(CLOSED, external_id=...),
    changed(CLOSED, extra="field"),
    {},
    [],
    "a trade",
]


@pytest.mark.parametrize("data", TRADES, ids=[repr(t)[-70:] for t in TRADES])
def test_trade_fast_path_agrees_with_the_validator(data):
    latest = latest_allowed_timestamp()
    fast = clean_trade(data, latest)
    clean, errors = validate_record(IngestKind.TRADES, data, latest)
    if errors:
        assert fast is None
    elif fast is not None:
        # The same values, of the same types, written the same way, in the same order.
        assert [(name, type(value), str(value)) for name, value in fast.items()] == [
            (name, type(value), str(value)) for name, value in clean.items()
        ]


def test_trade_fast_path_takes_the_common_trades():
    latest = latest_allowed_timestamp()
    assert all(clean_trade(data, latest) is not None for data in TRADES[:6])


LINES = [
    '{"a": "x", "b": 1.5, "c": -0, "d": 1E5, "e": null, "f": true, "g": 0.30000000000000004}',
    '  {"a": 1}\t\r',
    '{"a": 1, "b": 2, "a": 3}',
    '{"a": 1e999999999999999999}',
    '{"a": 12345678901234567890123456789012345678901234567890.5}',
    '{"a": 123456789012345678901234567890123456789}',
    '{"a": -123456789012345678901234567890123456789}',
    '{"a": 1234567890123456789012345678901234567890}',
    '{"a": -1234567890123456789012345678901234567890}',
    '{"a": ' + "9" * 5000 + "}",
    '{"a": [1, {"b": 2}], "c": {"d": [3]}}',
    '{"a": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"a": NaN, "b": Infinity, "c": -Infinity}',
    '{"a": "\\ud800"}',
    '{"a": "\\udc00\\ud800"}',
    '{"a": "\\ud83d\\ude00", "b": "\\u0000", "c": "\\u2028"}',
    '{"a": "tab\there"}',
    '{"a": 01}',
    '{"a": 1.}',
    '{"a": .5}',
    '{"a": +1}',
    '{"a": "\\x41"}',
    '{"a": 1} x',
    '{"a": 1}{"b": 2}',
    "\ufeff{}",
    "\f{}",
    "{}",
    "[]",
    "[1, 2]",
    '"text"',
    "1.5",
    "null",
    "",
    "   ",
    "{",
]


@pytest.mark.parametrize("line", LINES, ids=[repr(line)[:60] for line in LINES])
def test_ndjson_fast_reading_is_json_reading(line, monkeypatch):
    fast = parse_ndjson(line)
    monkeypatch.setattr(parsing, "_fast_record", lambda line: None)
    slow = parse_ndjson(line)
    assert [(r.index, r.raw, repr(r.data), r.parse_error) for r in fast] == [
        (r.index, r.raw, repr(r.data), r.parse_error) for r in slow
    ]


def test_ndjson_fast_reading_takes_flat_records():
    assert parsing._fast_record(LINES[0]) == {
        "a": "x",
        "b": Decimal("1.5"),
        "c": 0,
        "d": Decimal("1E5"),
        "e": None,
        "f": True,
        "g": Decimal("0.30000000000000004"),
    }
