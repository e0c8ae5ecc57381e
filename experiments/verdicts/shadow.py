"""The shadow test: the candidate against its concurrent shadow at each look, the verdict and its
wording (the package docstring gives the method)."""

import math

import numpy as np

from experiments.verdicts.evidence import evidence
from experiments.verdicts.sequence import (
    ALPHA,
    BETTER,
    DAY_SECONDS,
    MIN_DAYS,
    MIN_TRADES,
    PLANNED_DAYS,
    POWER_Z,
    TOO_EARLY,
    VERDICTS,
    WORSE,
    arm_figures,
    cs_multiplier,
    interval,
    number,
)
from experiments.verdicts.twins import TOLERANCE_SECONDS, twins

# A test that detects this many times the bot's expectancy, or more, measures nothing yet.
MEASURABLE = 1.0
# The share of both arms' trades that must be twins for the shadow to be a like-for-like control:
# a shadow that trades other pairs or times than the candidate shares no market moments with it,
# and its day-clustered variance over a week's few days passed 8% false verdicts in A/A runs.
MIN_PAIRED = 0.5
NOT_LIKE_FOR_LIKE = "not like for like"
# The running intersection is taken at these steps from the start: the refresh job's period.
GRID_SECONDS = 900
METHOD = (
    "asymptotic confidence sequence (Waudby-Smith et al. 2024, eq. 9; gbstats "
    "SequentialTwoSidedTTest), candidate vs concurrent shadow, twin trades paired, "
    "variance robust to UTC-day clustering"
)
FIELDS = ("symbol", "side", "opened_at", "closed_at", "net_pnl")


def _closed_in(arm, start, end):
    """The arm's trades closed in [start, end), as float/ndarray fields."""
    closed = np.asarray(arm["closed_at"], float)
    keep = (closed >= start) & (closed < end)
    return {field: np.asarray(arm[field])[keep] for field in FIELDS}


def whole_days(start, times):
    """Whole UTC days between start and each of times (a day counts when all of it is in
    [start, time))."""
    return np.maximum(0, np.floor(times / DAY_SECONDS) - math.ceil(start / DAY_SECONDS))


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
    e = evidence(cand, shad, pairs, times)
    f = _intervals(e, elapsed, planned_days, alpha, variance)
    whole = whole_days(start, times)
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
        "per_trade_now": number(now_factor * se_trade),
        "per_day_now": number(now_factor * se_day),
        "per_trade_planned": number(planned_factor * se_trade * shrink),
        "per_day_planned": number(planned_factor * se_day * math.sqrt(elapsed / planned_days)),
        "power": 0.8,
    }


def _inconclusive_wording(detectable, expectancy, low, high, planned_days, currency):
    per_trade, per_day = detectable["per_trade_now"], detectable["per_day_now"]
    planned = detectable["per_trade_planned"]
    if per_trade is None or per_trade > MEASURABLE * abs(expectancy):
        return (
            "not measurable yet",
            f"Not measurable yet: at this size the test detects ±{per_trade:.2f} {currency} "
            f"a trade (±{per_day:.2f} {currency} a day); the bot's expectancy is "
            f"{expectancy:.2f} {currency} a trade. At {planned_days:g} days it will detect "
            f"±{planned:.2f} {currency} a trade."
            if per_trade is not None
            else "Not measurable yet: the trades do not give a variance.",
        )
    return (
        "no difference found",
        f"No difference found: the test detects ±{per_trade:.2f} {currency} a trade (the bot's "
        f"expectancy is {expectancy:.2f} {currency} a trade), and the difference is between "
        f"{low:+.2f} and {high:+.2f} {currency} a day.",
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
    currency="USDT",
):
    """The candidate against its concurrent shadow at `now`: the trades closed in [start, now),
    paired as twins, the money difference per elapsed day with its confidence sequence.

    Each arm: a dict of equal-length arrays `symbol`, `side`, `opened_at`, `closed_at` (epoch
    seconds), `net_pnl`. `expectancy` is the bot's expectancy (a trade, in `currency`, the bot's
    quote currency) the detectable effect is worded against; by default the shadow's (the
    baseline release, on the same days).

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
            f"{verdict.capitalize()}: the candidate makes {per_day:+.2f} {currency} a day against "
            f"its shadow ({1 - alpha:.0%} interval {low:+.2f} to {high:+.2f}, valid at every look)."
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
        finding, wording = _inconclusive_wording(
            detectable, expectancy, low, high, planned_days, currency
        )
    twin_diff = c[pairs["candidate"]] - sh[pairs["shadow"]]
    only_c, only_s = c[pairs["candidate_only"]], sh[pairs["shadow_only"]]
    return {
        "verdict": verdict,
        "finding": finding,
        "wording": wording,
        "per_day": interval(per_day, low, high),
        "per_trade": interval(
            float(one["per_trade"]), float(one["per_trade_low"]), float(one["per_trade_high"])
        ),
        "detectable": detectable,
        "expectancy": number(expectancy),
        "arms": {"candidate": arm_figures(c, elapsed), "shadow": arm_figures(sh, elapsed)},
        "pairing": {
            "twins": len(twin_diff),
            "candidate_only": len(only_c),
            "shadow_only": len(only_s),
            "twins_difference_per_trade": number(twin_diff.mean()) if len(twin_diff) else None,
            "candidate_only_net_pnl": number(only_c.sum()),
            "shadow_only_net_pnl": number(only_s.sum()),
            "days": int(one["whole_days"]),
            "elapsed_days": number(elapsed, 4),
            "tolerance_seconds": tolerance_seconds,
        },
        "confidence": 1 - alpha,
        "method": METHOD,
    }
