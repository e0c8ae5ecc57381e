"""Two bots (or two retries of one) pushing at once never duplicate or lose a record."""

import random
import threading
from decimal import Decimal

import pytest
from django.db import connection

from integrity.models import IntegrityIncident
from tests.factories import closed_trade, ingest, open_trade
from tradeops.models import DecisionCount, Fill, IngestBatch, QuarantinedRecord, Trade
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


@pytest.mark.django_db(transaction=True)
def test_eight_senders_closing_the_same_open_trades_one_close_wins_the_rest_conflict():
    bot, _ = create_bot(slug="race")
    ids = [f"O-{n}" for n in range(200)]
    ingest(bot, "trades", *[open_trade(external_id=i) for i in ids])

    def closes(sender):
        batch = [closed_trade(external_id=i, exit_price=str(49800 + sender)) for i in ids]
        return lambda: ingest(bot, "trades", *batch)

    results = run_concurrently(*[closes(sender) for sender in range(8)])

    assert sum(result.updated for result in results) == 200
    assert sum(result.quarantined for result in results) == 7 * 200
    winners = {trade.exit_price for trade in Trade.objects.filter(status="closed")}
    assert Trade.objects.filter(status="closed").count() == 200
    assert winners <= {Decimal(49800 + sender) for sender in range(8)}
    assert QuarantinedRecord.objects.filter(reason="conflict").count() == 7 * 200
    incident = IntegrityIncident.objects.get(kind=IntegrityIncident.Kind.TRADE_CONFLICT)
    assert (incident.severity, incident.occurrences) == ("critical", 7 * 200)


@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_in_different_orders_do_not_deadlock():
    bot, _ = create_bot(slug="race")
    shared = [f"S-{n}" for n in range(1500)]
    ingest(bot, "trades", *[open_trade(external_id=i) for i in shared])

    def batch(sender):
        # Updates of the same open trades plus new trades other senders also insert, each sender
        # in its own order.
        keys = shared + [f"N-{n}" for n in range(1000)]
        random.Random(sender).shuffle(keys)
        records = [open_trade(external_id=key, est_fees=str(sender + 1)) for key in keys]
        return lambda: ingest(bot, "trades", *records)

    results = run_concurrently(*[batch(sender) for sender in range(8)])

    assert all(result.records == 2500 and result.quarantined == 0 for result in results)
    assert sum(result.accepted for result in results) == 1000
    assert Trade.objects.count() == 2500


def fill_for(trade_id, n):
    return {
        "external_id": f"{trade_id}-F{n}",
        "trade_external_id": trade_id,
        "ts": "2026-11-02T10:00:01Z",
        "side": "buy",
        "price": "50010",
        "qty": "0.25",
        "fee": "1",
        "liquidity": "taker",
        "expected_price": "50000",
    }


@pytest.mark.django_db(transaction=True)
def test_fills_racing_their_trades_are_always_linked():
    bot, _ = create_bot(slug="race")
    for round_ in range(6):
        ids = [f"R{round_}-{n}" for n in range(300)]
        trades = [open_trade(external_id=i) for i in ids]
        fills = [fill_for(i, n) for i in ids for n in (1, 2)]

        run_concurrently(
            lambda trades=trades: ingest(bot, "trades", *trades),
            lambda fills=fills: ingest(bot, "fills", *fills),
        )

    assert Fill.objects.count() == 6 * 600
    assert not Fill.objects.filter(trade__isnull=True).exists()
    assert not Trade.objects.filter(realized_slippage__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_raw_decision_events_retried_in_another_order_are_counted_once():
    bot, _ = create_bot(slug="race")
    events = [
        {"ts": f"2026-11-02T00:{n:02d}:00Z", "outcome": "no_signal", "symbol": "BTCUSDT"}
        for n in range(50)
    ]

    first = ingest(bot, "decisions", *events)
    retry = ingest(bot, "decisions", *reversed(events))

    assert (first.accepted, retry.unchanged) == (50, 50)
    assert DecisionCount.objects.get().count == 50
