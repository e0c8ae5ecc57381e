"""Equity at a moment, read in one place (kpis.queries.equity_at) by the KPI drawdown and the
daily-loss trigger alike, and KPI reads that never write.

The boundary: a snapshot stamped exactly at the moment is the equity at that moment; a close
stamped exactly at the moment belongs to the period that starts then, so it is not yet in it.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from experiments.triggers import daily_losses
from kpis.queries import equity_at
from kpis.services import compute_kpis
from tests.factories import AS_OF, at, draft, midnight, run_through, trade
from tradeops.models import ConfigRelease, EquitySnapshot

MOMENT = at(7)  # the window start of a 3-day window to AS_OF


def snapshot(bot, ts, equity):
    EquitySnapshot.objects.create(bot=bot, ts=ts, equity=Decimal(equity))


@pytest.fixture
def funded(bot):
    bot.starting_equity = Decimal(1000)
    bot.save()
    return bot


def test_a_snapshot_stamped_at_the_moment_is_the_equity_at_that_moment(bot):
    snapshot(bot, MOMENT - datetime.timedelta(hours=1), "2000")
    snapshot(bot, MOMENT, "1500")
    snapshot(bot, MOMENT + datetime.timedelta(seconds=1), "9999")  # after: not yet

    assert equity_at(bot, MOMENT) == Decimal(1500)


def test_without_snapshots_a_close_stamped_at_the_moment_is_not_yet_in_the_equity(funded):
    trade(funded, "earlier", MOMENT - datetime.timedelta(seconds=1), 50)
    trade(funded, "at-the-moment", MOMENT, -300)

    assert equity_at(funded, MOMENT) == Decimal(1050)  # 1000 + 50
    assert equity_at(funded, MOMENT + datetime.timedelta(seconds=1)) == Decimal(750)


def test_no_snapshot_and_no_starting_equity_is_unknown(bot):
    trade(bot, "a", MOMENT - datetime.timedelta(hours=1), 50)
    assert equity_at(bot, MOMENT) is None


def test_release_drawdown_starts_from_the_reading_at_the_window_start(bot):
    release = ConfigRelease.objects.create(bot=bot, version=1, tag="v1", approved_at=at(1))
    snapshot(bot, MOMENT - datetime.timedelta(hours=1), "2000")
    snapshot(bot, MOMENT, "1000")  # the reading at the start: the curve's base
    trade(bot, "loss", at(8), -100, release=release)

    figures = compute_kpis(bot, 3, AS_OF, release).figures

    assert figures["max_drawdown_pct"] == 0.1  # 100 of 1000 (of 2000 it would be 0.05)


def test_a_close_at_the_window_start_counts_once_in_the_drawdown(funded):
    trade(funded, "at-start", MOMENT, -100)

    figures = compute_kpis(funded, 3, AS_OF).figures

    # Curve 1000 -> 900. Counted in the start equity too it would be 900 -> 800: 0.111111.
    assert figures["max_drawdown_pct"] == 0.1


def test_daily_loss_gives_each_day_its_midnight_readings(baseline, people):
    experiment = run_through(draft(baseline, people), people, now=midnight(2))
    for days_ago, equity in ((2, "10000"), (1, "9690"), (0, "9389.61")):
        snapshot(baseline.bot, midnight(days_ago), equity)

    rows = daily_losses(experiment, timezone.now())

    # Each day runs from its own 00:00 reading to the next day's: the loss is on its own day.
    assert [(day, round(change, 4)) for day, change in rows] == [
        (midnight(2).date(), -3.1),
        (midnight(1).date(), -3.1),
        (midnight(0).date(), 0.0),
    ]


def test_computing_kpis_writes_nothing(funded):
    trade(funded, "a", at(8), 10)
    snapshot(funded, at(8, 12), "1010")

    with CaptureQueriesContext(connection) as queries:
        compute_kpis(funded, 3, AS_OF)

    statements = [query["sql"].lstrip().split()[0].upper() for query in queries]
    assert statements and set(statements) == {"SELECT"}
