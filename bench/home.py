"""The command center (the admin's home page, issue 13) on a fleet: 50 bots with 20,000 trades
each over 90 days up to today (1M in all), then 500 bots, each with health states, a running
experiment with its trigger headroom, daily reviews and open incidents.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/home.py

The page is read by a team lead through django.test.Client, interleaved with a bare baseline
(the session and user reads every admin page makes: page, bare, page, bare, ...). Prints min and
median of `--runs` runs, the ratio of the medians and the queries the page ran; the same query
count at 50 and 500 bots shows it does not grow with the fleet. Target: under 300 ms.
"""

import argparse
import datetime
import sys

from common import peak_rss_mib, throwaway_database  # sets Django up: before tradeops
from dataset import build_fleet
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import teardown_test_environment
from django.utils import timezone
from pages import fleet_overview_pages, report, team_lead

from cadence.models import DailyReview, TriggerHeadroom
from experiments.models import Experiment
from integrity.models import IntegrityIncident
from tradeops.models import HealthEvent
from tradeops.roles import OPERATOR


def add_cadence(bots):
    """What a fleet mid-plan has beside its trades, for every bot."""
    now = timezone.now()
    operator, _ = User.objects.get_or_create(username="otto", defaults={"is_staff": True})
    operator.groups.add(Group.objects.get(name=OPERATOR))
    for n, bot in enumerate(bots):
        baseline, candidate = bot.releases.order_by("version")
        HealthEvent.objects.bulk_create(
            HealthEvent(bot=bot, ts=now - datetime.timedelta(hours=h), kind="state_change", state=s)
            for h, s in ((50, "NORMAL"), (30, "DEGRADED"), (29, "NORMAL"))
        )
        experiment = Experiment.objects.create(
            bot=bot,
            name=f"A {n}",
            lever="fib_proximity_bps",
            baseline_release=baseline,
            candidate_release=candidate,
            success_criteria="x",
            status="running",
            plan_key="A",
            started_at=now - datetime.timedelta(days=3),
            created_by=operator,
        )
        TriggerHeadroom.objects.create(
            bot=bot,
            subject=str(experiment),
            lines=[{"trigger": "safety_events", "text": "safety events 1 of 3", "used": 0.33}],
            computed_at=now,
        )
        DailyReview.objects.bulk_create(
            DailyReview(
                bot=bot,
                day=now.date() - datetime.timedelta(days=d),
                note="ok",
                signed_off_by=operator,
                signed_off_at=now - datetime.timedelta(days=d),
            )
            for d in range(1, 8)
        )
        IntegrityIncident.objects.create(
            bot=bot,
            kind="orphan_fills",
            severity="warning",
            title="Fills without a trade",
            opened_at=now,
            last_seen_at=now,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure_fleet(bots, trades_each, runs):
    fleet = build_fleet(
        bots=bots,
        main_trades=trades_each,
        other_trades=trades_each,
        days=90,
        symbols=20,
        as_of=timezone.now().date(),
        down_days=(),
    )
    add_cadence(fleet.bots)
    pages = [page for page in fleet_overview_pages() if page[0] == "home page"]
    report(f"{bots} bots, {trades_each:,} trades each", team_lead(), pages, runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--trades-each", type=int, default=20_000)
    args = parser.parse_args()
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with throwaway_database():
        print(f"PostgreSQL {connection.pg_version}, Python {sys.version.split()[0]}")
        measure_fleet(50, args.trades_each, args.runs)
    teardown_test_environment()  # throwaway_database sets it up again
    with throwaway_database():
        measure_fleet(500, 200, args.runs)
    print(f"\npeak RSS: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
