"""What the shadow test's intervals are made of: at each look, the counts and sums of both arms'
trades and twin pairs closed before it, overall and per UTC day of each trade's entry. Two sorts
and cumulative sums, however many looks."""

import numpy as np

from experiments.verdicts.sequence import DAY_SECONDS


def _before(times, columns, looks):
    """Sum of each column over the events at `times` (sorted) strictly before each look."""
    at = np.searchsorted(times, looks, side="left")
    return [np.concatenate([[0.0], np.cumsum(column)])[at] for column in columns]


def _sums(times, day, columns, looks, days, daily):
    """(totals, per day): each column summed over the events before each look, over all days
    (a list of (looks,) arrays), and the first `daily` columns per day of `days` (a list of
    (looks, days) arrays). Two sorts and cumulative sums: O(n log n + looks x days)."""
    order = np.argsort(times, kind="stable")
    totals = _before(times[order], [column[order] for column in columns], looks)
    order = np.lexsort((times, day))
    times, day = times[order], day[order]
    columns = [column[order] for column in columns[:daily]]
    edges = np.searchsorted(day, days, side="left"), np.searchsorted(day, days, side="right")
    per_day = [np.zeros((len(looks), len(days))) for _ in columns]
    for k, (first, last) in enumerate(zip(*edges, strict=True)):
        part = slice(first, last)
        for out, sums in zip(
            per_day, _before(times[part], [col[part] for col in columns], looks), strict=True
        ):
            out[:, k] = sums
    return totals, per_day


def evidence(candidate, shadow, pairs, looks):
    """For each look, the sums both intervals are made of (trades closed strictly before it).
    A twin pair is one unit once both halves closed; before that its closed half counts alone.
    Per UTC day of each trade's entry (the market's mood), the counts and sums too."""
    c, s = candidate["net_pnl"].astype(float), shadow["net_pnl"].astype(float)
    tc, ts = candidate["closed_at"].astype(float), shadow["closed_at"].astype(float)
    pc, ps = pairs["candidate"], pairs["shadow"]
    day_c = np.floor(candidate["opened_at"].astype(float) / DAY_SECONDS).astype(np.int64)
    day_s = np.floor(shadow["opened_at"].astype(float) / DAY_SECONDS).astype(np.int64)
    days = np.union1d(day_c, day_s)
    done = np.maximum(tc[pc], ts[ps])  # a pair is complete when its later half closed
    # A pair straddling midnight stays two trades, one on each day, in the per-day sums.
    day_p = np.where(day_c[pc] == day_s[ps], day_c[pc], days.min(initial=0) - 1)
    (n_c, sum_c, sq_c), (day_n_c, day_sum_c) = _sums(
        tc, day_c, [np.ones_like(c), c, c * c], looks, days, 2
    )
    (n_s, sum_s, sq_s), (day_n_s, day_sum_s) = _sums(
        ts, day_s, [np.ones_like(s), s, s * s], looks, days, 2
    )
    (pairs_n, pair_cs, pair_c, pair_s), (day_pairs,) = _sums(
        done, day_p, [np.ones_like(done), c[pc] * s[ps], c[pc], s[ps]], looks, days, 1
    )
    return {
        "n_c": n_c,
        "n_s": n_s,
        "sum_c": sum_c,
        "sum_s": sum_s,
        "sq_c": sq_c,
        "sq_s": sq_s,
        "pairs": pairs_n,
        "pair_cs": pair_cs,
        "pair_c": pair_c,
        "pair_s": pair_s,
        "day_n_c": day_n_c,
        "day_sum_c": day_sum_c,
        "day_n_s": day_n_s,
        "day_sum_s": day_sum_s,
        "day_pairs": day_pairs,
    }
