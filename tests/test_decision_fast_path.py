"""The raw-decision hot path never accepts what the full validator refuses, nor changes a value."""

import gc
from decimal import Decimal

import pytest

from ingestion.records import decision_event_key, latest_allowed_timestamp, validate_record
from ingestion.services import cyclic_gc_paused
from tradeops.models import IngestKind

TS = "2026-11-02T00:05:00Z"
EVENTS = [
    {"ts": TS, "symbol": "BTCUSDT", "outcome": "no_signal"},
    {"ts": TS, "outcome": "signal"},
    {"ts": "2026-11-02T02:05:00+02:00", "symbol": "BTCUSDT", "outcome": "signal"},
    {"ts": TS, "symbol": "BTCUSDT", "outcome": "rejected", "reason": "spread_too_wide"},
    {"ts": TS, "symbol": "BTCUSDT", "outcome": "rejected"},
    {"ts": TS, "symbol": "BTCUSDT", "outcome": "rejected", "reason": ""},
    {"ts": TS, "symbol": " BTCUSDT ", "outcome": "signal"},
    {"ts": TS, "symbol": None, "outcome": "signal"},
    {"ts": TS, "symbol": "X" * 33, "outcome": "signal"},
    {"ts": TS, "symbol": 7, "outcome": "signal"},
    {"ts": TS, "outcome": "maybe"},
    {"ts": TS, "outcome": "signal", "extra": 1},
    {"ts": "2026-11-02T00:05:00", "outcome": "signal"},
    {"ts": "2099-11-02T00:05:00Z", "outcome": "signal"},
    {"ts": 1762041900, "outcome": "signal"},
    {"ts": Decimal("1.5"), "outcome": "signal"},
    {"outcome": "signal"},
    {"ts": TS},
    ["not", "an", "object"],
]


@pytest.mark.parametrize("event", EVENTS, ids=[str(e)[:60] for e in EVENTS])
def test_fast_path_agrees_with_the_full_validator(event):
    latest = latest_allowed_timestamp()
    key = decision_event_key(event, latest)
    clean, errors = validate_record(IngestKind.DECISIONS, event, latest)

    if errors:
        assert key is None
    elif key is not None:
        assert key == (clean["ts"].date(), clean["symbol"], clean["outcome"], clean["reason"])


def test_fast_path_takes_the_common_events():
    latest = latest_allowed_timestamp()
    assert decision_event_key(EVENTS[0], latest) is not None
    assert decision_event_key(EVENTS[3], latest) is not None


def test_gc_is_restored_after_a_batch_even_when_it_fails():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()
