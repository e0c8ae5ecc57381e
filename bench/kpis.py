"""KPI engine speed on PostgreSQL (issue 11), on a realistic fleet (bench/dataset.py): 20 bots with
starting equity and hourly equity snapshots, the main one with `--trades` closes a year, 2 fills
each, random-walk prices, daily decision counts for 50 symbols, and days without trades inside the
7d and 30d windows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/kpis.py
    .venv/bin/python bench/kpis.py --trades 10000000 --keep     # load once, keep it for next time

Two jobs, each timed interleaved with two bare twins that compute the same numbers by hand and
are checked to agree:
- bare (the real limit): the window's rows of the daily rollup the database keeps (DailyCloses)
  in one query, the equity curve, the decision counts, numpy: what any implementation must read;
- old twin: the same with one SQL pass over the window's trades instead of the rollup (what the
  rollup saves; "0.17x" against it said only that);
for
- the daily snapshot job for the main bot: 7d + 30d over all releases (drawdown from the equity
  snapshots);
- the baseline report of its current release: 7d + 30d of that release's trades only (drawdown
  from the release's own trade curve, since the account's snapshots mix releases: the bare twin
  reads those closes too).
The measuring runs in a child process, so its peak memory is the KPI work's (plus Django and
pandas), not the loader's. Targets: under 1 s at 1M trades and 3 s at 10M, a ratio of at most 1.5,
under 500 MB.
"""

import argparse
import datetime
import subprocess
import sys
import time

import numpy as np
from common import peak_rss_mib, report, throwaway_database, timed  # sets Django up: first
from dataset import AS_OF, KNOWN_EXITS, build_fleet
from django.db import connection

from kpis.services import compute_kpis
from tradeops.models import Bot, EquitySnapshot

WINDOWS = (7, 30)
# Days (from the start of the year) without trades: two inside the 30d window, one inside the 7d.
DOWN_DAYS = (40, 41, 200, 350, 360)

# The figures of one window, by whether the exit reason is unknown (the bot's vocabulary).
ROLLUP_SQL = """
SELECT exit_reason = '' OR exit_reason <> ALL(%(known)s), SUM(trades), SUM(net_pnl)::float8,
  SUM(wins), SUM(win_pnl)::float8, SUM(loss_pnl)::float8, SUM(slippage_drift)::float8
FROM tradeops_dailycloses
WHERE bot_id = %(bot)s AND day >= %(first)s AND day < %(as_of)s
  AND (%(release)s::bigint IS NULL OR release_id = %(release)s)
GROUP BY 1
"""
# The same from the window's trades (the twin before issue 22).
SCAN_SQL = """
SELECT exit_reason = '' OR exit_reason <> ALL(%(known)s), COUNT(*), SUM(net_pnl)::float8,
  COUNT(*) FILTER (WHERE net_pnl > 0),
  COALESCE(SUM(net_pnl) FILTER (WHERE net_pnl > 0), 0)::float8,
  COALESCE(SUM(net_pnl) FILTER (WHERE net_pnl < 0), 0)::float8,
  SUM(realized_slippage - est_slippage_bps / 10000 * qty * (entry_price + exit_price))::float8
FROM tradeops_trade
WHERE bot_id = %(bot)s AND status = 'closed' AND closed_at >= %(start)s AND closed_at < %(end)s
  AND (%(release)s::bigint IS NULL OR release_id = %(release)s)
GROUP BY 1
"""

# The largest fall of one release's curve (the equity at the start plus its closes in order),
# walked where the closes are: fetching them to walk in numpy costs more than the walk.
RELEASE_FALL_SQL = """
SELECT COALESCE(MAX(GREATEST(%(base)s, peak) - equity), 0) FROM (
  SELECT equity, MAX(equity) OVER (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING) AS peak
  FROM (
    SELECT closed_at, id, %(base)s + SUM(net_pnl::float8)
      OVER (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING) AS equity
    FROM tradeops_trade WHERE bot_id = %(bot)s AND status = 'closed' AND closed_at >= %(start)s
      AND closed_at < %(end)s AND release_id = %(release)s
  ) AS curve
) AS peaks
"""


def bare(bot, days, release=None, scan=False):
    """The same headline numbers by hand, the least any implementation reads: the window's rows
    of the daily rollup the database keeps (DailyCloses, a few rows a day) in one query, the
    equity curve (the account's snapshots; for one release the walk of its closes in order, in
    the database, since a drawdown needs the path), the decision counts, numpy. `scan=True`
    reads the window's trades instead of the rollup: the twin before issue 22, kept to show
    what the rollup saves."""
    end = datetime.datetime.combine(AS_OF, datetime.time(), tzinfo=datetime.UTC)
    start = end - datetime.timedelta(days=days)
    params = {
        "bot": bot.pk,
        "start": start,
        "end": end,
        "first": start.date(),
        "as_of": AS_OF,
        "known": KNOWN_EXITS,
        "release": release.pk if release else None,
    }
    with connection.cursor() as cursor:
        cursor.execute(SCAN_SQL if scan else ROLLUP_SQL, params)
        rows = cursor.fetchall()
        if release is None:
            cursor.execute(
                "SELECT equity::float8 FROM tradeops_equitysnapshot WHERE bot_id = %s AND "
                "ts >= %s AND ts < %s ORDER BY ts",
                [bot.pk, start, end],
            )
            curve = np.array(cursor.fetchall(), dtype=float).ravel()
            fall = float((np.maximum.accumulate(curve) - curve).max())
        else:
            cursor.execute(
                "SELECT equity::float8 FROM tradeops_equitysnapshot WHERE bot_id = %s AND "
                "ts <= %s ORDER BY ts DESC LIMIT 1",
                [bot.pk, start],
            )
            params["base"] = cursor.fetchone()[0]
            cursor.execute(RELEASE_FALL_SQL, params)
            fall = cursor.fetchone()[0]
        cursor.execute(
            "SELECT outcome, reason, SUM(count) FROM tradeops_decisioncount WHERE bot_id = %s "
            "AND day >= %s AND day < %s GROUP BY outcome, reason",
            [bot.pk, start.date(), AS_OF],
        )
        decisions = cursor.fetchall()
    unknown = np.array([row[0] for row in rows], dtype=bool)
    sums = np.array([row[1:] for row in rows], dtype=float).reshape(-1, 6)
    trades, pnl, wins, win_pnl, loss_pnl, slippage = sums.sum(axis=0)
    counts = np.array([row[2] for row in decisions], dtype=float)
    no_signal = np.array([row[0] == "no_signal" for row in decisions])
    rejected = [row for row in decisions if row[0] == "rejected"]
    return {
        "trades": int(trades),
        "avg_pnl_per_trade": pnl / trades,
        "win_rate": wins / trades,
        "profit_factor": win_pnl / abs(loss_pnl),
        "unknown_exit_pct": sums[unknown, 0].sum() / trades,
        "slippage_drift": slippage,
        "max_drawdown_abs": fall,
        "no_signal_pct": counts[no_signal].sum() / counts.sum(),
        "top_rejection": min(rejected, key=lambda row: (-row[2], row[1]))[1],
    }


def disagreements(ours, theirs):
    """The figures where our snapshot and the bare pass differ (past presentation rounding)."""
    figures = ours.figures
    pairs = {
        "trades": (figures["trades"], theirs["trades"]),
        "avg_pnl_per_trade": (float(figures["avg_pnl_per_trade"]), theirs["avg_pnl_per_trade"]),
        "win_rate": (figures["win_rate"], theirs["win_rate"]),
        "profit_factor": (figures["profit_factor"], theirs["profit_factor"]),
        "unknown_exit_pct": (figures["unknown_exit_pct"], theirs["unknown_exit_pct"]),
        "slippage_drift": (
            float(figures["cost_drift"]["slippage"]["sum"]),
            theirs["slippage_drift"],
        ),
        "max_drawdown_abs": (float(figures["max_drawdown_abs"]), theirs["max_drawdown_abs"]),
        "no_signal_pct": (figures["no_signal_pct"], float(theirs["no_signal_pct"])),
    }
    wrong = [name for name, (a, b) in pairs.items() if abs(a - b) > 1e-5]
    if figures["top_rejection_reasons"][0]["reason"] != theirs["top_rejection"]:
        wrong.append("top_rejection_reasons")
    return wrong


def measure(args):
    """In the child process: time both jobs against their bare twins; memory of ours first."""
    with throwaway_database(args.database, drop=False):
        bot = Bot.objects.get(slug="main")
        release = bot.current_release
        jobs = [
            (
                "daily job, 7d + 30d",
                lambda: [compute_kpis(bot, days, AS_OF) for days in WINDOWS],
                lambda scan=False: [bare(bot, days, scan=scan) for days in WINDOWS],
            ),
            (
                f"baseline report of {release.tag}, 7d + 30d",
                lambda: [compute_kpis(bot, days, AS_OF, release) for days in WINDOWS],
                lambda scan=False: [bare(bot, days, release, scan) for days in WINDOWS],
            ),
        ]
        rss_start = peak_rss_mib()
        for _, ours, _ in jobs:
            ours()
        rss_ours = peak_rss_mib()
        for name, ours, theirs in jobs:
            ours_times, bare_times, scan_times = [], [], []
            for _ in range(args.repeat):
                seconds, results = timed(ours)
                ours_times.append(seconds)
                seconds, bare_results = timed(theirs)
                bare_times.append(seconds)
                seconds, scan_results = timed(theirs, scan=True)
                scan_times.append(seconds)
            wrong = [
                disagreements(o, t)
                for o, t in zip(results * 2, bare_results + scan_results, strict=True)
            ]
            counts = " + ".join(f"{result.figures['trades']:,}" for result in results)
            drawdown = results[0].figures["drawdown_source"]
            agreed = "same numbers" if not any(wrong) else f"DIFFERENT: {wrong}"
            print(f"  {name} ({counts} trades, drawdown from {drawdown}; {agreed})")
            report("    compute_kpis", ours_times, bare_times, "bare rollup read + numpy")
            report("    compute_kpis", ours_times, scan_times, "old twin, scan of the trades")
        print(
            f"  peak RSS: {rss_ours:,.0f} MiB after our KPI runs alone ({rss_start:,.0f} MiB "
            f"before them: Django, pandas), {peak_rss_mib():,.0f} MiB with the bare runs"
        )


def load(args):
    with throwaway_database(args.database, drop=not args.keep):
        if not Bot.objects.filter(slug="main").exists():
            started = time.perf_counter()
            build_fleet(bots=args.bots, main_trades=args.trades, down_days=DOWN_DAYS)
            print(f"loaded in {time.perf_counter() - started:.0f} s")
        snapshots = EquitySnapshot.objects.count()
        print(f"PostgreSQL {connection.pg_version}, Python {sys.version.split()[0]}")
        print(
            f"data: {Bot.objects.count()} bots, {args.trades:,} closes a year for the main bot "
            f"({2 * args.trades:,} fills), {snapshots:,} equity snapshots; "
            f"min and median of {args.repeat} interleaved runs:"
        )
        child = [sys.executable, __file__, "--measure", *sys.argv[1:]]
        subprocess.run(child, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--bots", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the loaded database")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.database = f"test_tradeops_bench_kpis_{args.bots}x{args.trades}"
    (measure if args.measure else load)(args)


if __name__ == "__main__":
    main()
