"""Issue 21, section 6: the verdicts' error rates and power, measured on a seeded simulated market
(tests/verdict_world.py: 10 trades a day an arm, Student-t(3) P&L with SD 3.5 USDT, expectancy
0.2, day effects shared by both arms, a market shift between the baseline window and the test
week, twins with P&L correlation 0.9, singles). Arrays only, no database; a few seconds.

Bounds carry binomial slack: a rate of at most p over `RUNS` runs is asserted as at most
p + 2.33 standard errors (a 1% chance of failing for a method exactly at p)."""

import math

import numpy as np

from experiments.verdicts import VERDICTS, before_after, shadow_sequence
from tests import verdict_world as world

RUNS = 300
FIFTEEN_MINUTES = world.START + 900 * np.arange(1, 7 * 96 + 1)
BETTER, WORSE, TOO_EARLY = (VERDICTS.index(v) for v in ("better", "worse", "too early"))


def at_most(rate, runs=RUNS):
    return rate + 2.33 * math.sqrt(rate * (1 - rate) / runs)


def at_least(rate, runs=RUNS):
    return rate - 2.33 * math.sqrt(rate * (1 - rate) / runs)


def paths(seed, **market):
    rng = np.random.default_rng(seed)
    for _ in range(RUNS):
        candidate, shadow, baseline, _ = world.week(rng, **market)
        yield (
            shadow_sequence(candidate, shadow, start=world.START, looks=FIFTEEN_MINUTES),
            candidate,
            baseline,
        )


def test_a_a_with_a_shadow_read_every_15_minutes_for_a_week_rarely_says_anything():
    """The candidate is the baseline; days share the market's mood (0.1-0.3) and the market
    shifts by 0.5-1.0 USDT a trade against the month before: better or worse at ANY of the 672
    looks in at most 5% of runs."""
    verdicts = [(path["verdict"] == BETTER) | (path["verdict"] == WORSE) for path, *_ in paths(1)]
    rate = np.mean([v.any() for v in verdicts])
    assert rate <= at_most(0.05), rate


def test_a_a_holds_when_the_lever_gain_depends_on_the_day():
    """A mean-zero day shock on the candidate only (0.5 USDT a trade): the paired differences of
    a day are correlated, which the by-day variance takes in."""
    rate = np.mean(
        [np.isin(path["verdict"], (BETTER, WORSE)).any() for path, *_ in paths(2, lever_day_sd=0.5)]
    )
    assert rate <= at_most(0.05), rate


def test_before_after_under_a_market_shift_never_says_better_or_worse():
    """The same identical candidate against its own 30-day baseline, the market 0.5-1.0 USDT a
    trade higher in the test week: the interval often excludes 0 (the shift), the verdict never
    says better or worse."""
    excluded = 0
    for _, candidate, baseline in paths(3):
        for day in range(1, 8):
            closed = candidate["closed_at"] < world.START + day * world.DAY
            result = before_after(
                baseline, candidate["net_pnl"][closed], baseline_days=30, test_days=day
            )
            assert result["verdict"] == "before/after only"
            excluded += result["interval_excludes_zero"]
    assert excluded > 0.1 * RUNS * 7  # the shift is there, and would have been a "verdict"


def test_fewer_than_thirty_trades_an_arm_is_never_a_verdict():
    """4 trades a day an arm (about 28 in a week) and a large true effect: too early at every
    look; and at 10 a day, too early at every look before two whole UTC days."""
    for path, *_ in paths(4, per_day=4.0, effect=3.0):
        thin = (path["n_c"] < 30) | (path["n_s"] < 30)
        assert np.all(path["verdict"][thin] == TOO_EARLY)
    for path, *_ in paths(5, effect=3.0):
        assert np.all(path["verdict"][path["whole_days"] < 2] == TOO_EARLY)
        assert np.all(path["verdict"][(path["n_c"] < 30) | (path["n_s"] < 30)] == TOO_EARLY)


def test_power_with_twins_and_never_the_opposite_sign():
    """A lever that keeps the entries (every trade has a twin, P&L correlation 0.9): a true
    +0.6 USDT a trade (3x the expectancy, SD 3.5) is "better" at day 7 in at least half the
    runs, -0.6 "worse"; at no look of any run the opposite. (Measured: about 70%.)"""
    for effect, want, opposite in ((0.6, BETTER, WORSE), (-0.6, WORSE, BETTER)):
        final, wrong = 0, 0
        for path, *_ in paths(6, singles=0.0, effect=effect):
            final += path["verdict"][-1] == want
            wrong += (path["verdict"] == opposite).any()
        assert final / RUNS >= at_least(0.6), (effect, final / RUNS)
        assert wrong == 0


def test_power_with_15_percent_singles_is_what_the_singles_allow():
    """With 15% of each arm's trades singles (each a whole unpaired trade, SD 3.5, against
    1.6 for a twin difference), the same +0.6 is "better" at day 7 in about a third of the runs:
    the price of counting selection. Never the opposite sign."""
    final, wrong = 0, 0
    for path, *_ in paths(7, singles=0.15, effect=0.6):
        final += path["verdict"][-1] == BETTER
        wrong += (path["verdict"] == WORSE).any()
    assert final / RUNS >= at_least(0.3), final / RUNS
    assert wrong == 0
