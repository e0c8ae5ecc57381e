"""The trade fast path (ingestion.fastpath) gives what the slow path gives: it never accepts what
validate_record refuses nor changes a value, so a trade is stored the same whichever cleaned it.
(msgspec's reading of an NDJSON line is held to json's in test_ndjson_fast_reading.py.)"""

import json
import random
import re
from decimal import Decimal

import pytest

from ingestion import fastpath, services
from ingestion.fastpath import clean_trade
from ingestion.fields import _PLAIN_DECIMAL
from ingestion.records import TRADE_FIELDS, latest_allowed_timestamp, validate_record
from ingestion.services import ingest_body
from tradeops.models import IngestKind, QuarantinedRecord, Trade
from tradeops.services import create_bot

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
    changed(CLOSED, extra=None),
    # What the compiled shape check and the joined checks must not get wrong.
    changed(CLOSED, qty="0.25,1"),
    changed(CLOSED, qty="1,5", fees="5.5,0"),
    changed(CLOSED, est_fees=""),
    changed(CLOSED, est_fees=",", est_funding=","),
    changed(CLOSED, qty="1.", entry_price=".5"),
    changed(CLOSED, qty="0x10"),
    changed(CLOSED, qty="١٢"),
    changed(CLOSED, qty="12345678901234567890"),
    changed(CLOSED, qty=10**30),
    changed(CLOSED, qty=-1),
    changed(CLOSED, qty=Decimal("-0")),
    changed(CLOSED, qty=Decimal("sNaN")),
    changed(CLOSED, qty=Decimal("1E-13")),
    changed(CLOSED, qty=Decimal("0.30000000000000004")),
    changed(CLOSED, qty=[[1]] * 3),
    changed(CLOSED, qty={"value": "1"}),
    changed(CLOSED, exit_price="-0", leverage="-1"),
    changed(CLOSED, exit_price=0),
    changed(CLOSED, leverage=None, est_fees=None, est_funding=None, est_slippage_bps=None),
    changed(CLOSED, exit_reason=None, release=None),
    changed(CLOSED, exit_reason=" take_profit\n", release="\tv1.4.0 "),
    changed(CLOSED, exit_reason="stop\x00loss"),
    changed(CLOSED, release="v1\udc00"),
    changed(CLOSED, release="v1\u202e0.4.1v"),
    changed(CLOSED, symbol="\u3000BTCUSDT\u3000"),
    changed(CLOSED, symbol="\u3000"),
    changed(CLOSED, symbol=" " * 3 + "x" * 31),
    changed(CLOSED, external_id=" " + "x" * 128),
    changed(CLOSED, exit_reason="é" * 100),
    changed(CLOSED, exit_reason="é" * 101),
    changed(CLOSED, side=" short"),
    changed(CLOSED, side=None),
    changed(CLOSED, status=None),
    changed(CLOSED, status="Closed"),
    changed(CLOSED, closed_at=None),
    changed(CLOSED, closed_at=""),
    changed(CLOSED, closed_at=CLOSED["opened_at"]),
    changed(CLOSED, opened_at=" 2026-11-20T10:00:00Z "),
    changed(CLOSED, opened_at="2026-11-20T10:00:00Z\t"),
    changed(CLOSED, opened_at="2026-11-20T10:00:00.1234567+00:00"),
    changed(CLOSED, opened_at="2026-11-20 10:00:00+00:00"),
    changed(CLOSED, opened_at="2026-02-30T10:00:00Z"),
    changed(CLOSED, opened_at="0001-01-01T00:00:00+01:00"),
    changed(CLOSED, opened_at="2026-11-20T10:00:00\u200bZ"),
    changed(CLOSED, gross_pnl="100.000001", net_pnl="94.25"),
    changed(CLOSED, gross_pnl="-100", net_pnl="-105.75"),
    changed(
        CLOSED,
        gross_pnl="100000000000000",
        fees="0",
        funding="0",
        net_pnl="100000000000000.00001",
    ),
    changed(OPEN, gross_pnl="1", fees="0.5", funding="0", net_pnl="0.5"),
    changed(OPEN, gross_pnl="1", fees="0.5", funding="0", net_pnl="0.6"),
    changed(OPEN, gross_pnl="1"),
    changed(OPEN, closed_at=None, exit_price=None),
    changed(OPEN, exit_price=""),
    changed(OPEN, qty=2, entry_price=Decimal("3000.25"), leverage=Decimal("2.5")),
    changed(OPEN, qty=...),
    changed(OPEN, qty=None),
    changed(OPEN, entry_price=None),
    {**CLOSED, 1: "x"},
    {**CLOSED, "\ud800": None},
    {**OPEN, "\udc00qty": "1"},
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


# Trades as bots write them, which the fast path must take (a fast path that took nothing would
# agree with the validator too).
COMMON = [
    *TRADES[:6],
    changed(CLOSED, closed_at=CLOSED["opened_at"]),
    changed(CLOSED, leverage=None, est_fees=None, est_funding=None, est_slippage_bps=None),
    changed(CLOSED, exit_reason=None, release=None, leverage=...),
    changed(CLOSED, exit_reason=" take_profit\n", release="\tv1.4.0 ", symbol="\u3000BTCUSDT"),
    changed(CLOSED, exit_reason="é" * 100, symbol="BTCÜSDT"),
    changed(CLOSED, net_pnl="94.250001"),
    changed(CLOSED, qty=Decimal("0.5"), leverage="5", fees=Decimal("5.5")),
    changed(OPEN, qty=2, entry_price=Decimal("3000.25"), leverage=Decimal("2.5")),
    changed(OPEN, closed_at=None, exit_price=None),
    changed(OPEN, gross_pnl="1", fees="0.5", funding="0", net_pnl="0.5"),
]


@pytest.mark.parametrize("data", COMMON, ids=[repr(t)[-70:] for t in COMMON])
def test_trade_fast_path_takes_the_common_trades(data):
    latest = latest_allowed_timestamp()
    fast = clean_trade(data, latest)
    assert fast is not None
    clean, errors = validate_record(IngestKind.TRADES, data, latest)
    assert not errors
    assert [(name, type(value), str(value)) for name, value in fast.items()] == [
        (name, type(value), str(value)) for name, value in clean.items()
    ]


# Values of each kind of field, usual and not, mixed at random into trades below.
TEXTS = ["T-9", " T-9 ", "", "  ", "x" * 33, "x" * 129, "a\x00b", "BTCÜSDT", "\ud800", "\u3000", 7]
NUMBERS = [
    *["0.5", "-0.5", "0", "-0", "12", "1.", "1e-2", " 1", "1_000", "١", "0.0000000000001"],
    *["999999999999999999.999999999999", "1" * 19, "", "1,5", "NaN", "Infinity", "+1"],
    *[Decimal("0.5"), Decimal("1E+2"), Decimal("-Infinity"), Decimal("0.30000000000000004")],
    *[5, 0, -3, 10**18, 10**17, True, False, 0.5, [1], {"a": 1}],
]
TIMES = [
    *["2026-11-20T10:00:00Z", "2026-11-20T12:30:00+02:00", " 2026-11-20T11:00:00Z", "\t"],
    *["2026-11-20T10:00:00", "2099-01-01T00:00:00Z", "2026-11-20T09:00:00-00:30", "yesterday"],
    *[1763632800, "2026-11-20T10:00:00Z\n", "9999-12-31T23:59:59-01:00"],
]
KINDS = {
    "external_id": TEXTS,
    "symbol": TEXTS,
    "side": ["long", "short", "SHORT", " long", 1],
    "status": ["open", "closed", "Closed", 0],
    "opened_at": TIMES,
    "closed_at": TIMES,
    "exit_reason": TEXTS,
    "release": TEXTS,
}
NUMBERED = {
    "closed, numbers": changed(
        CLOSED, qty=Decimal("0.5"), entry_price=50000, exit_price=Decimal("49800"), leverage=5
    ),
    "closed": CLOSED,
    "open": OPEN,
}


def mixed_trades(count, seed):
    rng = random.Random(seed)
    for _ in range(count):
        record = dict(rng.choice(list(NUMBERED.values())))
        for name in rng.sample(sorted(TRADE_FIELDS), rng.randint(1, 3)):
            roll = rng.random()
            if roll < 0.1:
                record.pop(name, None)
            elif roll < 0.2:
                record[name] = None
            else:
                record[name] = rng.choice(KINDS.get(name, NUMBERS))
        if rng.random() < 0.02:
            record[rng.choice(["unknown", "\ud800", "Qty"])] = rng.choice([None, "x"])
        yield record


def test_trade_fast_path_agrees_with_the_validator_on_mixed_trades():
    """Thousands of trades with one to three fields changed at random to usual and unusual
    values: whatever the fast path takes, the validator takes with the very same values."""
    latest = latest_allowed_timestamp()
    taken = 0
    for data in mixed_trades(5000, seed=11):
        fast = clean_trade(data, latest)
        clean, errors = validate_record(IngestKind.TRADES, data, latest)
        if fast is None:
            continue
        taken += 1
        assert not errors, (data, errors)
        assert [(name, type(value), str(value)) for name, value in fast.items()] == [
            (name, type(value), str(value)) for name, value in clean.items()
        ], data
    # Not a vacuous agreement: the fast path took a good share of them.
    assert taken > 500


PLAIN_OR_NOT = [
    *["0", "-0", "1.5", "-1.5", "00012.000", "1" * 18, "1" * 19, "0." + "1" * 12, "0." + "1" * 13],
    *["1" * 18 + "." + "1" * 12, "", "-", ".", "1.", ".5", "--1", "+1", "1e5", " 1", "1 "],
    *["١", "1_0", "1.2.3", "-1.-2", "1\n", "1,5", ",", "1,", ",1"],
]


def test_joined_decimal_regex_is_the_per_value_regex():
    """The fast path checks a record's decimal strings with one regex over them joined by
    commas: it matches exactly when every one of them is plain."""
    values = [text for text in PLAIN_OR_NOT if "," not in text]
    for text in values:
        assert bool(fastpath._plain_decimals(text)) == bool(_PLAIN_DECIMAL.fullmatch(text)), text
    for first in values:
        for second in values:
            both = _PLAIN_DECIMAL.fullmatch(first) and _PLAIN_DECIMAL.fullmatch(second)
            assert bool(fastpath._plain_decimals(f"{first},{second}")) == bool(both)
    # A value holding a comma reads as two plain ones; the fast path counts the commas too.
    assert fastpath._plain_decimals("1,5")
    with pytest.raises(fastpath._Unusual):
        fastpath._decimals(("1,5", "2"))


@pytest.mark.django_db
def test_the_stored_trades_are_the_same_whichever_path_cleaned_them(monkeypatch):
    """A batch with common trades and unusual ones, ingested with the fast path and without it:
    the same rows are stored, the same records quarantined with the same errors."""
    records = [*COMMON[:6], *TRADES[6:], *mixed_trades(300, seed=3)]
    lines = []
    for n, record in enumerate(records):
        if isinstance(record, dict) and isinstance(record.get("external_id"), str):
            # Each its own trade, so that none is a re-send of another.
            record = {**record, "external_id": f"{record['external_id']}-{n}"}
        # Decimals as JSON numbers, written as they are.
        text = json.dumps(record, default=lambda value: f"<decimal {value}>")
        lines.append(re.sub(r'"<decimal ([^"]*)>"', r"\1", text))
    body = "\n".join(lines).encode()

    def ingest(slug):
        bot, _ = create_bot(slug=slug)
        result = ingest_body(bot, "trades", body, content_type="application/x-ndjson", source="t")
        rows = list(Trade.objects.filter(bot=bot).order_by("external_id").values())
        for row in rows:
            for name in ("id", "bot_id", "ingested_at", "changed_at"):
                del row[name]
        refused = QuarantinedRecord.objects.filter(bot=bot).order_by("raw")
        return result, rows, list(refused.values_list("raw", "errors"))

    fast = ingest("fast")
    monkeypatch.setattr(services, "clean_trade", lambda data, latest_allowed: None)
    slow = ingest("slow")
    assert fast[0].accepted > 10 and fast[0].quarantined > 10
    assert (fast[0].accepted, fast[0].quarantined) == (slow[0].accepted, slow[0].quarantined)
    assert fast[1:] == slow[1:]
