"""How often each way of reading an experiment says "better" or "worse" when nothing changed, how
often it says so when something did, and what a verdict costs (issue 21, section 6).

    .venv/bin/python bench/verdicts.py [--runs 300] [--old-runs 200] [--old-fast-runs 40]

The market is tests/verdict_world.py: 10 closed trades a day an arm, Student-t(3) P&L with SD
3.5 USDT and expectancy 0.2, day effects (intra-day correlation 0.1-0.3) shared by both arms, the
market 0.5-1.0 USDT a trade higher in the test week than in the 30 days before, twins with P&L
correlation 0.9, and 15% of each arm's trades singles (unless a row says otherwise).

Rows:
- old: the scorecard before issue 21 (bench/old_scorecard.py: bootstrap + verdict): the
  candidate's test days against its own 30-day baseline window. Its resampling is slow, so it
  runs on fewer runs and resamples (--old-runs at 1,000 resamples for daily looks,
  --old-fast-runs at 400 for 15-minute looks).
- before/after (new): the same comparison in experiments.verdicts.before_after: its verdict is
  never better or worse; the rate shown is how often its interval excluded 0.
- shadow by day: gbstats' sequence on the day sums of candidate - shadow (n = whole days).
- twins, by-day variance only / independent units only: the trade-level sequence with one of
  the two variances.
- twins, robust (the method chosen): the larger of the two variances.
Columns: the share of A/A runs (the candidate is the baseline) with better or worse at any daily
look / any 15-minute look over 7 days; the share of runs "better" at day 7 when the candidate
adds 25%, 100% and 300% of the expectancy (+0.05, +0.2, +0.6 USDT a trade).
Then the time of one verdict on 7 days of 20,000 trades an arm, against its real limit: the
day-level statistic on the same trades (each arm's day sums, the mean day difference and its
standard error, the same sequence's interval at n = days; the "shadow by day" row's method, whose
false-verdict rate shows what the extra cost buys).
"""

import argparse
import math
import time

import common  # noqa: F401  (puts the repo on the path, sets Django up: the old scorecard needs it)
import numpy as np
import old_scorecard  # noqa: E402

from experiments import verdicts  # noqa: E402
from tests import verdict_world as world  # noqa: E402

DAILY = world.START + world.DAY * np.arange(1, 8)
FIFTEEN = world.START + 900 * np.arange(1, 7 * 96 + 1)
EFFECTS = (0.05, 0.2, 0.6)
SAY = (verdicts.VERDICTS.index("better"), verdicts.VERDICTS.index("worse"))


def markets(seed, runs, **market):
    rng = np.random.default_rng(seed)
    return [world.week(rng, **market) for _ in range(runs)]


def twins_row(runs, variance, **market):
    def said(looks, effect, final):
        hits = 0
        for candidate, shadow, _, _ in markets(11, runs, effect=effect, **market):
            path = verdicts.shadow_sequence(
                candidate, shadow, start=world.START, looks=looks, variance=variance
            )
            hits += (
                (path["verdict"][-1] == SAY[0]) if final else np.isin(path["verdict"], SAY).any()
            )
        return hits / runs

    return [said(DAILY, 0, False), said(FIFTEEN, 0, False)] + [
        said(DAILY, effect, True) for effect in EFFECTS
    ]


def by_day_row(runs, **market):
    """gbstats' sequence on day sums (n = whole days, s2 their variance), a verdict from day 2."""

    def verdicts_of(candidate, shadow):
        said = []
        for days in range(2, 8):
            d = [
                candidate["net_pnl"][day_of(candidate) == k].sum()
                - shadow["net_pnl"][day_of(shadow) == k].sum()
                for k in range(days)
            ]
            rho = verdicts.sequential_rho(0.05, 7)
            half = verdicts.cs_halfwidth(np.var(d, ddof=1), days, 0.05, rho) if days > 1 else 0
            said.append(1 if np.mean(d) - half > 0 else 2 if np.mean(d) + half < 0 else 0)
        return np.array(said)

    def day_of(arm):
        # The day a trade closed on, counted once it closed (whole days only).
        return np.floor((arm["closed_at"] - world.START) / world.DAY)

    def rate(effect, final):
        hits = 0
        for candidate, shadow, _, _ in markets(11, runs, effect=effect, **market):
            said = verdicts_of(candidate, shadow)
            hits += (said[-1] == 1) if final else np.isin(said, (1, 2)).any()
        return hits / runs

    a_a = rate(0, False)
    return [a_a, a_a] + [rate(effect, True) for effect in EFFECTS]


def before_after_row(runs):
    def rate(looks, effect, final):
        hits = 0
        for candidate, _, baseline, _ in markets(11, runs, effect=effect):
            excluded = []
            for look in looks:
                closed = candidate["closed_at"] < look
                result = verdicts.before_after(
                    baseline,
                    candidate["net_pnl"][closed],
                    baseline_days=30,
                    test_days=(look - world.START) / world.DAY,
                )
                assert result["verdict"] == "before/after only"
                excluded.append(result["interval_excludes_zero"])
            hits += excluded[-1] if final else any(excluded)
        return hits / runs

    return [rate(DAILY, 0, False), rate(FIFTEEN, 0, False)] + [
        rate(DAILY, effect, True) for effect in EFFECTS
    ]


def old_row(runs, fast_runs):
    def said(candidate, baseline, look, samples):
        test = candidate["net_pnl"][candidate["closed_at"] < look]
        interval, _ = old_scorecard.bootstrap(baseline, test, samples=samples, seed=1)
        return old_scorecard.verdict(interval) in ("better", "worse")

    def rate(looks, effect, final, n, samples):
        hits = 0
        for candidate, _, baseline, _ in markets(11, n, effect=effect):
            if final:
                test = candidate["net_pnl"][candidate["closed_at"] < looks[-1]]
                interval, _ = old_scorecard.bootstrap(baseline, test, samples=samples, seed=1)
                hits += old_scorecard.verdict(interval) == "better"
            else:
                hits += any(said(candidate, baseline, look, samples) for look in looks)
        return hits / n

    return [rate(DAILY, 0, False, runs, 1000), rate(FIFTEEN, 0, False, fast_runs, 400)] + [
        rate(DAILY, effect, True, runs, 1000) for effect in EFFECTS
    ]


def day_level_verdict(candidate, shadow, start, now):
    """The cheapest computation that yields a verdict on the same trades: each arm's net P&L per
    whole UTC day (one bincount each), the mean day difference, its standard error and the
    interval of the same confidence sequence at that many days. O(trades), no sort, no pairing."""
    days = int((now - start) // world.DAY)

    def day_sums(arm):
        day = ((arm["closed_at"] - start) // world.DAY).astype(int)
        kept = day < days
        return np.bincount(day[kept], weights=arm["net_pnl"][kept], minlength=days)

    difference = day_sums(candidate) - day_sums(shadow)
    mean, se = difference.mean(), difference.std(ddof=1) / math.sqrt(days)
    rho = verdicts.sequential_rho(verdicts.ALPHA, verdicts.PLANNED_DAYS)
    half = float(verdicts.cs_multiplier(days, verdicts.ALPHA, rho)) * se
    return "better" if mean - half > 0 else "worse" if mean + half < 0 else "inconclusive"


def timing(repeat=15):
    rng = np.random.default_rng(5)
    candidate, shadow, _, _ = world.week(rng, per_day=20_000 / 7)
    now = world.START + 7 * world.DAY
    ours, bare = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        verdicts.shadow_verdict(candidate, shadow, start=world.START, now=now)
        ours.append(time.perf_counter() - began)
        began = time.perf_counter()
        day_level_verdict(candidate, shadow, world.START, now)
        bare.append(time.perf_counter() - began)
    began = time.perf_counter()
    old_scorecard.bootstrap(shadow["net_pnl"], candidate["net_pnl"], seed=1)
    old = time.perf_counter() - began
    return len(candidate["net_pnl"]), len(shadow["net_pnl"]), ours, bare, old


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--old-runs", type=int, default=200)
    parser.add_argument("--old-fast-runs", type=int, default=40)
    args = parser.parse_args()
    rows = [
        (
            f"old: bootstrap, 30-day before/after ({args.old_runs}/{args.old_fast_runs} runs)",
            old_row(args.old_runs, args.old_fast_runs),
        ),
        ("before/after (new): interval excludes 0, verdict never", before_after_row(args.runs)),
        ("shadow by day (n = days)", by_day_row(args.runs)),
        ("twins, by-day variance only", twins_row(args.runs, "day")),
        ("twins, independent units only", twins_row(args.runs, "independent")),
        ("**twins, robust (chosen)**", twins_row(args.runs, "robust")),
        ("twins, robust, no singles", twins_row(args.runs, "robust", singles=0.0)),
        (
            "twins, robust, A/A with a day-dependent lever (0.5)",
            twins_row(args.runs, "robust", lever_day_sd=0.5)[:2] + [math.nan] * 3,
        ),
        (
            "twins, independent, A/A with a day-dependent lever (0.5)",
            twins_row(args.runs, "independent", lever_day_sd=0.5)[:2] + [math.nan] * 3,
        ),
    ]
    print(
        "| method | A/A any daily look | A/A any 15-min look | +25% (0.05) | +100% (0.2) |"
        " +300% (0.6) |"
    )
    print("|---|---|---|---|---|---|")
    for name, rates in rows:
        cells = " | ".join("" if math.isnan(r) else f"{r:.1%}" for r in rates)
        print(f"| {name} | {cells} |")
    nc, ns, ours, bare, old = timing()
    print()
    print(f"one verdict on 7 days, {nc} candidate and {ns} shadow trades:")
    ours_ms, bare_ms = np.median(ours) * 1000, np.median(bare) * 1000
    print(
        f"shadow_verdict: min {min(ours) * 1000:.1f} ms, median {ours_ms:.1f} ms | bare: "
        f"day-level statistic, min {min(bare) * 1000:.2f} ms, median {bare_ms:.2f} ms | ratio "
        f"{ours_ms / bare_ms:.0f} | old bootstrap (5000 resamples): {old * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
