"""The daily integrity checks read the day's data, not the history (issue 11), and stay right for
every row written since their last run: a trade closed today, a fill that lands today on a trade
closed long ago, a fill linked today; what the last run flagged stays flagged until fixed.

Equity at a moment (the drawdown and the daily-loss trigger) reads the daily P&L rollup the
database keeps, whatever path writes the trades, and the closes of the moment's own day."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrity import checks
from integrity.models import IntegrityIncident
from integrity.services import run_integrity_checks
from kpis.queries import equity_at
from tests.factories import closed_trade, ingest, open_trade, trade
from tradeops.models import ConfigRelease, Fill, Trade

Kind = IntegrityIncident.Kind
CLOSED = timezone.now() - datetime.timedelta(days=3)
OPENED = CLOSED - datetime.timedelta(hours=1)


def ago(**delta):
    return timezone.now() - datetime.timedelta(**delta)


@pytest.fixture
def released(bot):
    ConfigRelease.objects.create(bot=bot, version=1, tag="v1.4.0", approved_at=ago(days=30))
    return bot


def old_close(external_id="R-1", **overrides):
    return closed_trade(
        external_id=external_id,
        opened_at=OPENED.isoformat(),
        closed_at=CLOSED.isoformat(),
        **overrides,
    )


def fill(external_id, side, qty, trade="R-1"):
    return {
        "external_id": external_id,
        "trade_external_id": trade,
        "ts": CLOSED.isoformat(),
        "side": side,
        "price": "50000",
        "qty": qty,
        "fee": "1",
        "liquidity": "taker",
    }


def checked_yesterday(bot):
    """Everything stored so far was written two days ago, and yesterday's run read it."""
    # Set by hand: ingestion stamps rows on the wall clock, by design (checks.LastRun), no `now`.
    Trade.objects.update(changed_at=ago(days=2))
    Fill.objects.update(changed_at=ago(days=2))
    return run_integrity_checks(bot, triggered_by="test", now=ago(days=1))


def mismatches_today(bot):
    run = run_integrity_checks(bot, triggered_by="test")
    found = [
        violation
        for result in run.results
        for violation in result["violations"]
        if violation["kind"] == Kind.FILL_QTY_MISMATCH
    ]
    return found[0]["detail"]["trade_ids"] if found else []


def test_a_fill_that_lands_today_on_a_trade_closed_long_ago_is_checked(released):
    ingest(released, "trades", old_close())  # short 0.5: entry sells, exit buys
    ingest(released, "fills", fill("F-in", "sell", "0.5"), fill("F-out", "buy", "0.5"))
    checked_yesterday(released)

    ingest(released, "fills", fill("F-late", "buy", "0.1"))

    assert mismatches_today(released) == ["R-1"]


def test_a_trade_closed_today_is_checked_against_fills_stored_before(released):
    ingest(released, "trades", open_trade(external_id="R-1", opened_at=OPENED.isoformat()))
    ingest(released, "fills", fill("F-in", "sell", "0.5"), fill("F-out", "buy", "0.3"))
    checked_yesterday(released)  # open: its fills need not add up yet

    ingest(released, "trades", old_close())

    assert mismatches_today(released) == ["R-1"]


def test_a_fill_linked_today_to_its_trade_is_checked(released):
    ingest(released, "trades", old_close())
    ingest(released, "fills", fill("F-in", "sell", "0.5"))
    # Stored without its trade before the linking race was fixed; linked when sent again.
    ingest(released, "fills", fill("F-out", "buy", "0.3"))
    Fill.objects.filter(external_id="F-out").update(trade=None)
    checked_yesterday(released)

    ingest(released, "fills", fill("F-out", "buy", "0.3"))

    assert mismatches_today(released) == ["R-1"]


def test_what_the_last_run_flagged_stays_flagged_until_a_write_fixes_it(released):
    ingest(released, "trades", old_close())
    ingest(released, "fills", fill("F-in", "sell", "0.5"), fill("F-out", "buy", "0.3"))
    checked_yesterday(released)
    assert Kind.FILL_QTY_MISMATCH in open_kinds(released)

    assert mismatches_today(released) == ["R-1"]  # nothing written since: still there
    assert Kind.FILL_QTY_MISMATCH in open_kinds(released)

    ingest(released, "fills", fill("F-rest", "buy", "0.2"))

    assert mismatches_today(released) == []
    assert Kind.FILL_QTY_MISMATCH not in open_kinds(released)


def test_too_many_flagged_trades_to_list_are_found_again_in_the_history(released, monkeypatch):
    monkeypatch.setattr(checks, "RECHECK_LIMIT", 1)
    ingest(released, "trades", old_close("R-1"), old_close("R-2"))
    ingest(
        released,
        "fills",
        fill("F-1", "sell", "0.1", trade="R-1"),
        fill("F-2", "sell", "0.1", trade="R-2"),
    )
    checked_yesterday(released)

    assert mismatches_today(released) == ["R-1", "R-2"]


def open_kinds(bot):
    return set(
        IntegrityIncident.objects.filter(bot=bot)
        .exclude(status="resolved")
        .values_list("kind", flat=True)
    )


def test_rows_the_last_run_read_are_not_read_again(released):
    ingest(released, "trades", old_close())
    ingest(released, "fills", fill("F-in", "sell", "0.5"), fill("F-out", "buy", "0.5"))
    checked_yesterday(released)
    # Changed behind the writers, unstamped: a row only an earlier run read.
    Fill.objects.filter(external_id="F-out").update(qty="0.3")

    assert mismatches_today(released) == []


def a_year_of_history(bot, trades=20_000):
    """Closed trades with their two fills, written over the past year, and the statistics."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tradeops_trade (bot_id, external_id, symbol, side, status, opened_at, "
            "closed_at, qty, entry_price, exit_price, leverage, gross_pnl, fees, funding, net_pnl, "
            "exit_reason, release_tag, release_id, ingested_at, changed_at) "
            "SELECT %s, 'H' || n, 'BTCUSDT', 'short', 'closed', t - interval '1 hour', t, 0.5, "
            "50000, 49900, 5, 50, 1, 0, 49, 'take_profit', 'v1.4.0', %s, t, t "
            "FROM generate_series(1, %s) AS n, "
            "LATERAL (SELECT now() - interval '2 days' - n * interval '20 minutes' AS t) AS at",
            [bot.pk, bot.releases.get().pk, trades],
        )
        cursor.execute(
            "INSERT INTO tradeops_fill (bot_id, external_id, trade_external_id, trade_id, ts, "
            "side, price, qty, fee, liquidity, ingested_at, changed_at) "
            "SELECT bot_id, external_id || leg, external_id, id, closed_at, leg_side, 50000, "
            "0.5, 1, 'taker', closed_at, closed_at FROM tradeops_trade "
            "CROSS JOIN (VALUES ('-E', 'sell'), ('-X', 'buy')) AS legs(leg, leg_side) "
            "WHERE bot_id = %s",
            [bot.pk],
        )
        cursor.execute("ANALYZE tradeops_trade")
        cursor.execute("ANALYZE tradeops_fill")


def test_the_checks_read_the_days_data_through_indexes(released, django_assert_max_num_queries):
    a_year_of_history(released)
    checked_yesterday(released)
    Trade.objects.filter(external_id="H5").update(net_pnl=1)  # a legacy row: P&L off
    ingest(
        released, "trades", closed_trade(external_id="today", closed_at=ago(hours=1).isoformat())
    )
    ingest(released, "fills", fill("F-today", "buy", "0.1", trade="today"))

    with django_assert_max_num_queries(40), CaptureQueriesContext(connection) as queries:
        run = run_integrity_checks(released, triggered_by="test")

    assert run.violations == 2  # the legacy P&L, and today's trade whose fill does not add up
    with connection.cursor() as cursor:
        for sql in [q["sql"] for q in queries if re.search(r"tradeops_(trade|fill)\b", q["sql"])]:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            plan = cursor.fetchone()[0][0]["Plan"]
            assert rows_read(plan) < 100, sql  # of 20,000 trades and 40,000 fills


def rows_read(node):
    """Rows a plan read from the trade and fill tables, kept or filtered out."""
    read = 0
    if node.get("Relation Name") in ("tradeops_trade", "tradeops_fill"):
        kept = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        read = (kept + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
    return read + sum(rows_read(child) for child in node.get("Plans", []))


def sum_of_closes(bot, moment):
    closes = Trade.objects.filter(bot=bot, status="closed", closed_at__lt=moment)
    return bot.starting_equity + sum(closes.values_list("net_pnl", flat=True), Decimal(0))


def test_equity_at_follows_every_write_of_the_trades(released):
    released.starting_equity = Decimal(1000)
    released.save()
    midnight = ago(days=2).replace(hour=0, minute=0, second=0, microsecond=0)
    moments = [midnight, midnight + datetime.timedelta(hours=13), ago(seconds=0)]
    noon = (midnight + datetime.timedelta(hours=12)).isoformat()
    before = (midnight - datetime.timedelta(hours=3)).isoformat()

    ingest(released, "trades", open_trade(external_id="O-1", opened_at=before))
    ingest(released, "trades", old_close("C-1"), closed_trade(external_id="C-2", closed_at=noon))
    ingest(released, "trades", closed_trade(external_id="O-1", opened_at=before, closed_at=noon))
    trade(released, "orm", midnight - datetime.timedelta(seconds=1), "-7.5")
    Trade.objects.filter(external_id="C-1").update(net_pnl=Decimal("12.125"))
    Trade.objects.filter(external_id="C-2").delete()

    for moment in moments:
        assert equity_at(released, moment) == sum_of_closes(released, moment), moment


def test_equity_at_reads_the_rollup_not_the_closes_before(released, django_assert_num_queries):
    released.starting_equity = Decimal(1000)
    released.save()
    a_year_of_history(released)
    moment = ago(hours=30)

    with django_assert_num_queries(2), CaptureQueriesContext(connection) as queries:
        equity = equity_at(released, moment)  # no snapshot; the trade curve

    assert equity == sum_of_closes(released, moment)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {queries[-1]['sql']}")
        assert rows_read(cursor.fetchone()[0][0]["Plan"]) < 100  # a day: 72 closes
