"""The command center (the admin's home page, issue 13) on a live fleet's closes: 50 bots, then
500, where 4% of the bots close 2,740 trades a day (1M a year: 2 of 50, 20 of 500) and the others
200 to 3,000 a day (dataset.realistic_closes_a_day: about 1,040 on average), over the last
`--days` days up to a minute ago (default 2: the page reads today's and yesterday's closes and
the last 24 h's exit reasons, so older days only add to the tables; a year at 500 bots would be
190M trades, so it is scaled down to days, and the scale is printed). Each bot has health
states (every fifth none yet), a running experiment with its trigger headroom, daily reviews and
an open incident; the busy bots a year of health events (`--health-days`, one every 157 s).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/home.py

The page is read by a team lead through django.test.Client, interleaved with a bare twin: the
page's essential reads by hand, the closes per bot and day from the daily rollup for today and
yesterday, and the closes per bot and exit reason over the last 24 h (page, bare, page, ...).
Prints min and median of `--runs` runs, the ratio of the medians and the queries the page ran;
the same query count at 50 and 500 bots shows it does not grow with the fleet. Target: under
300 ms.
"""

import argparse
import datetime
import os
import statistics
import sys
import time

from bare_views import is_staff, mount, table
from common import peak_rss_mib, throwaway_database  # sets Django up: before tradeops
from dataset import build_fleet, realistic_closes_a_day
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.http import HttpResponseForbidden
from django.test.utils import override_settings, teardown_test_environment
from django.urls import include, path
from django.utils import timezone
from pages import page, report, team_lead

from cadence.models import DailyReview, TriggerHeadroom
from experiments.models import Experiment
from integrity.models import IntegrityIncident
from tradeops.models import HealthEvent
from tradeops.roles import OPERATOR

DAY = datetime.timedelta(days=1)


def add_cadence(bots):
    """What a fleet mid-plan has beside its trades, for every bot."""
    now = timezone.now()
    operator, _ = User.objects.get_or_create(username="otto", defaults={"is_staff": True})
    operator.groups.add(Group.objects.get(name=OPERATOR))
    for n, bot in enumerate(bots):
        baseline, candidate = bot.releases.order_by("version")
        if n % 5:  # every fifth bot has reported no state yet: its card reads none
            HealthEvent.objects.bulk_create(
                HealthEvent(
                    bot=bot, ts=now - datetime.timedelta(hours=h), kind="state_change", state=s
                )
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


def add_health_history(bots, days):
    """A busy bot's health events: one every 157 s over `days` days before the last three, all
    degraded-latency reports (a state change is rare, and the command center's state read must
    not walk them: it took 7.4 s for the page at 200k events before its index)."""
    with connection.cursor() as cursor:
        for bot in bots:
            cursor.execute(
                "INSERT INTO tradeops_healthevent (bot_id, ts, kind, state, detail, ingested_at) "
                "SELECT %s, now() - interval '3 days' - n * interval '157 seconds', 'degraded', "
                "'', 'latency ' || n %% 997 || ' ms', now() FROM generate_series(1, %s) n",
                [bot.pk, days * 86400 // 157],
            )
        cursor.execute("ANALYZE tradeops_healthevent")


# The page's essential reads (kpis.queries.closes_per_bot_day and exit_reasons_per_bot for every
# bot), behind the same middleware and Client as the page (bench/bare_views.py).
ESSENTIAL_READS = (
    "SELECT bot_id, day::text, sum(trades), sum(net_pnl) FROM tradeops_dailycloses "
    "WHERE day BETWEEN %s AND %s GROUP BY bot_id, day HAVING sum(trades) > 0 "
    "UNION ALL SELECT bot_id, exit_reason, count(*), NULL FROM tradeops_trade "
    "WHERE status = 'closed' AND closed_at > %s AND closed_at <= %s GROUP BY bot_id, exit_reason"
)
urlpatterns = [path("", include("tradeops.urls"))]


def home_bare(request):
    if not is_staff(request):
        return HttpResponseForbidden()
    now = timezone.now()
    today = now.date()
    with connection.cursor() as cursor:
        cursor.execute(ESSENTIAL_READS, [today - DAY, today, now - DAY, now])
        rows = cursor.fetchall()
    return table("Command center", ["bot", "day or exit", "closes", "net"], rows)


def measure_fleet(bots, days, runs, health_days):
    heavy = max(1, bots * 20 // 500)
    per_day = realistic_closes_a_day(bots, heavy=heavy)
    now = timezone.now()
    started = time.perf_counter()
    fleet = build_fleet(
        bots=bots,
        trades_per_bot=[closes * days for closes in per_day],
        days=days,
        symbols=20,
        as_of=now.date(),
        end=now - datetime.timedelta(minutes=1),
        down_days=(),
    )
    add_cadence(fleet.bots)
    add_health_history(fleet.bots[:heavy], health_days)
    total = sum(per_day) * days
    print(
        f"\n{bots} bots, {heavy} at 2,740 closes a day, the others {min(per_day[heavy:]):,} to "
        f"{max(per_day[heavy:]):,} (median {statistics.median(per_day):,.0f}); {days} days: "
        f"{total:,} trades, {2 * total:,} fills (a year would be {sum(per_day) * 365:,} trades), "
        f"{heavy} x {health_days * 86400 // 157:,} health events, "
        f"loaded in {time.perf_counter() - started:.0f} s"
    )
    pages = [("home page", page("admin:index"), mount(urlpatterns, "home", home_bare))]
    report(f"{bots} bots, realistic closes", team_lead(), pages, runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--days", type=int, default=2, help="days of closes before now")
    parser.add_argument("--bots", type=int, nargs="+", default=[50, 500])
    parser.add_argument(
        "--health-days", type=int, default=365, help="days of the heavy bots' health events"
    )
    args = parser.parse_args()
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    print(f"PostgreSQL {connection.pg_version}, Python {sys.version.split()[0]}")
    for n, bots in enumerate(args.bots):
        if n:
            teardown_test_environment()  # throwaway_database sets it up again
        with throwaway_database(), override_settings(ROOT_URLCONF=__name__):
            measure_fleet(bots, args.days, args.runs, args.health_days)
            print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\npeak RSS: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
