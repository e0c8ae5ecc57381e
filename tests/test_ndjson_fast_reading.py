"""msgspec's reading of an NDJSON line (ingestion.parsing's hot path) is json's."""

from decimal import Decimal

import pytest

from ingestion import parsing
from ingestion.parsing import parse_ndjson

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
