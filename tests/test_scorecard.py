"""The scorecard's uncertainty on datasets with a known answer."""

import datetime

import numpy as np
from django.utils import timezone

from experiments.models import Experiment
from experiments.scorecard import (
    build_scorecard,
    expectancy_difference,
    profit_factor_interval,
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
