"""Before/after, for a bot without a shadow: the baseline window against the test window, shown
for information; never a verdict."""

import math

import numpy as np

from experiments.verdicts.sequence import (
    ALPHA,
    MIN_TRADES,
    PLANNED_DAYS,
    POWER_Z,
    arm_figures,
    cs_multiplier,
    interval,
    number,
    sequential_rho,
)

BEFORE_AFTER_METHOD = (
    "asymptotic confidence sequence (Waudby-Smith et al. 2024, eq. 9; gbstats "
    "SequentialTwoSidedTTest), before/after, two samples (Welch)"
)
BEFORE_AFTER_ONLY = "before/after only"


def before_after(
    baseline_pnl,
    test_pnl,
    *,
    baseline_days,
    test_days,
    planned_days=PLANNED_DAYS,
    alpha=ALPHA,
    min_trades=MIN_TRADES,
    expectancy=None,
    currency="USDT",
):
    """Baseline window against the test window, without a shadow: the figures and an interval
    (two samples, Welch's variance, the same confidence sequence) for information only. The
    verdict is always "before/after only": the market moves between the windows as much as a
    lever does, and nothing here can tell the two apart."""
    base, test = np.asarray(baseline_pnl, float), np.asarray(test_pnl, float)
    nb, nt = len(base), len(test)
    result = {
        "verdict": BEFORE_AFTER_ONLY,
        "finding": BEFORE_AFTER_ONLY,
        "arms": {
            "baseline": arm_figures(base, baseline_days),
            "test": arm_figures(test, test_days),
        },
        "pairing": None,
        "confidence": 1 - alpha,
        "method": BEFORE_AFTER_METHOD,
    }
    advice = (
        "A before/after comparison cannot separate the change from the market, which moves "
        "between the two windows; give the bot a shadow (manage.py create_bot SLUG "
        "--shadow-of LIVE_SLUG) that runs the baseline beside the candidate on the same days."
    )
    if expectancy is None:
        expectancy = float(base.mean()) if nb else 0.0
    if nb < 2 or nt < 2:
        return result | {
            "wording": f"Before/after only, {nt} test trades. {advice}",
            "per_day": None,
            "per_trade": None,
            "detectable": None,
            "interval_excludes_zero": False,
            "expectancy": number(expectancy),
        }
    se_pt = math.sqrt(base.var(ddof=1) / nb + test.var(ddof=1) / nt)
    # Per day: a window's total over its days; the uncentred sum of squares is the variance of
    # a total of a random number of trades.
    se_day = math.sqrt((test @ test) / test_days**2 + (base @ base) / baseline_days**2)
    n = nb + nt
    planned_n = nb + nt / test_days * planned_days
    rho = sequential_rho(alpha, planned_n)
    mult, mult_planned = (
        float(cs_multiplier(n, alpha, rho)),
        float(cs_multiplier(planned_n, alpha, rho)),
    )
    per_trade = float(test.mean() - base.mean())
    per_day = float(test.sum() / test_days - base.sum() / baseline_days)
    low, high = per_day - mult * se_day, per_day + mult * se_day
    detectable = {
        "per_trade_now": number((mult + POWER_Z) * se_pt),
        "per_day_now": number((mult + POWER_Z) * se_day),
        "per_trade_planned": number(
            (mult_planned + POWER_Z)
            * math.sqrt(base.var(ddof=1) / nb + test.var(ddof=1) / (nt / test_days * planned_days))
        ),
        "per_day_planned": number(
            (mult_planned + POWER_Z)
            * math.sqrt((test @ test) / test_days / planned_days + (base @ base) / baseline_days**2)
        ),
        "power": 0.8,
    }
    return result | {
        "wording": (
            f"Before/after only: {per_day:+.2f} {currency} a day against the baseline window "
            f"({1 - alpha:.0%} interval {low:+.2f} to {high:+.2f}), for information. {advice}"
        ),
        "per_day": interval(per_day, low, high),
        "per_trade": interval(per_trade, per_trade - mult * se_pt, per_trade + mult * se_pt),
        "detectable": detectable,
        # What the old scorecard would have called a verdict: shown by the bench, never one.
        "interval_excludes_zero": bool(low > 0 or high < 0),
        "expectancy": number(expectancy),
    }
