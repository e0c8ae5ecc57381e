"""Daily integrity checks and the daily-loss trigger on a year of history (issue 11).

A fleet (bench/dataset.py: the main bot with a year of closed trades, 2 fills each, and a few
other bots) whose history was written as it happened, then yesterday's check run, then a day of
new data through the ingestion service (trades and their fills, some opened yesterday and closed
today). Timed, interleaved with a bare hand-written SQL pass in the same run:

- run_integrity_checks for the main bot, against the same checks over the day's rows in bare SQL;
- daily_losses (the consecutive-daily-loss trigger's reading) over a 14-day experiment of a bot
  that sends no equity snapshots, against one bare query for the same 15 daily changes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops_bench .venv/bin/python \
        bench/integrity.py --trades 1000000 --bots 5

Goal: under 300 ms per bot for the checks at 1M trades; no evaluation that scans the history.
"""

import argparse
import datetime
import json
import random
import time
from decimal import Decimal
from types import SimpleNamespace

from common import peak_rss_mib, report, throwaway_database, timed  # sets Django up: first
from dataset import KNOWN_EXITS, build_fleet
from django.db import connection
from django.utils import timezone

from experiments.triggers import daily_losses
from ingestion.parsing import parse_json
from ingestion.records import PNL_TOLERANCE
from ingestion.services import ingest_records
from integrity.services import run_integrity_checks
from tradeops.models import EquitySnapshot, Fill, Trade

DAY = datetime.timedelta(days=1)


def backdate_history():
    """The dataset stamps every row with the load time; a real history was written as it
    happened: each trade when it closed, each fill at its time."""
    with connection.cursor() as cursor:
        for model, moment in ((Trade, "closed_at"), (Fill, "ts")):
            stamps = [f.column for f in model._meta.concrete_fields if f.column.endswith("ed_at")]
            stamps = [column for column in stamps if column in ("ingested_at", "changed_at")]
            assignments = ", ".join(f"{column} = {moment}" for column in stamps)
            cursor.execute(f"UPDATE {model._meta.db_table} SET {assignments}")
        cursor.execute("VACUUM ANALYZE tradeops_trade")
        cursor.execute("VACUUM ANALYZE tradeops_fill")


def ingest_a_day(bot, now, count, rng):
    """`count` trades through ingestion: sent open, then closed with their two fills (a tenth
    opened yesterday), as the bot reports them over a day."""
    opened, closed, fills = [], [], []
    for n in range(count):
        close = now - DAY + datetime.timedelta(seconds=(n + 1) * 86000 / count)
        start = close - datetime.timedelta(hours=30 if n % 10 == 0 else 1)
        gross = Decimal(rng.randint(-5000, 6000)) / 100
        fees, funding = Decimal(rng.randint(50, 300)) / 100, Decimal(rng.randint(-20, 50)) / 100
        base = {
            "external_id": f"D{n}",
            "symbol": f"SYM{n % 50:03d}USDT",
            "side": "short",
            "opened_at": start.isoformat(),
            "qty": "0.25",
            "entry_price": "100",
            "leverage": "5",
            "release": "v2",
            "est_fees": "1.5",
            "est_funding": "0.1",
            "est_slippage_bps": "1.2",
        }
        opened.append({**base, "status": "open", "exit_reason": ""})
        closed.append(
            {
                **base,
                "status": "closed",
                "closed_at": close.isoformat(),
                "exit_price": "99.9",
                "gross_pnl": str(gross),
                "fees": str(fees),
                "funding": str(funding),
                "net_pnl": str(gross - fees - funding),
                "exit_reason": rng.choice(KNOWN_EXITS),
            }
        )
        for leg, side, ts in (("E", "sell", start), ("X", "buy", close)):
            fills.append(
                {
                    "external_id": f"D{n}-{leg}",
                    "trade_external_id": f"D{n}",
                    "ts": ts.isoformat(),
                    "side": side,
                    "price": "100",
                    "qty": "0.25",
                    "fee": "0.5",
                    "liquidity": "taker",
                    "expected_price": "100",
                }
            )
    for kind, rows in (("trades", opened), ("fills", fills), ("trades", closed)):
        ingest_records(bot, kind, parse_json(json.dumps(rows)), source="bench")


def bare_queries(bot, now, since):
    """The same checks over the day's rows, hand-written: what a competent pass costs. Each
    reads an index range of the day (scan_kinds prints how)."""
    day_ago, skew = now - DAY, now + datetime.timedelta(minutes=5)
    sql = [
        (
            "SELECT count(*) FROM tradeops_quarantinedrecord WHERE bot_id = %s "
            "AND last_seen_at > %s",
            [bot.pk, since],
        ),
        (
            "SELECT id FROM tradeops_trade WHERE bot_id = %s AND status = 'closed' "
            "AND closed_at > %s AND (abs(net_pnl - (gross_pnl - fees - funding)) > %s "
            "OR opened_at > %s OR closed_at > %s OR external_id ~ '^\\s*$' OR symbol ~ '^\\s*$')",
            [bot.pk, day_ago, PNL_TOLERANCE, skew, skew],
        ),
        (
            "SELECT count(*), count(*) FILTER (WHERE exit_reason <> ALL(%s) OR exit_reason = '') "
            "FROM tradeops_trade WHERE bot_id = %s AND status = 'closed' "
            "AND closed_at > %s AND closed_at <= %s",
            [KNOWN_EXITS, bot.pk, day_ago, now],
        ),
        (
            "SELECT count(*) FROM tradeops_fill WHERE bot_id = %s AND trade_id IS NULL "
            "AND ts > %s AND ts < %s",
            [bot.pk, day_ago, now - datetime.timedelta(hours=1)],
        ),
        (
            "SELECT count(*) FROM tradeops_trade WHERE bot_id = %s AND status = 'closed' "
            "AND closed_at > %s AND release_id IS NULL",
            [bot.pk, day_ago],
        ),
        (
            "SELECT count(*) FROM tradeops_trade WHERE bot_id = %s AND status = 'open' "
            "AND opened_at < %s",
            [bot.pk, now - datetime.timedelta(hours=48)],
        ),
        (
            # Each of the day's trades reads its own fills by index (a join would let the
            # planner scan every fill of the history).
            "SELECT t.id FROM tradeops_trade t CROSS JOIN LATERAL (SELECT "
            "sum(f.qty) FILTER (WHERE (f.side = 'buy') = (t.side = 'long')) AS entry, "
            "sum(f.qty) FILTER (WHERE (f.side = 'buy') <> (t.side = 'long')) AS exit "
            "FROM tradeops_fill f WHERE f.trade_id = t.id) legs "
            "WHERE t.bot_id = %s AND t.status = 'closed' AND t.closed_at > %s "
            "AND (legs.entry <> t.qty OR legs.exit <> t.qty)",
            [bot.pk, day_ago],
        ),
        (
            "SELECT count(*) FROM tradeops_healthevent WHERE bot_id = %s "
            "AND kind IN ('kill_switch', 'degraded', 'safety_trigger') AND ts > %s AND ts <= %s",
            [bot.pk, day_ago, now],
        ),
    ]
    return sql


def bare_checks(bot, now, since):
    with connection.cursor() as cursor:
        for query, params in bare_queries(bot, now, since):
            cursor.execute(query, params)
            cursor.fetchall()


def scan_kinds(queries):
    """How PostgreSQL reads each query: its scan nodes and their relations (EXPLAIN, no run)."""

    def scans(node):
        found = [f"{node['Node Type']} {node.get('Index Name') or node.get('Relation Name')}"]
        found = found if "Scan" in node["Node Type"] else []
        return found + [kind for child in node.get("Plans", []) for kind in scans(child)]

    with connection.cursor() as cursor:
        for query, params in queries:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {query}", params)
            print(f"  bare: {', '.join(scans(cursor.fetchone()[0][0]['Plan']))}")


def bare_daily_losses(bot, started, now):
    """The daily equity changes in one query of the daily rollup the database keeps
    (DailyCloses): the days before the window summed as one group (NULL), then one row per
    day of the window; the starting equity plus those sums."""
    first = datetime.datetime.combine(started.date(), datetime.time(), tzinfo=datetime.UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN day >= %s THEN day END, sum(net_pnl) FROM tradeops_dailycloses "
            "WHERE bot_id = %s AND day <= %s GROUP BY 1",
            [first.date(), bot.pk, now.date()],
        )
        per_day = dict(cursor.fetchall())
    equity = bot.starting_equity + (per_day.pop(None, None) or Decimal(0))
    rows, day = [], first
    while day < now:
        change = per_day.get(day.date(), Decimal(0))
        rows.append((day.date(), float(change / equity * 100)))
        equity += change
        day += DAY
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--bots", type=int, default=5)
    parser.add_argument("--day", type=int, default=3_000, help="trades ingested for the day")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with throwaway_database():
        started = time.perf_counter()
        fleet = build_fleet(bots=args.bots, main_trades=args.trades, other_trades=2_000)
        backdate_history()
        main_bot = fleet.main
        print(f"fleet built in {time.perf_counter() - started:.0f} s ({args.trades} trades)")

        run_integrity_checks(main_bot, triggered_by="yesterday", now=timezone.now())
        ingest_a_day(main_bot, timezone.now(), args.day, random.Random(5))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        since = main_bot.integrity_runs.order_by("-started_at")[0].started_at
        scan_kinds(bare_queries(main_bot, timezone.now(), since))
        ours, bare = [], []
        for _ in range(args.runs):
            now = timezone.now()
            since = main_bot.integrity_runs.order_by("-started_at")[0].started_at
            elapsed, run = timed(run_integrity_checks, main_bot, triggered_by="bench")
            ours.append(elapsed)
            bare.append(timed(bare_checks, main_bot, now, since)[0])
        print(f"day's rows: {args.day} trades, {2 * args.day} fills; violations {run.violations}")
        report("run_integrity_checks (main bot)", ours, bare)

        # The daily-loss trigger on the trade curve: this bot sends no equity snapshots.
        EquitySnapshot.objects.filter(bot=main_bot).delete()
        now = timezone.now()
        subject = SimpleNamespace(bot=main_bot, started_at=now - 14 * DAY)
        ours, bare = [], []
        for _ in range(args.runs):
            elapsed, rows = timed(daily_losses, subject, now)
            ours.append(elapsed)
            elapsed, bare_rows = timed(bare_daily_losses, main_bot, subject.started_at, now)
            bare.append(elapsed)
        assert [day for day, _ in rows] == [day for day, _ in bare_rows], (rows, bare_rows)
        gap = max(abs(float(a) - b) for (_, a), (_, b) in zip(rows, bare_rows, strict=True))
        report(f"daily_losses over {len(rows)} days (no snapshots)", ours, bare)
        print(f"  largest difference of a day's change, app vs bare: {gap:.2g} %")
        print(f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
