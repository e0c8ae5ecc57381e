"""Honest verdicts: the candidate against its concurrent shadow, with intervals that stay valid
however often anyone looks, and the effect the test can detect (issue 21). Pure numpy: no
Django, no database; `experiments/scorecard.py` feeds it arrays.

What is compared. A live bot runs the CANDIDATE release; its shadow runs the BASELINE release
dry-run on the same pairs and days. Over the same elapsed time, the money difference is
T = (candidate net P&L) - (shadow net P&L) of the trades closed in [start, now), and the verdict
is on T per elapsed day (candidate - shadow). Trades are paired as TWINS (same symbol and side,
opened at most `tolerance_seconds` apart, default 300 s: a bot polls every few seconds to a
minute, so two configs taking the same signal open well within 5 minutes, while two unrelated
entries on one pair and side rarely do; one-to-one, nearest first). The unit of the variance is
a twin pair (c - s: the shared market moves cancel, P&L correlation ~0.9 leaves a tenth of the
variance), a trade only the candidate took (+c) or a trade only the shadow took (-s). The
singles are the lever's effect on selection: they count in T and in its variance, never dropped.

Interval. GrowthBook's asymptotic confidence sequence (gbstats `SequentialTwoSidedTTest`,
packages/stats/gbstats/frequentist/tests.py, `sequential_rho` and
`sequential_interval_halfwidth`; growthbook/growthbook), which is eq. 9 of Waudby-Smith,
Arnold, Wu, Howard & Ramdas, "Time-uniform central limit theory and asymptotic confidence
sequences", Annals of Statistics 2024 (arXiv:2103.06476): with n units, s2 = SE^2 * n,

    halfwidth = sqrt(s2) * sqrt(2 (n rho^2 + 1) / (n rho)^2 * log(sqrt(n rho^2 + 1) / alpha))
    rho = sqrt((-2 log(alpha) + log(-2 log(alpha) + 1)) / N)       (eq. 161, two-sided)

where N, gbstats' `sequential_tuning_parameter`, is the planned sample: here the units one
planned duration (default 7 days) brings at the rate seen so far. The interval is tightest
there; it holds at every look, every 15 minutes or daily, at the stated level. Each look reports
the running intersection of the intervals at every 15 minutes since the minimum was met (the
intersection of a confidence sequence is one too): a verdict once reached is not lost to the
next refresh's noise, which is most of the power at day 7.

Days share the market's mood, so trades of one UTC day are not independent. The variance per
unit is the larger of the independent-units estimate and the cluster-robust one by UTC day of
each trade's entry (CR1, G/(G-1)): the twins' differences cancel the day's shared move, so the
first is right and stable when the arms trade alike; the second catches what a day leaves when
they do not (a day of more candidate singles than shadow ones), and with few days it is noisy
on both sides, so alone it would let an unlucky low estimate through. The simulation
(tests/test_verdict_simulation.py, bench/verdicts.py) keeps the false verdicts under 5% this
way; a sequence on day sums alone (n = days) does not: with 2 to 7 units its variance estimate
has 1 to 6 degrees of freedom, and the asymptotic sequence needs many.

Before/after (no shadow): the same interval (two samples, Welch's variance, as gbstats), shown
for information; its verdict is never better or worse, since the market moves between the two
windows as much as any lever does.

Cost: closed form, one sort of the trades and cumulative sums; O(trades log trades) time,
O(trades) memory; a look at many times (`shadow_sequence`) costs one pass.
"""

import heapq
import math

import numpy as np

ALPHA = 0.05
TOLERANCE_SECONDS = 300
MIN_TRADES = 30
MIN_DAYS = 2
PLANNED_DAYS = 7
DAY_SECONDS = 86400.0
# One-sided normal quantile of the power the detectable effect is stated at (80%).
POWER_Z = 0.8416212335729143
# A test that detects this many times the bot's expectancy, or more, measures nothing yet.
MEASURABLE = 1.0
# The share of both arms' trades that must be twins for the shadow to be a like-for-like control:
# a shadow that trades other pairs or times than the candidate shares no market moments with it,
# and its day-clustered variance over a week's few days passed 8% false verdicts in A/A runs.
MIN_PAIRED = 0.5
NOT_LIKE_FOR_LIKE = "not like for like"
# Vectorised matching rounds before the remaining (adversarial) chains go to the heap.
ROUNDS = 12
# The running intersection is taken at these steps from the start: the refresh job's period.
GRID_SECONDS = 900
METHOD = (
    "asymptotic confidence sequence (Waudby-Smith et al. 2024, eq. 9; gbstats "
    "SequentialTwoSidedTTest), candidate vs concurrent shadow, twin trades paired, "
    "variance robust to UTC-day clustering"
)
BEFORE_AFTER_METHOD = (
    "asymptotic confidence sequence (Waudby-Smith et al. 2024, eq. 9; gbstats "
    "SequentialTwoSidedTTest), before/after, two samples (Welch)"
)
BETTER, WORSE, INCONCLUSIVE, TOO_EARLY = "better", "worse", "inconclusive", "too early"
BEFORE_AFTER_ONLY = "before/after only"
VERDICTS = (INCONCLUSIVE, BETTER, WORSE, TOO_EARLY)  # codes 0..3 of `shadow_sequence`
FIELDS = ("symbol", "side", "opened_at", "closed_at", "net_pnl")


# --- the confidence sequence ------------------------------------------------------------------


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


# --- figures ----------------------------------------------------------------------------------


def profit_factor(pnl):
    """Gross wins / gross losses; inf when there is no loss (explicitly), None with no trade."""
    pnl = np.asarray(pnl, float)
    if not len(pnl):
        return None
    losses = -pnl[pnl < 0].sum()
    wins = pnl[pnl > 0].sum()
    return float(wins / losses) if losses > 0 else math.inf


def _number(value, digits=6):
    """JSON-safe: inf and nan become None (the dict says why next to it)."""
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _arm_figures(pnl, elapsed_days):
    factor = profit_factor(pnl)
    return {
        "trades": len(pnl),
        "net_pnl": _number(pnl.sum()),
        "expectancy": _number(pnl.mean()) if len(pnl) else None,
        "profit_factor": _number(factor),
        "no_losses": factor == math.inf,
        "net_pnl_per_day": _number(pnl.sum() / elapsed_days),
    }


# --- twins ------------------------------------------------------------------------------------


def _codes(values_a, values_b):
    """Integer codes of the values of both arms, shared (str or int). A dict, not np.unique: a
    week of a busy bot is tens of thousands of strings of a few dozen pairs, which np.unique
    would sort as Python objects."""
    both = np.concatenate([np.asarray(values_a), np.asarray(values_b)])
    if not len(both):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    index = {}
    codes = np.fromiter(
        (index.setdefault(v, len(index)) for v in both.tolist()), np.int64, len(both)
    )
    return codes[: len(values_a)], codes[len(values_a) :]


def _nearest_round(group, time, arm, line, tolerance):
    """One round of mutual nearest neighbours on the merged, sorted line: each element's nearest
    trade of the other arm in its group, matched where two choose each other. Nearest is by
    (gap, distance on the original line, left first): a strict order on pairs, so the round
    matches exactly what the greedy would match first. Returns (left, right) positions."""
    n = len(time)
    pos = np.arange(n)
    other_left = np.empty(n, np.int64)
    other_right = np.empty(n, np.int64)
    for a in (0, 1):
        # The last element of arm a at or before each position, and the first at or after.
        last = np.maximum.accumulate(np.where(arm == a, pos, -1))
        first = np.minimum.accumulate(np.where(arm == a, pos, n)[::-1])[::-1]
        mine = arm != a
        other_left[mine], other_right[mine] = last[mine], first[mine]
    li, ri = np.clip(other_left, 0, n - 1), np.clip(other_right, 0, n - 1)
    left_gap = np.where((other_left >= 0) & (group[li] == group), time - time[li], np.inf)
    right_gap = np.where((other_right < n) & (group[ri] == group), time[ri] - time, np.inf)
    left_gap[left_gap > tolerance] = np.inf
    right_gap[right_gap > tolerance] = np.inf
    choose_left = (left_gap < right_gap) | (
        (left_gap == right_gap) & (line - line[li] <= line[ri] - line)
    )
    nearest = np.where(choose_left, li, ri)
    has = np.minimum(left_gap, right_gap) < np.inf
    mutual = has & has[nearest] & (nearest[nearest] == pos) & (pos < nearest)
    return pos[mutual], nearest[mutual]


def _heap_rest(group, time, arm, line, tolerance):
    """Greedy nearest-first on what the rounds left (long alternating chains): a linked list of
    the line and a heap of adjacent opposite-arm gaps, O(m log m). The closest remaining pair is
    always adjacent once matched elements are unlinked."""
    n = len(time)
    prev, nxt = list(range(-1, n - 1)), list(range(1, n + 1))
    alive = [True] * n
    heap = []

    def push(i, j):
        if i >= 0 and j < n and arm[i] != arm[j] and group[i] == group[j]:
            gap = time[j] - time[i]
            if gap <= tolerance:
                heapq.heappush(heap, (gap, line[j] - line[i], line[i], i, j))

    for i in range(n - 1):
        push(i, i + 1)
    pairs = []
    while heap:
        *_, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j]) or nxt[i] != j:
            continue
        alive[i] = alive[j] = False
        pairs.append((i, j))
        before, after = prev[i], nxt[j]
        if before >= 0:
            nxt[before] = after
        if after < n:
            prev[after] = before
        push(before, after)
    return pairs


def twins(candidate, shadow, *, tolerance_seconds=TOLERANCE_SECONDS):
    """Twin trades: same symbol and side, opened at most `tolerance_seconds` apart (inclusive),
    one-to-one, nearest first: the globally closest pair is matched first, then the closest of
    the rest, and so on. Equal gaps go to the pair with fewer trades of that symbol and side
    opened between them, then to the earlier pair (opening order: time, candidate before
    shadow, then the arm's own order). Each arm is a dict of equal-length arrays with at least
    `symbol`, `side`, `opened_at` (epoch seconds).

    Returns {"candidate": i, "shadow": j} (pair k is candidate[i[k]] with shadow[j[k]]),
    "candidate_only" and "shadow_only" (indices), all int arrays. Sorting by (symbol, side,
    opened_at), then rounds of mutual nearest neighbours on that line, each O(n); what rounds
    leave (only adversarial chains of entries) goes to a heap: O(n log n)."""
    nc, ns = len(candidate["opened_at"]), len(shadow["opened_at"])
    sym_c, sym_s = _codes(candidate["symbol"], shadow["symbol"])
    side_c, side_s = _codes(candidate["side"], shadow["side"])
    sides = int(max(side_c.max(initial=0), side_s.max(initial=0))) + 1
    group = np.concatenate([sym_c * sides + side_c, sym_s * sides + side_s])
    time = np.concatenate(
        [np.asarray(candidate["opened_at"], float), np.asarray(shadow["opened_at"], float)]
    )
    arm = np.concatenate([np.zeros(nc, np.int8), np.ones(ns, np.int8)])
    index = np.concatenate([np.arange(nc), np.arange(ns)])
    order = np.lexsort((index, arm, time, group))
    group, time, arm, index = group[order], time[order], arm[order], index[order]
    line = np.arange(len(time))
    matched_c, matched_s = [], []
    for _ in range(ROUNDS):
        left, right = _nearest_round(group, time, arm, line, tolerance_seconds)
        if not len(left):
            break
        for a, b in ((left, right), (right, left)):
            matched_c.append(index[a][arm[a] == 0])
            matched_s.append(index[b][arm[a] == 0])
        keep = np.ones(len(time), bool)
        keep[left] = keep[right] = False
        group, time, arm, index, line = (x[keep] for x in (group, time, arm, index, line))
    else:
        for i, j in _heap_rest(group, time, arm, line, tolerance_seconds):
            c, s = (i, j) if arm[i] == 0 else (j, i)
            matched_c.append(index[[c]])
            matched_s.append(index[[s]])
    pair_c = np.concatenate(matched_c) if matched_c else np.zeros(0, np.int64)
    pair_s = np.concatenate(matched_s) if matched_s else np.zeros(0, np.int64)
    by_candidate = np.argsort(pair_c, kind="stable")
    pair_c, pair_s = pair_c[by_candidate].astype(np.int64), pair_s[by_candidate].astype(np.int64)
    return {
        "candidate": pair_c,
        "shadow": pair_s,
        "candidate_only": np.setdiff1d(np.arange(nc), pair_c),
        "shadow_only": np.setdiff1d(np.arange(ns), pair_s),
    }


# --- the shadow test --------------------------------------------------------------------------


def _closed_in(arm, start, end):
    """The arm's trades closed in [start, end), as float/ndarray fields."""
    closed = np.asarray(arm["closed_at"], float)
    keep = (closed >= start) & (closed < end)
    return {field: np.asarray(arm[field])[keep] for field in FIELDS}


def whole_days(start, now):
    """Whole UTC days between start and now (a day counts when all of it is in [start, now))."""
    return max(0, math.floor(now / DAY_SECONDS) - math.ceil(start / DAY_SECONDS))


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


def _evidence(candidate, shadow, pairs, looks):
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


def _variance(independent, by_day, variance):
    """The variance per unit: "robust" (the default) takes the larger of the independent-units
    and the by-day (cluster-robust) estimates; "independent" and "day" are the two alone, kept
    for the bench's comparison."""
    by_day = np.where(np.isfinite(by_day), by_day, np.nan)
    if variance == "independent":
        return independent
    if variance == "day":
        return by_day
    return np.fmax(independent, by_day)


def _intervals(e, elapsed_days, planned_days, alpha, variance):
    """Point estimates, standard errors, units and the sequence's multiplier, per look."""
    n_c, n_s, pairs = e["n_c"], e["n_s"], e["pairs"]
    units = n_c + n_s - pairs
    total = e["sum_c"] - e["sum_s"]
    with np.errstate(divide="ignore", invalid="ignore"):
        # Money: units u = c - s (pair), c (candidate only), -s (shadow only); T = sum(u).
        mean_u = total / units
        sq_u = e["sq_c"] + e["sq_s"] - 2 * e["pair_cs"]
        var_iid = (sq_u - units * mean_u**2) / (units - 1)
        day_units = e["day_n_c"] + e["day_n_s"] - e["day_pairs"]
        day_total = e["day_sum_c"] - e["day_sum_s"]
        clusters = (day_units > 0).sum(axis=1)
        small = np.where(clusters > 1, clusters / (clusters - 1), np.nan)
        resid = day_total - day_units * mean_u[:, None]
        var_u = _variance(var_iid, small * (resid**2).sum(axis=1) / units, variance)
        # Expectancy difference m_c - m_s, linearised: each trade's (x - m) / n, a pair's two
        # halves summed into one unit.
        m_c, m_s = e["sum_c"] / n_c, e["sum_s"] / n_s
        a2 = e["sq_c"] - n_c * m_c**2
        b2 = e["sq_s"] - n_s * m_s**2
        ab = e["pair_cs"] - m_c * e["pair_s"] - m_s * e["pair_c"] + pairs * m_c * m_s
        var_pt_iid = (a2 / n_c**2 + b2 / n_s**2 - 2 * ab / (n_c * n_s)) * units / (units - 1)
        v_day = (e["day_sum_c"] - e["day_n_c"] * m_c[:, None]) / n_c[:, None] - (
            e["day_sum_s"] - e["day_n_s"] * m_s[:, None]
        ) / n_s[:, None]
        var_pt = _variance(var_pt_iid, small * (v_day**2).sum(axis=1), variance)
        # gbstats' tuning parameter: the units the planned duration brings at the rate so far.
        planned_units = units / elapsed_days * planned_days
        rho = np.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / planned_units)
        mult = cs_multiplier(units, alpha, rho)
        half_u = mult * np.sqrt(var_u / units)
        return {
            "units": units,
            "mean_u": mean_u,
            "low_u": mean_u - half_u,
            "high_u": mean_u + half_u,
            "per_day": total / elapsed_days,
            "se_day": np.sqrt(units * var_u) / elapsed_days,
            "per_trade": m_c - m_s,
            "se_pt": np.sqrt(var_pt),
            "mult": mult,
            "planned_units": planned_units,
            "mult_planned": cs_multiplier(planned_units, alpha, rho),
        }


def _as_arm(arm):
    return {field: np.asarray(arm[field]) for field in FIELDS}


def _running(low, high, eligible):
    """The running intersection of the intervals since the minimum was met (an intersection of a
    confidence sequence is one too, and never loses a verdict it reached); where it came out
    empty, which a correct sequence almost never does, the current interval."""
    lo = np.maximum.accumulate(np.where(eligible, low, -np.inf))
    hi = np.minimum.accumulate(np.where(eligible, high, np.inf))
    empty = lo > hi
    return np.where(empty, low, lo), np.where(empty, high, hi)


def shadow_sequence(
    candidate,
    shadow,
    *,
    start,
    looks,
    planned_days=PLANNED_DAYS,
    alpha=ALPHA,
    min_trades=MIN_TRADES,
    min_days=MIN_DAYS,
    tolerance_seconds=TOLERANCE_SECONDS,
    variance="robust",
    grid_seconds=GRID_SECONDS,
):
    """The test at each of `looks` (epoch seconds, after `start`) in one pass: the trades closed
    in [start, last look) are paired once, and each look counts those closed before it (a pair
    whose second half is still open counts its closed half alone, as `shadow_verdict` does).

    The sequence is evaluated every `grid_seconds` from the start (as the refresh job reads
    it) and at the looks, and each look reports the running intersection over those times
    since the minimum (30 trades an arm, 2 whole UTC days) was met:
    on the unit mean for the money (scaled to a day by the units a day so far), directly for the
    expectancy difference. Returns arrays per look: `verdict` (codes into VERDICTS), `per_day`
    with `low`/`high`, `per_trade` with `per_trade_low`/`per_trade_high`, and the figures."""
    looks = np.atleast_1d(np.asarray(looks, float))
    end = float(looks.max())
    cand = _closed_in(_as_arm(candidate), start, end)
    shad = _closed_in(_as_arm(shadow), start, end)
    pairs = twins(cand, shad, tolerance_seconds=tolerance_seconds)
    grid = start + grid_seconds * np.arange(1, math.floor((end - start) / grid_seconds) + 1)
    times = np.union1d(grid, looks)
    elapsed = np.maximum(times - start, 1.0) / DAY_SECONDS
    e = _evidence(cand, shad, pairs, times)
    f = _intervals(e, elapsed, planned_days, alpha, variance)
    whole = np.maximum(0, np.floor(times / DAY_SECONDS) - math.ceil(start / DAY_SECONDS))
    early = (
        (e["n_c"] < min_trades)
        | (e["n_s"] < min_trades)
        | (whole < min_days)
        | ~(np.isfinite(f["low_u"]) & np.isfinite(f["high_u"]))
    )
    low_u, high_u = _running(f["low_u"], f["high_u"], ~early)
    half_pt = f["mult"] * f["se_pt"]
    low_pt, high_pt = _running(f["per_trade"] - half_pt, f["per_trade"] + half_pt, ~early)
    at = np.searchsorted(times, looks)
    per_unit_day = f["units"][at] / elapsed[at]
    with np.errstate(invalid="ignore"):  # -inf x 0 units: too early anyway
        low, high = low_u[at] * per_unit_day, high_u[at] * per_unit_day
    code = np.where(low > 0, 1, np.where(high < 0, 2, 0))
    # Twins whose both halves closed before each look, against the trades closed by then.
    closed_c, closed_s = cand["closed_at"].astype(float), shad["closed_at"].astype(float)
    pair_closed = np.sort(np.maximum(closed_c[pairs["candidate"]], closed_s[pairs["shadow"]]))
    paired = 2 * np.searchsorted(pair_closed, looks, side="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        unlike = paired / (e["n_c"][at] + e["n_s"][at]) < MIN_PAIRED
    code = np.where(unlike, 0, code)
    code = np.where(early[at], 3, code).astype(np.int8)
    return {key: value[at] for key, value in f.items()} | {
        "looks": looks,
        "elapsed_days": elapsed[at],
        "whole_days": whole[at],
        "n_c": e["n_c"][at],
        "n_s": e["n_s"][at],
        "low": low,
        "high": high,
        "per_trade_low": low_pt[at],
        "per_trade_high": high_pt[at],
        "verdict": code,
        "unlike": unlike,
        "pairs": pairs,
        "candidate": cand,
        "shadow": shad,
    }


def _detectable(se_trade, se_day, mult, units, planned_units, elapsed, planned_days, mult_pl):
    """The smallest true difference the sequence calls with 80% power: (multiplier + z_0.8) x
    SE, now and at the planned horizon (SE shrinking as 1/sqrt(units), the multiplier the
    planned one)."""
    now_factor = mult + POWER_Z
    planned_factor = mult_pl + POWER_Z
    shrink = math.sqrt(units / planned_units) if planned_units > 0 else math.nan
    return {
        "per_trade_now": _number(now_factor * se_trade),
        "per_day_now": _number(now_factor * se_day),
        "per_trade_planned": _number(planned_factor * se_trade * shrink),
        "per_day_planned": _number(planned_factor * se_day * math.sqrt(elapsed / planned_days)),
        "power": 0.8,
    }


def _interval(difference, low, high):
    return {"difference": _number(difference), "low": _number(low), "high": _number(high)}


def _inconclusive_wording(detectable, expectancy, low, high, planned_days):
    per_trade, per_day = detectable["per_trade_now"], detectable["per_day_now"]
    planned = detectable["per_trade_planned"]
    if per_trade is None or per_trade > MEASURABLE * abs(expectancy):
        return (
            "not measurable yet",
            f"Not measurable yet: at this size the test detects ±{per_trade:.2f} USDT a trade "
            f"(±{per_day:.2f} a day); the bot's expectancy is {expectancy:.2f}. "
            f"At {planned_days:g} days it will detect ±{planned:.2f} a trade."
            if per_trade is not None
            else "Not measurable yet: the trades do not give a variance.",
        )
    return (
        "no difference found",
        f"No difference found: the test detects ±{per_trade:.2f} USDT a trade (the bot's "
        f"expectancy is {expectancy:.2f}), and the difference is between {low:+.2f} and "
        f"{high:+.2f} USDT a day.",
    )


def shadow_verdict(
    candidate,
    shadow,
    *,
    start,
    now,
    planned_days=PLANNED_DAYS,
    alpha=ALPHA,
    min_trades=MIN_TRADES,
    min_days=MIN_DAYS,
    expectancy=None,
    tolerance_seconds=TOLERANCE_SECONDS,
    variance="robust",
    grid_seconds=GRID_SECONDS,
):
    """The candidate against its concurrent shadow at `now`: the trades closed in [start, now),
    paired as twins, the money difference per elapsed day with its confidence sequence.

    Each arm: a dict of equal-length arrays `symbol`, `side`, `opened_at`, `closed_at` (epoch
    seconds), `net_pnl`. `expectancy` is the bot's expectancy (USDT a trade) the detectable
    effect is worded against; by default the shadow's (the baseline release, on the same days).

    The verdict ("better", "worse", "inconclusive", "too early") is on the difference in net P&L
    per day, candidate - shadow: "better" when its interval is above 0. JSON-serializable."""
    s = shadow_sequence(
        candidate,
        shadow,
        start=start,
        looks=[now],
        planned_days=planned_days,
        alpha=alpha,
        min_trades=min_trades,
        min_days=min_days,
        tolerance_seconds=tolerance_seconds,
        variance=variance,
        grid_seconds=grid_seconds,
    )
    one = {key: value[0] for key, value in s.items() if isinstance(value, np.ndarray)}
    cand, shad, pairs = s["candidate"], s["shadow"], s["pairs"]
    c, sh = cand["net_pnl"].astype(float), shad["net_pnl"].astype(float)
    verdict = VERDICTS[int(one["verdict"])]
    elapsed = float(one["elapsed_days"])
    if expectancy is None:
        expectancy = float(sh.mean()) if len(sh) else 0.0
    detectable = _detectable(
        float(one["se_pt"]),
        float(one["se_day"]),
        float(one["mult"]),
        float(one["units"]),
        float(one["planned_units"]),
        elapsed,
        planned_days,
        float(one["mult_planned"]),
    )
    per_day, low, high = float(one["per_day"]), float(one["low"]), float(one["high"])
    finding = verdict
    if verdict == TOO_EARLY:
        wording = (
            f"Too early for a verdict: {len(c)} of {min_trades} candidate trades, {len(sh)} of "
            f"{min_trades} shadow trades, {int(one['whole_days'])} of {min_days} whole UTC days."
        )
    elif verdict in (BETTER, WORSE):
        wording = (
            f"{verdict.capitalize()}: the candidate makes {per_day:+.2f} USDT a day against its "
            f"shadow ({1 - alpha:.0%} interval {low:+.2f} to {high:+.2f}, valid at every look)."
        )
    elif one["unlike"]:
        finding = NOT_LIKE_FOR_LIKE
        wording = (
            f"No verdict: only {len(pairs['candidate'])} of {len(c)} candidate trades have a "
            f"twin in the shadow (under {MIN_PAIRED:.0%} of both arms' trades), so the shadow "
            "does not trade what the candidate trades and is no like-for-like control: check it "
            "runs the same pairs, on the same exchange, at the same time."
        )
    else:
        finding, wording = _inconclusive_wording(detectable, expectancy, low, high, planned_days)
    twin_diff = c[pairs["candidate"]] - sh[pairs["shadow"]]
    only_c, only_s = c[pairs["candidate_only"]], sh[pairs["shadow_only"]]
    return {
        "verdict": verdict,
        "finding": finding,
        "wording": wording,
        "per_day": _interval(per_day, low, high),
        "per_trade": _interval(
            float(one["per_trade"]), float(one["per_trade_low"]), float(one["per_trade_high"])
        ),
        "detectable": detectable,
        "expectancy": _number(expectancy),
        "arms": {"candidate": _arm_figures(c, elapsed), "shadow": _arm_figures(sh, elapsed)},
        "pairing": {
            "twins": len(twin_diff),
            "candidate_only": len(only_c),
            "shadow_only": len(only_s),
            "twins_difference_per_trade": _number(twin_diff.mean()) if len(twin_diff) else None,
            "candidate_only_net_pnl": _number(only_c.sum()),
            "shadow_only_net_pnl": _number(only_s.sum()),
            "days": int(one["whole_days"]),
            "elapsed_days": _number(elapsed, 4),
            "tolerance_seconds": tolerance_seconds,
        },
        "confidence": 1 - alpha,
        "method": METHOD,
    }


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
            "baseline": _arm_figures(base, baseline_days),
            "test": _arm_figures(test, test_days),
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
            "expectancy": _number(expectancy),
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
        "per_trade_now": _number((mult + POWER_Z) * se_pt),
        "per_day_now": _number((mult + POWER_Z) * se_day),
        "per_trade_planned": _number(
            (mult_planned + POWER_Z)
            * math.sqrt(base.var(ddof=1) / nb + test.var(ddof=1) / (nt / test_days * planned_days))
        ),
        "per_day_planned": _number(
            (mult_planned + POWER_Z)
            * math.sqrt((test @ test) / test_days / planned_days + (base @ base) / baseline_days**2)
        ),
        "power": 0.8,
    }
    return result | {
        "wording": (
            f"Before/after only: {per_day:+.2f} USDT a day against the baseline window "
            f"({1 - alpha:.0%} interval {low:+.2f} to {high:+.2f}), for information. {advice}"
        ),
        "per_day": _interval(per_day, low, high),
        "per_trade": _interval(per_trade, per_trade - mult * se_pt, per_trade + mult * se_pt),
        "detectable": detectable,
        # What the old scorecard would have called a verdict: shown by the bench, never one.
        "interval_excludes_zero": bool(low > 0 or high < 0),
        "expectancy": _number(expectancy),
    }
