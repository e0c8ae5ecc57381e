"""The scorecard's verdict before issue 21, kept here only to measure the new one against it
(bench/verdicts.py): a percentile bootstrap of the expectancy difference between the baseline's
30 days before the start and the test days, read as "better" or "worse" when its interval
excluded zero, whenever it was read."""

import numpy as np

SAMPLES = 5000
CONFIDENCE = 0.95
# Trade indices drawn at once: memory grows with the trades, never with trades x resamples.
DRAWS_AT_ONCE = 1 << 20


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
