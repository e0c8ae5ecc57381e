"""The experiment scorecard: baseline vs test for every KPI, with uncertainty, so a 5-day
result is not mistaken for a win.

The expectancy (net P&L per trade) difference and each side's profit factor get a percentile
bootstrap interval over trades; the verdict is "better" or "worse" only when the expectancy
interval excludes zero, otherwise "inconclusive".
"""

import datetime

import numpy as np

from kpis import queries
from kpis.registry import FIGURE_KEYS
from kpis.services import BASELINE_DAYS, compute_kpis

SAMPLES = 5000
CONFIDENCE = 0.95


def _percentiles(values, method="linear"):
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail], method=method)
    return float(low), float(high)


def expectancy_difference(baseline_pnl, test_pnl, *, samples=SAMPLES, seed=0):
    """(test mean - baseline mean, interval low, interval high), resampling trades of each side."""
    base, test = np.asarray(baseline_pnl, float), np.asarray(test_pnl, float)
    if len(base) == 0 or len(test) == 0:
        return None
    rng = np.random.default_rng(seed)
    base_means = rng.choice(base, (samples, len(base))).mean(axis=1)
    test_means = rng.choice(test, (samples, len(test))).mean(axis=1)
    low, high = _percentiles(test_means - base_means)
    return float(test.mean() - base.mean()), low, high


def profit_factor_interval(pnl, *, samples=SAMPLES, seed=0):
    """Bootstrap interval of gross wins / gross losses; resamples with no loss count as inf."""
    pnl = np.asarray(pnl, float)
    if len(pnl) == 0:
        return None
    draws = np.random.default_rng(seed).choice(pnl, (samples, len(pnl)))
    wins = np.where(draws > 0, draws, 0).sum(axis=1)
    losses = -np.where(draws < 0, draws, 0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = np.where(losses > 0, wins / losses, np.inf)
    # No interpolation: with infinite factors among the draws it would compute inf - inf.
    return _percentiles(factors, method="inverted_cdf")


def verdict(interval):
    if interval is None:
        return "inconclusive"
    _, low, high = interval
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "inconclusive"


def _finite(value):
    return None if value is None or not np.isfinite(value) else round(value, 6)


def build_scorecard(experiment, now):
    """Baseline: the baseline release's 30 days before the start. Test: the candidate since."""
    bot, start_day = experiment.bot, experiment.started_at.date()
    test_days = max((now.date() - start_day).days + 1, 1)
    test_end = start_day + datetime.timedelta(days=test_days)
    base = compute_kpis(bot, BASELINE_DAYS, start_day, experiment.baseline_release)
    test = compute_kpis(bot, test_days, test_end, experiment.candidate_release)
    base_pnl = queries.net_pnl_in_close_order(base.window)
    test_pnl = queries.net_pnl_in_close_order(test.window)
    interval = expectancy_difference(base_pnl, test_pnl, seed=experiment.pk)
    factors = {
        side: profit_factor_interval(pnl, seed=experiment.pk)
        for side, pnl in (("baseline", base_pnl), ("test", test_pnl))
    }
    return {
        "baseline": {
            "release": experiment.baseline_release.tag,
            "days": BASELINE_DAYS,
            "to": start_day.isoformat(),
            "figures": base.figures,
        },
        "test": {
            "release": experiment.candidate_release.tag,
            "days": test_days,
            "to": test_end.isoformat(),
            "figures": test.figures,
        },
        "kpis": [
            {
                "kpi": key,
                "baseline": base.figures[key],
                "test": test.figures[key],
                "primary": key in experiment.primary_kpis,
            }
            for key in FIGURE_KEYS
        ],
        "expectancy_difference": None
        if interval is None
        else {
            "difference": round(interval[0], 8),
            "low": round(interval[1], 8),
            "high": round(interval[2], 8),
            "confidence": CONFIDENCE,
        },
        "profit_factor_interval": {
            side: None
            if bounds is None
            else {"low": _finite(bounds[0]), "high": _finite(bounds[1])}
            for side, bounds in factors.items()
        },
        "verdict": verdict(interval),
        "trades": {"baseline": len(base_pnl), "test": len(test_pnl)},
    }
