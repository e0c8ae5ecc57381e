"""A simulated market for the verdict tests and bench (issue 21's section 6): arrays only.

One bot at about 10 closed trades a day per arm; per-trade net P&L Student-t with 3 degrees of
freedom scaled to SD 3.5 USDT, expectancy 0.2 USDT; each UTC day a shared move (the market's
mood, intra-day correlation 0.1-0.3) that both arms feel; a market shift between the baseline
window and the test week (0.5-1.0 USDT a trade); twin trades (both configs took the entry,
opened within a minute of each other) with P&L correlation 0.9; and singles, trades only one
config took (15% of each arm's trades by default). The candidate's effect adds to each of its
trades' P&L.
"""

import numpy as np

DAY = 86400.0
SD = 3.5
EXPECTANCY = 0.2
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC
SYMBOLS = np.array(["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "BNB/USDT"])
SIDES = np.array(["long", "short"])


def _t3(rng, size, variance):
    """Student-t with 3 degrees of freedom (variance 3), scaled to `variance`."""
    return rng.standard_t(3, size) * np.sqrt(variance / 3)


def _opens(rng, day_index, count):
    return START + day_index * DAY + rng.uniform(0, DAY, count)


def _arm(symbol, side, opened, pnl, rng):
    held = rng.exponential(2 * 3600, len(opened)) + 60
    return {
        "symbol": symbol,
        "side": side,
        "opened_at": opened,
        "closed_at": opened + held,
        "net_pnl": pnl,
    }


def week(
    rng,
    *,
    days=7,
    per_day=10.0,
    singles=0.15,
    effect=0.0,
    twin_corr=0.9,
    icc=None,
    shift=None,
    baseline_days=30,
    lever_day_sd=0.0,
):
    """(candidate, shadow, baseline_pnl, truth): the test days from START, and the live bot's
    baseline window (the baseline release, before the start, without the shift)."""
    icc = rng.uniform(0.1, 0.3) if icc is None else icc
    shift = rng.uniform(0.5, 1.0) if shift is None else shift
    var = SD**2
    day_var, idio = icc * var, (1 - twin_corr) * var
    common = twin_corr * var - day_var
    mood = rng.normal(0, np.sqrt(day_var), days)
    lever_mood = rng.normal(0, lever_day_sd, days)
    n_twin = rng.poisson(per_day * (1 - singles), days)
    n_c1 = rng.poisson(per_day * singles, days)
    n_s1 = rng.poisson(per_day * singles, days)
    day_t = np.repeat(np.arange(days), n_twin)
    day_c = np.repeat(np.arange(days), n_c1)
    day_s = np.repeat(np.arange(days), n_s1)
    open_t = _opens(rng, day_t, len(day_t))
    open_c = _opens(rng, day_c, len(day_c))
    open_s = _opens(rng, day_s, len(day_s))
    base = EXPECTANCY + shift
    shared = mood[day_t] + _t3(rng, len(day_t), common)
    twin_c = base + effect + lever_mood[day_t] + shared + _t3(rng, len(day_t), idio)
    twin_s = base + shared + _t3(rng, len(day_t), idio)
    only_c = base + effect + lever_mood[day_c] + mood[day_c] + _t3(rng, len(day_c), var - day_var)
    only_s = base + mood[day_s] + _t3(rng, len(day_s), var - day_var)
    sym_t, side_t = rng.choice(SYMBOLS, len(day_t)), rng.choice(SIDES, len(day_t))
    candidate = _arm(
        np.concatenate([sym_t, rng.choice(SYMBOLS, len(day_c))]),
        np.concatenate([side_t, rng.choice(SIDES, len(day_c))]),
        np.concatenate([open_t, open_c]),
        np.concatenate([twin_c, only_c]),
        rng,
    )
    shadow = _arm(
        np.concatenate([sym_t, rng.choice(SYMBOLS, len(day_s))]),
        np.concatenate([side_t, rng.choice(SIDES, len(day_s))]),
        np.concatenate([open_t + rng.uniform(-60, 60, len(open_t)), open_s]),
        np.concatenate([twin_s, only_s]),
        rng,
    )
    base_mood = rng.normal(0, np.sqrt(day_var), baseline_days)
    n_base = rng.poisson(per_day, baseline_days)
    base_days = np.repeat(np.arange(baseline_days), n_base)
    baseline = EXPECTANCY + base_mood[base_days] + _t3(rng, len(base_days), var - day_var)
    return candidate, shadow, baseline, {"icc": icc, "shift": shift, "effect": effect}
