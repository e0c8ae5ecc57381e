"""The scorecard's test side counts the days elapsed since the start, not the calendar days it
touched: at 01:00 a day has run one hour, not a whole day."""

import datetime

from django.urls import reverse

from experiments import services
from experiments.scorecard import build_scorecard
from tests.factories import draft, log_in_as, trade
from tradeops.roles import VIEWER

UTC = datetime.UTC
START = datetime.datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
# 01:00 on the 7th day since the start: 6 days and an hour have elapsed, and 7 calendar days
# have been touched.
NOW = datetime.datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
ELAPSED = 6 + 1 / 24


def started(baseline, people):
    experiment = draft(baseline, people)
    services.submit(experiment, by=people["operator"], note="ready", now=START)
    services.approve(experiment, by=people["lead"], note="go", now=START)
    return services.start(experiment, by=people["operator"], note="deployed", now=START)


def test_per_day_figures_divide_by_the_days_elapsed(baseline, people):
    experiment = started(baseline, people)
    for n in range(12):  # 2 closes a day, 0 and 10: 60 in all, the last at 00:30 today
        closed_at = START + datetime.timedelta(hours=12 * n + 11, minutes=30)
        trade(
            baseline.bot,
            f"t{n}",
            closed_at,
            10 if n % 2 else 0,
            release=experiment.candidate_release,
        )

    card = build_scorecard(experiment, NOW)

    test = card["test"]
    assert test["days"] == round(ELAPSED, 4)
    assert test["days_basis"] == "elapsed"
    assert test["figures"]["trades"] == 12
    assert test["figures"]["net_pnl"] == "60.00000000"
    assert test["figures"]["trades_per_day"] == round(12 / ELAPSED, 6)  # 1.99, not 12 / 7
    assert test["figures"]["net_pnl_per_day"] == f"{60 / ELAPSED:.8f}"
    rows = {row["kpi"]: row["test"] for row in card["kpis"]}
    assert rows["net_pnl_per_day"] == test["figures"]["net_pnl_per_day"]


def test_the_scorecard_says_what_its_days_are(client, baseline, people):
    experiment = started(baseline, people)
    services.send_to_review(experiment, by=people["operator"], note="6 days in", now=NOW)
    services.decide(experiment, decision="rollback", by=people["operator"], rationale="no", now=NOW)
    log_in_as(client, "reader", VIEWER)

    page = client.get(reverse("admin:experiments_experiment_change", args=[experiment.pk]))

    assert (
        "Test c-1: 6.04 days elapsed, 2026-11-20 00:00 to 2026-11-26 01:00 UTC (its per-day "
        "figures divide by the elapsed days, a day begun counting by its hours)"
    ) in page.content.decode()
