"""Hostile and odd bodies through the HTTP API on gunicorn: never a 5xx, and every record sent is
accounted for: records sent = stored + quarantined as the response says, and the database holds
exactly that."""

import gzip
import json

import pytest
import requests
from django.db.models import Sum

from tests.factories import closed_trade
from tradeops.models import DecisionCount, EquitySnapshot, IngestBatch, QuarantinedRecord, Trade
from tradeops.services import create_bot

pytestmark = pytest.mark.django_db(transaction=True)

JSON, NDJSON, CSV = "application/json", "application/x-ndjson", "text/csv"


def body(*records):
    return json.dumps(list(records)).encode()


def raw_trade(**replacements):
    """A good trade (as a one-record JSON array) with field values replaced by raw JSON text."""
    text = json.dumps([closed_trade(**{field: f"@{field}@" for field in replacements})])
    for field, raw_value in replacements.items():
        text = text.replace(f'"@{field}@"', raw_value)
    return text.encode()


def good(n):
    return closed_trade(external_id=f"G-{n}")


def nested(depth):
    return "[" * depth + "]" * depth


FLOAT_TRADE = (
    '{"external_id": "F-1", "symbol": "BTCUSDT", "side": "long", "status": "closed", '
    '"opened_at": "2026-11-02T10:00:00Z", "closed_at": "2026-11-02T11:00:00Z", '
    '"qty": 0.30000000000000004, "entry_price": 50000.123456789012345, '
    '"exit_price": 50100.98765432109876, "gross_pnl": 30.259259259259259259, '
    '"fees": 0.1000000000000000055511151231257827, "funding": 0.01, '
    '"net_pnl": 30.149259259259259253, "exit_reason": "take_profit"}'
)
CSV_FLOAT = (
    "external_id,symbol,side,status,opened_at,closed_at,qty,entry_price,exit_price,gross_pnl,"
    "fees,funding,net_pnl,exit_reason\n"
    "C-1,BTCUSDT,long,closed,2026-11-02T10:00:00Z,2026-11-02T11:00:00Z,0.30000000000000004,"
    "50000,50100,30.000000000000004,0.1,0.01,29.890000000000004,take_profit\n"
)

# (id, kind, body, content type, extra headers, status, accepted, quarantined)
CASES = [
    ("NUL in a string", "trades", raw_trade(symbol='"BTC\\u0000USDT"'), JSON, {}, 200, 0, 1),
    ("NUL in external_id", "trades", raw_trade(external_id='"X\\u0000"'), JSON, {}, 200, 0, 1),
    ("NUL in a field name", "trades", body({**good(1), "no\u0000te": "x"}), JSON, {}, 200, 0, 1),
    ("lone high surrogate", "trades", raw_trade(symbol='"\\ud800"'), JSON, {}, 200, 0, 1),
    ("lone low surrogate", "trades", raw_trade(exit_reason='"tp\\udc00"'), JSON, {}, 200, 0, 1),
    ("surrogate external_id", "trades", raw_trade(external_id='"\\udfff"'), JSON, {}, 200, 0, 1),
    ("surrogate field name", "trades", body({**good(1), "\ud800": 1}), JSON, {}, 200, 0, 1),
    (
        "year 1 east of UTC",
        "trades",
        raw_trade(opened_at='"0001-01-01T00:00:00+01:00"'),
        JSON,
        {},
        200,
        0,
        1,
    ),
    (
        "year 9999 west of UTC",
        "trades",
        raw_trade(closed_at='"9999-12-31T23:59:59-01:00"'),
        JSON,
        {},
        200,
        0,
        1,
    ),
    (
        "decimal beyond column",
        "trades",
        raw_trade(qty='"1234567890123456789.5"'),
        JSON,
        {},
        200,
        0,
        1,
    ),
    (
        "18 whole digits and 13 places: rounded into the column",
        "trades",
        raw_trade(qty='"123456789012345678.1234567891234"'),
        JSON,
        {},
        200,
        1,
        0,
    ),
    ("5000-digit integer", "trades", raw_trade(qty="9" * 5000), JSON, {}, 200, 0, 1),
    ("negative huge integer", "trades", raw_trade(gross_pnl="-" + "1" * 4400), JSON, {}, 200, 0, 1),
    ("huge exponent", "trades", raw_trade(qty="1e999999999"), JSON, {}, 200, 0, 1),
    ("tiny exponent", "trades", raw_trade(qty="1e-999999999"), JSON, {}, 200, 0, 1),
    ("NaN literal", "trades", raw_trade(qty="NaN"), JSON, {}, 200, 0, 1),
    ("-Infinity literal", "trades", raw_trade(fees="-Infinity"), JSON, {}, 200, 0, 1),
    (
        "100k nested brackets in an array",
        "trades",
        f"[{json.dumps(good(1))}, {nested(100_000)}, {json.dumps(good(2))}]".encode(),
        JSON,
        {},
        200,
        2,
        1,
    ),
    (
        "100k nested in a field",
        "trades",
        f'[{json.dumps(good(1))[:-1]}, "x": {nested(100_000)}}}]'.encode(),
        JSON,
        {},
        200,
        0,
        1,
    ),
    (
        "100k nested NDJSON line",
        "trades",
        f"{json.dumps(good(1))}\n{nested(100_000)}\n{json.dumps(good(2))}".encode(),
        NDJSON,
        {},
        200,
        2,
        1,
    ),
    (
        "decision count beyond bigint",
        "decisions",
        body({"day": "2026-11-02", "outcome": "no_signal", "count": 2**64}),
        JSON,
        {},
        200,
        0,
        1,
    ),
    (
        "decision count 5000 digits",
        "decisions",
        ('[{"day": "2026-11-02", "outcome": "signal", "count": ' + "7" * 5000 + "}]").encode(),
        JSON,
        {},
        200,
        0,
        1,
    ),
    (
        "decision reason with NUL (fast path)",
        "decisions",
        body({"ts": "2026-11-02T00:00:00Z", "outcome": "rejected", "reason": "sp\u0000read"}),
        JSON,
        {},
        200,
        0,
        1,
    ),
    (
        "decision symbol surrogate (fast path)",
        "decisions",
        body({"ts": "2026-11-02T00:00:00Z", "outcome": "signal", "symbol": "\udc80"}),
        JSON,
        {},
        200,
        0,
        1,
    ),
    ("UTF-16 body", "trades", body(good(1)).decode().encode("utf-16"), JSON, {}, 400, 0, 1),
    ("gzip without Content-Encoding", "trades", gzip.compress(body(good(1))), JSON, {}, 400, 0, 1),
    ("binary noise with NUL bytes", "trades", bytes(range(256)) * 4, JSON, {}, 400, 0, 1),
    (
        "NUL byte outside strings (NDJSON)",
        "trades",
        f"{json.dumps(good(1))}\n\x00{json.dumps(good(2))}".encode(),
        NDJSON,
        {},
        200,
        1,
        1,
    ),
    (
        "U+2028 inside a string (NDJSON)",
        "trades",
        json.dumps(closed_trade(exit_reason="take\u2028profit"), ensure_ascii=False).encode(),
        NDJSON,
        {},
        200,
        1,
        0,
    ),
    (
        "U+2029 and U+0085 inside strings",
        "trades",
        json.dumps(
            closed_trade(symbol="BTC\u2029", exit_reason="tp\u0085"), ensure_ascii=False
        ).encode(),
        NDJSON,
        {},
        200,
        1,
        0,
    ),
    (
        "CRLF line ends (NDJSON)",
        "trades",
        f"{json.dumps(good(1))}\r\n{json.dumps(good(2))}\r\n".encode(),
        NDJSON,
        {},
        200,
        2,
        0,
    ),
    ("JSON labelled text/csv", "trades", body(good(1), good(2)), CSV, {}, 200, 2, 0),
    ("JSON labelled text/plain", "trades", body(good(1)), "text/plain", {}, 200, 1, 0),
    (
        "NDJSON labelled application/json",
        "trades",
        f"{json.dumps(good(1))}\n{json.dumps(good(2))}".encode(),
        JSON,
        {},
        200,
        2,
        0,
    ),
    ("JSON with no Content-Type", "trades", body(good(1)), "", {}, 200, 1, 0),
    (
        "JSON labelled form-urlencoded",
        "trades",
        body(good(1)),
        "application/x-www-form-urlencoded",
        {},
        200,
        1,
        0,
    ),
    ("text that is not JSON, as text/plain", "trades", b"hello there", "text/plain", {}, 415, 0, 0),
    ("float JSON numbers", "trades", FLOAT_TRADE.encode(), NDJSON, {}, 200, 1, 0),
    (
        "float strings",
        "trades",
        body(
            closed_trade(
                qty=str(0.1 + 0.2), gross_pnl="100.00000000000001", net_pnl="94.25000000000001"
            )
        ),
        JSON,
        {},
        200,
        1,
        0,
    ),
    ("CSV with floats", "trades", CSV_FLOAT.encode(), CSV, {}, 200, 1, 0),
    ("empty JSON array", "trades", b"[]", JSON, {}, 200, 0, 0),
    ("whitespace only", "trades", b"  \n ", JSON, {}, 400, 0, 1),
    ("truncated array", "trades", body(good(1), good(2))[:-30], JSON, {}, 400, 0, 1),
    ("trailing garbage", "trades", body(good(1)) + b" trailing", JSON, {}, 400, 0, 1),
    ("array of non-objects", "trades", b'[1, "x", null, true, [2]]', JSON, {}, 200, 0, 5),
    ("1 MB symbol", "trades", body(closed_trade(symbol="B" * 1_000_000)), JSON, {}, 200, 0, 1),
    ("integer external_id", "trades", body(closed_trade(external_id=12345)), JSON, {}, 200, 0, 1),
    (
        "NUL inside a timestamp",
        "trades",
        raw_trade(opened_at='"2026-11-02T10:00:00\\u0000Z"'),
        JSON,
        {},
        200,
        0,
        1,
    ),
    ("CSV header only", "trades", b"external_id,symbol\n", CSV, {}, 400, 0, 1),
    (
        "CSV with a short row",
        "trades",
        b"external_id,symbol,side\nA-1,BTCUSDT\n",
        CSV,
        {},
        200,
        0,
        1,
    ),
    (
        "gzip with Content-Encoding",
        "trades",
        gzip.compress(body(good(1), good(2))),
        JSON,
        {"Content-Encoding": "gzip"},
        200,
        2,
        0,
    ),
    (
        "gzip in two members",
        "trades",
        gzip.compress(body(good(1), good(2))[:-1] + b",") + gzip.compress(body(good(3))[1:]),
        JSON,
        {"Content-Encoding": "gzip"},
        200,
        3,
        0,
    ),
    (
        "gzip cut short",
        "trades",
        gzip.compress(body(good(1), good(2)))[:-8],
        JSON,
        {"Content-Encoding": "gzip"},
        400,
        0,
        1,
    ),
    (
        "gzip with trailing junk",
        "trades",
        gzip.compress(body(good(1))) + b"junk",
        JSON,
        {"Content-Encoding": "gzip"},
        400,
        0,
        1,
    ),
    (
        "equity rounding up past the column",
        "equity",
        b'[{"ts": "2026-11-02T00:00:00Z", "equity": "999999999999999999.9999999999999"}]',
        JSON,
        {},
        200,
        0,
        1,
    ),
    (
        "exponent past Decimal's limit (array)",
        "equity",
        b'[{"ts": "2026-11-02T00:00:00Z", "equity": 1e-99999999999999999999},'
        b' {"ts": "2026-11-02T00:01:00Z", "equity": 1000}]',
        JSON,
        {},
        200,
        1,
        1,
    ),
    (
        "exponent past Decimal's limit (NDJSON)",
        "equity",
        b'{"ts": "2026-11-02T00:00:00Z", "equity": 1E+99999999999999999999}\n'
        b'{"ts": "2026-11-02T00:01:00Z", "equity": 1000}',
        NDJSON,
        {},
        200,
        1,
        1,
    ),
    (
        "pre-counted decisions past any real day",
        "decisions",
        body({"day": "2026-11-02", "outcome": "signal", "count": 2**63 - 1}),
        JSON,
        {},
        200,
        0,
        1,
    ),
    (
        "digits with underscores",
        "equity",
        body({"ts": "2026-11-02T00:00:00Z", "equity": "1_000"}),
        JSON,
        {},
        200,
        0,
        1,
    ),
    (
        "Arabic-Indic digits",
        "equity",
        body({"ts": "2026-11-02T00:00:00Z", "equity": "\u0661\u0660"}),
        JSON,
        {},
        200,
        0,
        1,
    ),
    (
        "NDJSON whose first line is an array",
        "trades",
        f"[1]\n{json.dumps(good(1))}".encode(),
        NDJSON,
        {},
        200,
        1,
        1,
    ),
    (
        "same bad record twice in a batch",
        "trades",
        body(closed_trade(qty="0"), closed_trade(qty="0")),
        JSON,
        {},
        200,
        0,
        2,
    ),
]


def stored_count(bot, kind):
    model = {"decisions": DecisionCount, "equity": EquitySnapshot, "trades": Trade}[kind]
    return model.objects.filter(bot=bot).count()


@pytest.mark.parametrize(
    "kind, payload, content_type, headers, status, accepted, quarantined",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_hostile_body_is_accounted_for(
    gunicorn_url, kind, payload, content_type, headers, status, accepted, quarantined
):
    bot, token = create_bot(slug="hostile")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type, **headers}

    response = requests.post(
        f"{gunicorn_url}/api/v1/ingest/{kind}", data=payload, headers=headers, timeout=60
    )

    assert response.status_code == status, response.text
    answer = response.json()
    batches = IngestBatch.objects.filter(bot=bot)
    seen = QuarantinedRecord.objects.filter(bot=bot).aggregate(n=Sum("times_seen"))["n"] or 0
    if status == 200:
        assert (answer["accepted"], answer["quarantined"]) == (accepted, quarantined)
        assert len(answer["errors"]) == quarantined
        assert batches.get().records == accepted + quarantined
    elif quarantined:
        assert answer["quarantined"] == 1
        assert batches.get().body == payload
    else:
        assert not batches.exists()
    assert stored_count(bot, kind) == accepted
    assert seen == quarantined


def test_there_are_at_least_forty_hostile_cases():
    assert len(CASES) >= 40


def test_float_values_are_rounded_half_even_and_the_raw_body_kept(gunicorn_url):
    bot, token = create_bot(slug="floats")
    requests.post(
        f"{gunicorn_url}/api/v1/ingest/trades",
        data=FLOAT_TRADE,
        headers={"Authorization": f"Bearer {token}", "Content-Type": NDJSON},
        timeout=30,
    )

    trade = Trade.objects.get(bot=bot)
    assert str(trade.qty) == "0.300000000000"
    assert str(trade.entry_price) == "50000.123456789012"
    assert str(trade.fees) == "0.100000000000"
    assert IngestBatch.objects.get(bot=bot).body == FLOAT_TRADE.encode()
