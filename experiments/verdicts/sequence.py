"""The confidence sequence the verdicts rest on (gbstats' asymptotic sequence, see the package
docstring), the verdicts' names and thresholds, and each arm's figures."""

import math

import numpy as np

ALPHA = 0.05
MIN_TRADES = 30
MIN_DAYS = 2
PLANNED_DAYS = 7
DAY_SECONDS = 86400.0
# One-sided normal quantile of the power the detectable effect is stated at (80%).
POWER_Z = 0.8416212335729143
BETTER, WORSE, INCONCLUSIVE, TOO_EARLY = "better", "worse", "inconclusive", "too early"
VERDICTS = (INCONCLUSIVE, BETTER, WORSE, TOO_EARLY)  # codes 0..3 of `shadow_sequence`


def sequential_rho(alpha, planned_n):
    """gbstats' `sequential_rho` (two-sided): the mixing scale that makes the sequence tightest
    at `planned_n` units (eq. 161 of arXiv:2103.06476v7)."""
    return math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / planned_n)


def cs_multiplier(n, alpha, rho):
    """Halfwidth / standard error of the sequence after `n` units: gbstats'
    `sequential_interval_halfwidth(s2, n, ...)` with s2 = SE^2 * n, divided by SE. At the
    planned n it is 3.03 for alpha 0.05, against 1.96 for one look. Works on arrays."""
    x = np.asarray(n, float) * rho**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(2 * (x + 1) / x * np.log(np.sqrt(x + 1) / alpha))


def cs_halfwidth(s2, n, alpha, rho):
    """gbstats' `sequential_interval_halfwidth`, term for term (for the unit tests)."""
    return math.sqrt(s2) * math.sqrt(
        2 * (n * rho**2 + 1) * math.log(math.sqrt(n * rho**2 + 1) / alpha) / (n * rho) ** 2
    )


def profit_factor(pnl):
    """Gross wins / gross losses; inf when there is no loss (explicitly), None with no trade."""
    pnl = np.asarray(pnl, float)
    if not len(pnl):
        return None
    losses = -pnl[pnl < 0].sum()
    wins = pnl[pnl > 0].sum()
    return float(wins / losses) if losses > 0 else math.inf


def number(value, digits=6):
    """JSON-safe: inf and nan become None (the dict says why next to it)."""
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def arm_figures(pnl, elapsed_days):
    factor = profit_factor(pnl)
    return {
        "trades": len(pnl),
        "net_pnl": number(pnl.sum()),
        "expectancy": number(pnl.mean()) if len(pnl) else None,
        "profit_factor": number(factor),
        "no_losses": factor == math.inf,
        "net_pnl_per_day": number(pnl.sum() / elapsed_days),
    }


def interval(difference, low, high):
    return {"difference": number(difference), "low": number(low), "high": number(high)}
