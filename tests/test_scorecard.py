"""The scorecard's uncertainty on datasets with a known answer."""

import datetime
import math
import tracemalloc

import numpy as np
from django.utils import timezone

from experiments import scorecard
from experiments.models import Experiment
from experiments.scorecard import (
    SAMPLES,
    bootstrap,
    build_scorecard,
    expectancy_difference,
    profit_factor_interval,
    resample_sums,
    verdict,
)
from tests.factories import draft, run_through, trade


def test_constant_samples_have_an_exact_interval():
    difference = expectancy_difference([1.0] * 50, [3.0] * 40)
    assert difference == (2.0, 2.0, 2.0)
    assert verdict(difference) == "better"


def test_interval_width_matches_the_textbook_standard_error():
    rng = np.random.default_rng(7)
    base, test = rng.normal(0.0, 1.0, 2000), rng.normal(0.5, 1.0, 2000)
    difference, low, high = expectancy_difference(base, test, seed=1)
    # 95% interval of a difference of means: ±1.96 * sqrt(1/2000 + 1/2000) = ±0.062
    assert abs((high - low) / 2 - 0.062) < 0.01
    assert low < difference < high and low > 0.3


def test_same_distribution_is_inconclusive_and_a_worse_one_is_worse():
    rng = np.random.default_rng(3)
    same = expectancy_difference(rng.normal(1, 5, 200), rng.normal(1, 5, 200))
    assert verdict(same) == "inconclusive"
    worse = expectancy_difference(rng.normal(1, 1, 500), rng.normal(0, 1, 500))
    assert verdict(worse) == "worse"
    assert verdict(None) == "inconclusive"


def test_profit_factor_interval():
    assert profit_factor_interval([5.0, 1.0]) == (float("inf"), float("inf"))  # no losses
    low, high = profit_factor_interval([2.0, -1.0] * 200, seed=2)
    assert low < 2.0 < high  # 400 trades of +2 / -1: a factor of 2, resampled
    assert profit_factor_interval([]) is None


def test_scorecard_compares_the_baseline_month_with_the_test_days(baseline, people):
    experiment = run_through(draft(baseline, people), people)
    start = timezone.now() - datetime.timedelta(days=5)
    Experiment.objects.filter(pk=experiment.pk).update(started_at=start)
    experiment.refresh_from_db()
    for n in range(20):
        trade(
            baseline.bot, f"b{n}", start - datetime.timedelta(days=1, hours=n), 1, release=baseline
        )
        trade(
            baseline.bot,
            f"t{n}",
            start + datetime.timedelta(hours=n + 1),
            3,
            release=experiment.candidate_release,
        )

    card = build_scorecard(experiment, timezone.now())

    assert card["trades"] == {"baseline": 20, "test": 20}
    assert card["expectancy_difference"]["difference"] == 2.0
    assert card["verdict"] == "better"
    rows = {row["kpi"]: row for row in card["kpis"]}
    assert rows["avg_pnl_per_trade"]["primary"] is True
    assert (rows["trades"]["baseline"], rows["trades"]["test"]) == (20, 20)


# -- the bootstrap in bounded memory agrees with the textbook one ------------------------------


def test_resamples_drawn_in_chunks_agree_with_the_whole_bootstrap_at_once(monkeypatch):
    """The exact bootstrap draws every resample at once (samples x trades in memory); drawn a
    few at a time the intervals agree within Monte-Carlo error."""
    rng = np.random.default_rng(11)
    base, test = rng.normal(0.0, 2.0, 60), rng.normal(1.0, 2.0, 45)
    whole = np.random.default_rng(5)
    means = whole.choice(test, (SAMPLES, 45)).mean(axis=1) - whole.choice(base, (SAMPLES, 60)).mean(
        axis=1
    )
    exact_low, exact_high = np.percentile(means, [2.5, 97.5])
    monkeypatch.setattr(scorecard, "DRAWS_AT_ONCE", 100)  # one resample per draw: 5000 chunks

    _, low, high = expectancy_difference(base, test, seed=6)

    # Monte-Carlo error of a 2.5% quantile over 5000 resamples: about 3% of the half-width.
    half_width = (exact_high - exact_low) / 2
    assert abs(low - exact_low) < 0.1 * half_width and abs(high - exact_high) < 0.1 * half_width


def test_resampled_means_spread_as_the_plug_in_standard_error(monkeypatch):
    """Known answer: a bootstrap mean of n trades has standard deviation sd(trades) / sqrt(n)."""
    pnl = np.array([-3.0, -1.0, 0.5, 2.0, 4.0, 7.5] * 5)
    monkeypatch.setattr(scorecard, "DRAWS_AT_ONCE", 64)
    totals, wins = resample_sums(pnl, samples=SAMPLES, rng=np.random.default_rng(1))
    assert abs((totals / 30).std() / (pnl.std() / np.sqrt(30)) - 1) < 0.04  # 1% MC error
    assert abs(totals.mean() / 30 - pnl.mean()) < 0.05
    assert (wins >= np.maximum(totals, 0)).all()


def test_profit_factor_interval_is_the_binomial_answer(monkeypatch):
    """40 trades of +2 / -1: a resample with W wins has factor 2W / (40 - W), W ~ Bin(40, 1/2),
    so the interval's ends are the factors at the binomial's 2.5% and 97.5% quantiles."""
    monkeypatch.setattr(scorecard, "DRAWS_AT_ONCE", 50)
    cdf = np.cumsum([math.comb(40, w) for w in range(41)]) / 2**40
    low_w, high_w = np.searchsorted(cdf, 0.025), np.searchsorted(cdf, 0.975)
    assert (low_w, high_w) == (14, 26)
    low, high = profit_factor_interval([2.0, -1.0] * 20, seed=4)
    assert (low, high) == (2 * low_w / (40 - low_w), 2 * high_w / (40 - high_w))


def test_the_same_seed_gives_the_same_scorecard_intervals():
    rng = np.random.default_rng(2)
    base, test = rng.normal(0, 1, 300), rng.normal(0.2, 1, 100)
    assert bootstrap(base, test, seed=9) == bootstrap(base, test, seed=9)
    assert bootstrap(base, test, seed=9)[0] == expectancy_difference(base, test, seed=9)


def test_memory_grows_with_the_trades_not_with_trades_times_resamples():
    """20k trades a side, 1000 resamples: all at once that is 320 MB of draws per side."""
    rng = np.random.default_rng(8)
    base, test = rng.normal(0, 1, 20_000), rng.normal(0, 1, 20_000)
    tracemalloc.start()
    try:
        bootstrap(base, test, samples=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20
