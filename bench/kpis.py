"""KPI engine speed on PostgreSQL: 1,000,000 closed trades over 365 days (2 fills each) and
100,000,000 decisions stored as daily counts for 200 symbols; the 7d and 30d snapshots.

Runs in a throw-away test database next to the one DATABASE_URL names:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/kpis.py

Prints the time of compute_kpis for 7d + 30d, the same numbers computed by a bare hand-written
SQL + pandas pass in the same run (and checks they agree), the ratio, and peak memory.
Targets (issue 3): both snapshots under 1 s, ratio at most 1.5. The bot sends no equity
snapshots here, so the drawdown takes the heavier trade-curve path.
"""

import argparse
import datetime
import random
import statistics
import sys
import time
from decimal import Decimal

import numpy as np
import pandas as pd
from common import peak_rss_mib, throwaway_database  # sets Django up: before tradeops and kpis
from dataset import add_fills
from django.db import connection

from kpis.services import compute_kpis
from tradeops.models import Bot

SYMBOLS = [f"SYM{n:03d}USDT" for n in range(200)]
REASONS = ["spread_too_wide", "risk_cap_reached", "cooldown_active", "low_volume"]
KNOWN = ["take_profit", "stop_loss", "trailing_stop", "time_exit"]
AS_OF = datetime.date(2026, 11, 1)
DAYS = 365


def load(bot, trades):
    """Bulk-load the history with COPY (this bench measures the KPIs, not ingestion)."""
    rng = random.Random(3)
    start = datetime.datetime.combine(AS_OF, datetime.time(), tzinfo=datetime.UTC)
    start -= datetime.timedelta(days=DAYS)
    now = datetime.datetime.now(datetime.UTC)
    step = DAYS * 86400 / trades
    trade_columns = (
        "bot_id, external_id, symbol, side, status, opened_at, closed_at, qty, entry_price, "
        "exit_price, leverage, gross_pnl, fees, funding, net_pnl, exit_reason, release_tag, "
        "est_fees, est_funding, est_slippage_bps, ingested_at"
    )
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY tradeops_trade ({trade_columns}) FROM STDIN") as copy:
            for n in range(trades):
                closed = start + datetime.timedelta(seconds=n * step + 30)
                gross = Decimal(rng.randint(-5000, 6000)) / 100
                fees, funding = (
                    Decimal(rng.randint(50, 300)) / 100,
                    Decimal(rng.randint(-20, 50)) / 100,
                )
                reason = rng.choice(KNOWN) if rng.random() > 0.01 else "mystery"
                copy.write_row(
                    (
                        bot.pk,
                        f"B{n}",
                        rng.choice(SYMBOLS),
                        "short" if rng.random() < 0.75 else "long",
                        "closed",
                        closed - datetime.timedelta(minutes=45),
                        closed,
                        Decimal("0.25"),
                        Decimal("64000.5"),
                        Decimal("63950.25"),
                        5,
                        gross,
                        fees,
                        funding,
                        gross - fees - funding,
                        reason,
                        "v1",
                        Decimal("1.5"),
                        Decimal("0.1"),
                        Decimal("1.2"),
                        now,
                    )
                )
        add_fills(cursor, bot)
        # Per symbol and day: 1,369 evaluations (365 x 200 x 1,369 = 99,937,000 decisions).
        counts = [("no_signal", "", 1140), ("signal", "", 45)]
        counts += [
            ("rejected", reason, n) for reason, n in zip(REASONS, (90, 60, 20, 14), strict=True)
        ]
        with cursor.cursor.copy(
            "COPY tradeops_decisioncount (bot_id, day, symbol, outcome, reason, count) FROM STDIN"
        ) as copy:
            for d in range(DAYS):
                day = AS_OF - datetime.timedelta(days=DAYS - d)
                for symbol in SYMBOLS:
                    for outcome, reason, count in counts:
                        copy.write_row((bot.pk, day, symbol, outcome, reason, count))
        cursor.execute("ANALYZE")


BARE_SQL = """
SELECT (closed_at AT TIME ZONE 'UTC')::date AS day, COUNT(*) AS trades, SUM(net_pnl) AS pnl,
  COUNT(*) FILTER (WHERE net_pnl > 0) AS wins,
  COALESCE(SUM(net_pnl) FILTER (WHERE net_pnl > 0), 0) AS win_pnl,
  COUNT(*) FILTER (WHERE net_pnl < 0) AS losses,
  COALESCE(SUM(net_pnl) FILTER (WHERE net_pnl < 0), 0) AS loss_pnl,
  COUNT(*) FILTER (WHERE side = 'long') AS longs,
  COUNT(*) FILTER (WHERE exit_reason <> ALL(%(known)s) OR exit_reason = '') AS unknown_exits,
  SUM(fees - est_fees) AS fees_drift, SUM(ABS(fees - est_fees)) AS fees_abs,
  SUM(funding - est_funding) AS funding_drift, SUM(ABS(funding - est_funding)) AS funding_abs,
  SUM(realized_slippage - est_slippage_bps / 10000 * qty * (entry_price + exit_price))
    AS slippage_drift,
  SUM(ABS(realized_slippage - est_slippage_bps / 10000 * qty * (entry_price + exit_price)))
    AS slippage_abs
FROM tradeops_trade
WHERE bot_id = %(bot)s AND status = 'closed' AND closed_at >= %(start)s AND closed_at < %(end)s
GROUP BY 1 ORDER BY 1
"""


def bare(bot, days):
    """The same headline numbers by hand: one SQL rollup, the P&L column, decisions, pandas."""
    end = datetime.datetime.combine(AS_OF, datetime.time(), tzinfo=datetime.UTC)
    start = end - datetime.timedelta(days=days)
    params = {"bot": bot.pk, "start": start, "end": end, "known": KNOWN}
    with connection.cursor() as cursor:
        cursor.execute(BARE_SQL, params)
        columns = [column.name for column in cursor.description]
        rollup = pd.DataFrame(cursor.fetchall(), columns=columns)
        cursor.execute(
            "SELECT net_pnl FROM tradeops_trade WHERE bot_id = %s AND status = 'closed' AND "
            "closed_at >= %s AND closed_at < %s ORDER BY closed_at, id",
            [bot.pk, start, end],
        )
        pnl = np.array([float(row[0]) for row in cursor.fetchall()])
        cursor.execute(
            "SELECT outcome, reason, SUM(count) FROM tradeops_decisioncount WHERE bot_id = %s "
            "AND day >= %s AND day < %s GROUP BY outcome, reason",
            [bot.pk, start.date(), AS_OF],
        )
        decisions = pd.DataFrame(cursor.fetchall(), columns=["outcome", "reason", "count"])
    trades = int(rollup["trades"].sum())
    net = float(rollup["pnl"].astype(float).sum())
    curve = np.concatenate([[0.0], np.cumsum(pnl)])
    peaks = np.maximum.accumulate(curve)
    rejected = decisions[decisions["outcome"] == "rejected"].sort_values("count", ascending=False)
    return {
        "trades": trades,
        "avg_pnl_per_trade": net / trades,
        "win_rate": rollup["wins"].sum() / trades,
        "profit_factor": float(rollup["win_pnl"].astype(float).sum())
        / abs(float(rollup["loss_pnl"].astype(float).sum())),
        "max_drawdown_abs": float((peaks - curve).max()),
        "no_signal_pct": decisions.loc[decisions["outcome"] == "no_signal", "count"].sum()
        / decisions["count"].sum(),
        "top_rejection": rejected.iloc[0]["reason"],
    }


def agree(ours, theirs):
    figures = ours.figures
    checks = [
        figures["trades"] == theirs["trades"],
        abs(float(figures["avg_pnl_per_trade"]) - theirs["avg_pnl_per_trade"]) < 1e-6,
        abs(figures["win_rate"] - theirs["win_rate"]) < 1e-6,
        abs(figures["profit_factor"] - theirs["profit_factor"]) < 1e-6,
        abs(float(figures["max_drawdown_abs"]) - theirs["max_drawdown_abs"]) < 1e-6,
        abs(figures["no_signal_pct"] - float(theirs["no_signal_pct"])) < 1e-6,
        figures["top_rejection_reasons"][0]["reason"] == theirs["top_rejection"],
    ]
    return all(checks)


def timed(func, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with throwaway_database():
        bot = Bot.objects.create(slug="bench", name="bench", known_exit_reasons=KNOWN)
        started = time.perf_counter()
        load(bot, args.trades)
        loaded = time.perf_counter() - started
        rss_loaded = peak_rss_mib()

        ours, results = timed(lambda: [compute_kpis(bot, d, AS_OF) for d in (7, 30)], args.repeat)
        theirs, bare_results = timed(lambda: [bare(bot, d) for d in (7, 30)], args.repeat)
        matches = all(agree(o, t) for o, t in zip(results, bare_results, strict=True))

        with connection.cursor() as cursor:
            cursor.execute("SELECT SUM(count) FROM tradeops_decisioncount")
            decisions = cursor.fetchone()[0]
        print(f"PostgreSQL {connection.pg_version}, Python {sys.version.split()[0]}")
        print(
            f"data: {args.trades:,} closed trades over {DAYS} days, {2 * args.trades:,} fills, "
            f"{decisions:,} decisions as daily counts ({len(SYMBOLS)} symbols); "
            f"loaded in {loaded:.0f} s"
        )
        print(
            f"7d + 30d snapshots: {ours * 1000:7.1f} ms (median of {args.repeat}; target < 1000 ms;"
            f" {results[0].figures['trades']:,} + {results[1].figures['trades']:,} trades)"
        )
        print(f"bare SQL + pandas:  {theirs * 1000:7.1f} ms (same numbers: {matches})")
        print(f"ratio:              {ours / theirs:7.2f} (target <= 1.5)")
        print(f"peak RSS:           {peak_rss_mib():7.0f} MiB ({rss_loaded:.0f} MiB after loading)")


if __name__ == "__main__":
    main()
