"""Two bots (or two retries of one) pushing at once never duplicate or lose a record."""

import threading

import pytest
from django.db import connection

from tests.conftest import closed_trade, ingest
from tradeops.models import DecisionCount, IngestBatch, Trade
from tradeops.services import create_bot


def run_concurrently(*calls):
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def worker(position, call):
        try:
            barrier.wait()
            results[position] = call()
        except Exception as exc:  # reported below, so the test shows the real error
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_same_new_trades_sent_twice_at_once_are_stored_once():
    bot, _ = create_bot(slug="race")
    batch = [closed_trade(external_id=f"R-{n}") for n in range(300)]

    for _ in range(5):
        first, second = run_concurrently(
            lambda: ingest(bot, "trades", *batch), lambda: ingest(bot, "trades", *batch)
        )
        assert first.quarantined == second.quarantined == 0
        assert first.records == second.records == 300

    assert Trade.objects.count() == 300
    assert sum(b.accepted for b in IngestBatch.objects.all()) == 300


@pytest.mark.django_db(transaction=True)
def test_concurrent_raw_decision_batches_never_lose_an_increment():
    bot, _ = create_bot(slug="race")
    ts = "2026-11-02T00:{:02d}:00Z"

    def batch(offset):
        events = [{"ts": ts.format(n), "outcome": "no_signal"} for n in range(offset, offset + 30)]
        return lambda: ingest(bot, "decisions", *events)

    run_concurrently(batch(0), batch(30))

    assert DecisionCount.objects.get().count == 60
