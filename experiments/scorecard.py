"""The experiment scorecard: baseline vs test for every KPI, with uncertainty, so a 5-day
result is not mistaken for a win.

The expectancy (net P&L per trade) difference and each side's profit factor get a percentile
bootstrap interval over trades; the verdict is "better" or "worse" only when the expectancy
interval excludes zero, otherwise "inconclusive". The resamples are drawn in chunks, seeded by
the experiment, so a scorecard takes memory in proportion to its trades and comes out the same
each time. It takes seconds on a busy bot: the refresh job computes it and stores it on the
experiment (`refresh_scorecard`), the page shows the stored one, and a decision computes and
stores its own.
"""

import datetime
from decimal import Decimal

import numpy as np
from django.db.models import FloatField, Q
from django.db.models.functions import Cast

from experiments.models import Experiment
from kpis import queries
from kpis.calculations import money, rate
from kpis.registry import FIGURE_KEYS
from kpis.services import BASELINE_DAYS, compute_kpis

SAMPLES = 5000
CONFIDENCE = 0.95
# Trade indices drawn at once (8 MiB, plus two gathers of the same size): the resamples are
# drawn in chunks, so memory grows with the number of trades, never with trades x resamples.
DRAWS_AT_ONCE = 1 << 20
# The experiments whose scorecard the refresh job keeps: the ones still collecting evidence.
SCORED = (Experiment.Status.RUNNING, Experiment.Status.REVIEW)
DAY = datetime.timedelta(days=1)
# What the test's per-day figures divide by, as the scorecard says it.
ELAPSED = "elapsed"


def _percentiles(values, method="linear"):
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail], method=method)
    return float(low), float(high)


def resample_sums(pnl, *, samples, rng):
    """(net P&L, gross wins) of each of `samples` resamples of `pnl` drawn with replacement:
    every statistic of the scorecard is made of these two sums."""
    pnl = np.asarray(pnl, float)
    wins_of = np.maximum(pnl, 0)
    totals, wins = np.empty(samples), np.empty(samples)
    rows = max(1, DRAWS_AT_ONCE // len(pnl))
    for first in range(0, samples, rows):
        draws = rng.integers(0, len(pnl), (min(rows, samples - first), len(pnl)))
        totals[first : first + len(draws)] = pnl[draws].sum(axis=1)
        wins[first : first + len(draws)] = wins_of[draws].sum(axis=1)
    return totals, wins


def _difference(base, test, base_sums, test_sums):
    """(test mean - baseline mean, interval low, interval high)."""
    low, high = _percentiles(test_sums[0] / len(test) - base_sums[0] / len(base))
    return float(np.mean(test) - np.mean(base)), low, high


def _factor_interval(sums):
    """Gross wins / gross losses of each resample; resamples with no loss count as inf."""
    totals, wins = sums
    losses = wins - totals
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = np.where(losses > 0, wins / losses, np.inf)
    # No interpolation: with infinite factors among the draws it would compute inf - inf.
    return _percentiles(factors, method="inverted_cdf")


def expectancy_difference(baseline_pnl, test_pnl, *, samples=SAMPLES, seed=0):
    """(test mean - baseline mean, interval low, interval high), resampling trades of each side."""
    if len(baseline_pnl) == 0 or len(test_pnl) == 0:
        return None
    rng = np.random.default_rng(seed)
    base_sums = resample_sums(baseline_pnl, samples=samples, rng=rng)
    test_sums = resample_sums(test_pnl, samples=samples, rng=rng)
    return _difference(baseline_pnl, test_pnl, base_sums, test_sums)


def profit_factor_interval(pnl, *, samples=SAMPLES, seed=0):
    """Bootstrap interval of gross wins / gross losses."""
    if len(pnl) == 0:
        return None
    return _factor_interval(resample_sums(pnl, samples=samples, rng=np.random.default_rng(seed)))


def bootstrap(base, test, *, samples=SAMPLES, seed=0):
    """The expectancy difference and each side's profit factor interval from one set of
    resamples per side (None where a side has no trades)."""
    rng = np.random.default_rng(seed)
    sums = {
        side: resample_sums(pnl, samples=samples, rng=rng) if len(pnl) else None
        for side, pnl in (("baseline", base), ("test", test))
    }
    interval = None
    if len(base) and len(test):
        interval = _difference(base, test, sums["baseline"], sums["test"])
    factors = {side: _factor_interval(s) if s is not None else None for side, s in sums.items()}
    return interval, factors


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


def _net_pnl(window):
    """Each trade's net P&L as a float array, read without a Python object per trade."""
    rows = (
        queries.closed_trades(window)
        .order_by("closed_at", "id")
        .values_list(Cast("net_pnl", FloatField()), flat=True)
    )
    return np.fromiter(rows.iterator(chunk_size=20_000), float)


def per_elapsed_day(figures, elapsed_days):
    """The per-day figures over the days elapsed, a day begun counting by the time it has run:
    at 01:00 on the 7th day of a test started at 00:00, 6.04 days, not 7."""
    return figures | {
        "trades_per_day": rate(figures["trades"] / elapsed_days),
        "net_pnl_per_day": money(Decimal(figures["net_pnl"]) / Decimal(elapsed_days)),
    }


def build_scorecard(experiment, now):
    """Baseline: the baseline release's 30 days before the start. Test: the candidate from the
    start to `now`, its per-day figures over the days elapsed (per_elapsed_day)."""
    bot, start_day = experiment.bot, experiment.started_at.date()
    # The KPI window reads whole UTC days: every day the test touched, today's too. The
    # candidate's trades are the test's own, since it runs only from the start.
    touched = max((now.date() - start_day).days + 1, 1)
    test_end = start_day + datetime.timedelta(days=touched)
    elapsed_days = max(now - experiment.started_at, datetime.timedelta(seconds=1)) / DAY
    base = compute_kpis(bot, BASELINE_DAYS, start_day, experiment.baseline_release)
    test = compute_kpis(bot, touched, test_end, experiment.candidate_release)
    test_figures = per_elapsed_day(test.figures, elapsed_days)
    base_pnl, test_pnl = _net_pnl(base.window), _net_pnl(test.window)
    interval, factors = bootstrap(base_pnl, test_pnl, seed=experiment.pk)
    return {
        "baseline": {
            "release": experiment.baseline_release.tag,
            "days": BASELINE_DAYS,
            "to": start_day.isoformat(),
            "figures": base.figures,
        },
        "test": {
            "release": experiment.candidate_release.tag,
            "days": round(elapsed_days, 4),
            "days_basis": ELAPSED,
            "from": experiment.started_at.isoformat(),
            "to": now.isoformat(),
            "figures": test_figures,
        },
        "kpis": [
            {
                "kpi": key,
                "baseline": base.figures[key],
                "test": test_figures[key],
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


def refresh_scorecard(experiment, now):
    """Compute the scorecard as of `now` and store it on the experiment, unless the experiment
    has been decided or stopped since, or a later one is stored already (two runs raced).
    Returns whether it was stored."""
    card = build_scorecard(experiment, now)
    fresher = Q(scorecard_computed_at__isnull=True) | Q(scorecard_computed_at__lt=now)
    stored = Experiment.objects.filter(fresher, pk=experiment.pk, status__in=SCORED).update(
        scorecard=card, scorecard_computed_at=now
    )
    return stored == 1
