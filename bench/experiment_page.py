"""The experiment page on a year of history: 1,000,000 trades on the main bot of a 50-bot fleet,
an experiment running its candidate for the last 6 days against the baseline's 30 days before
(about 82k baseline and 16k test trades, the sizes of issue 11).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops_bench .venv/bin/python \
        bench/experiment_page.py [--bots 50] [--trades 1000000] [--runs 5]

Prints, each interleaved with its real limit in the same run, min and median over the runs and
their ratio:
- the running experiment's admin change page as a Team lead (django.test.Client, server time),
  against a minimal view on the same stack and Client (bench/bare_views.py) that reads the
  experiment's shown columns and its stored scorecard in one query and renders the KPI table and
  the verdict's wording;
- the scorecard's computation (what the refresh job runs per experiment: the KPI figures of the
  test and of the shadow from the daily rollups, and the verdict on the candidate against its
  shadow, which twins the candidate's trades a minute later), and its verdict alone (both arms'
  trades read, paired, the confidence sequence), against the day-level statistic: each arm's
  net P&L per whole UTC day from the daily rollup in one query, the mean day difference, its
  standard error and the interval at that many days. The cheapest computation that yields a
  verdict on the same data: O(days), where the scorecard is O(trades log trades).
Memory: the peak traced allocation (tracemalloc: Python objects and numpy buffers) of one page
view and of one computation, and the process's peak RSS.
"""

import argparse
import datetime
import os
import time
import tracemalloc
from decimal import Decimal

os.environ.setdefault("SECURE_SSL_REDIRECT", "False")

import numpy as np  # noqa: E402
from bare_views import is_staff, mount, table  # noqa: E402
from common import peak_rss_mib, report, throwaway_database, timed  # noqa: E402  (sets Django up)
from dataset import build_fleet  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponseForbidden  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import include, path, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from experiments import scorecard, verdicts  # noqa: E402
from experiments.models import Experiment  # noqa: E402
from tradeops.models import Bot, ConfigRelease, Trade  # noqa: E402
from tradeops.roles import TEAM_LEAD, ensure_roles  # noqa: E402

# Pages render without collectstatic (no manifest), as in the tests.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
TEST_DAYS = 6
# This module is the URLconf of the run: the app's pages beside the bare experiment page.
urlpatterns = [path("", include("tradeops.urls"))]
EXPERIMENT_COLUMNS = (
    "name",
    "status",
    "bot__slug",
    "baseline_release__tag",
    "candidate_release__tag",
    "scorecard_computed_at",
    "scorecard",
)


def bare_page_view(pk):
    """The experiment page's real limit: one read of the experiment's shown columns and its
    stored scorecard, rendered as the KPI table and the verdict's wording."""

    def view(request):
        if not is_staff(request):
            return HttpResponseForbidden()
        row = Experiment.objects.values(*EXPERIMENT_COLUMNS).get(pk=pk)
        card = row.pop("scorecard") or {"kpis": [], "comparison": {"wording": ""}}
        rows = [*row.items(), ("verdict", card["comparison"]["wording"])]
        rows += [(kpi["kpi"], f"{kpi['baseline']} | {kpi['test']}") for kpi in card["kpis"]]
        return table(row["name"], ["", ""], rows)

    return view


def running_experiment(fleet, lead):
    """The main bot ran v1 until TEST_DAYS days ago, then the candidate v2 (dataset.py switches
    at 30 days: the trades in between are put back on v1)."""
    bot = fleet.main
    old, new = ConfigRelease.objects.filter(bot=bot).order_by("version")
    as_of = datetime.datetime.combine(fleet.as_of, datetime.time(), tzinfo=datetime.UTC)
    start = as_of - datetime.timedelta(days=TEST_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tradeops_trade SET release_id = %s, release_tag = %s "
            "WHERE bot_id = %s AND closed_at < %s AND release_id = %s",
            [old.pk, old.tag, bot.pk, start, new.pk],
        )
        cursor.execute("ANALYZE tradeops_trade")
    return Experiment.objects.create(
        bot=bot,
        name="A side_balance_pressure",
        lever="fib_proximity_bps",
        baseline_release=old,
        candidate_release=new,
        success_criteria="expectancy not worse",
        primary_kpis=["avg_pnl_per_trade", "profit_factor"],
        status=Experiment.Status.RUNNING,
        created_by=lead,
        started_at=start,
    )


def shadow_of_main(experiment):
    """The main bot's shadow, on the baseline release, with a twin of each of the candidate's
    trades opened a minute later (P&L a tenth off): the concurrent control of the verdict."""
    bot = experiment.bot
    shadow = Bot.objects.create(slug="main-shadow", name="Main shadow", shadow_of=bot)
    twins = []
    for trade in Trade.objects.filter(bot=bot, release=experiment.candidate_release):
        trade.pk, trade.bot, trade.external_id = None, shadow, f"S-{trade.external_id}"
        trade.release, trade.release_tag = experiment.baseline_release, "v1"
        trade.opened_at += datetime.timedelta(minutes=1)
        if trade.closed_at is not None:
            trade.closed_at += datetime.timedelta(minutes=1)
            trade.net_pnl = (trade.net_pnl * Decimal("0.9")).quantize(Decimal("0.0001"))
            trade.gross_pnl = trade.net_pnl + trade.fees + trade.funding
        twins.append(trade)
    Trade.objects.bulk_create(twins, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tradeops_trade")
    return shadow, len(twins)


DAY_SUMS_SQL = """
SELECT bot_id, day, SUM(net_pnl)::float8 FROM tradeops_dailycloses
WHERE ((bot_id = %s AND release_id = %s) OR (bot_id = %s AND release_id = %s))
  AND day >= %s AND day < %s
GROUP BY 1, 2
"""


def bare_verdict(experiment, shadow, now):
    """The cheapest computation that yields a verdict on the same data: each arm's net P&L per
    whole UTC day of the test from the daily rollup (one query, a few rows a day), the mean
    day difference candidate - shadow, its standard error over the days, and the interval the
    scorecard's confidence sequence gives at that many units. O(days), not O(trades)."""
    first, today = experiment.started_at.date(), now.date()
    with connection.cursor() as cursor:
        cursor.execute(
            DAY_SUMS_SQL,
            [
                experiment.bot_id,
                experiment.candidate_release_id,
                shadow.pk,
                experiment.baseline_release_id,
                first,
                today,
            ],
        )
        rows = cursor.fetchall()
    days = (today - first).days
    sums = np.zeros((2, days))
    for bot, day, pnl in rows:
        sums[int(bot != experiment.bot_id), (day - first).days] = pnl
    difference = sums[0] - sums[1]
    mean, se = difference.mean(), difference.std(ddof=1) / np.sqrt(days)
    rho = verdicts.sequential_rho(verdicts.ALPHA, verdicts.PLANNED_DAYS)
    half = float(verdicts.cs_multiplier(days, verdicts.ALPHA, rho)) * se
    verdict = "better" if mean - half > 0 else "worse" if mean + half < 0 else "inconclusive"
    return days, mean, se, verdict


def app_verdict_part(experiment, shadow, now):
    """The scorecard's verdict alone (both arms' trades read, twins paired, the sequence):
    the rest of build_scorecard is the KPI figures of both arms."""
    start = experiment.started_at
    return verdicts.shadow_verdict(
        scorecard._arm(experiment.bot, experiment.candidate_release, start, now),
        scorecard._arm(shadow, experiment.baseline_release, start, now),
        start=start.timestamp(),
        now=now.timestamp(),
    )


def traced_peak_mib(work):
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bots", type=int, default=50)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with throwaway_database(), override_settings(ROOT_URLCONF=__name__):
        began = time.perf_counter()
        as_of = timezone.now().date() + datetime.timedelta(days=1)
        fleet = build_fleet(bots=args.bots, main_trades=args.trades, as_of=as_of)
        ensure_roles()
        lead = User.objects.create_user("lena", is_staff=True)
        lead.groups.add(Group.objects.get(name=TEAM_LEAD))
        experiment = running_experiment(fleet, lead)
        shadow, twins = shadow_of_main(experiment)
        print(
            f"fleet of {args.bots} bots, {args.trades} trades on main: "
            f"{time.perf_counter() - began:.0f} s; peak RSS {peak_rss_mib():.0f} MiB; "
            f"{twins} twin trades on its shadow"
        )

        # What the refresh job stores (after the change; before it, the page computes it).
        refresh = getattr(scorecard, "refresh_scorecard", None)
        if refresh is not None:
            refresh(experiment, timezone.now())

        client = Client()
        client.force_login(lead)
        page = reverse("admin:experiments_experiment_change", args=[experiment.pk])
        bare_page = mount(urlpatterns, "experiment", bare_page_view(experiment.pk))
        # warm up: templates, the first connection
        assert client.get(page).status_code == client.get(bare_page).status_code == 200
        rss_before = peak_rss_mib()

        page_times, bare_page_times = [], []
        for _ in range(args.runs):
            page_times.append(timed(lambda: client.get(page))[0])
            bare_page_times.append(timed(lambda: client.get(bare_page))[0])
        report("experiment page", page_times, bare_page_times, "bare: minimal view")
        print(
            f"  one page view allocates at peak {traced_peak_mib(lambda: client.get(page)):.1f} "
            f"MiB (bare page {traced_peak_mib(lambda: client.get(bare_page)):.1f} MiB); peak "
            f"RSS {rss_before:.0f} MiB before the views, {peak_rss_mib():.0f} MiB after"
        )

        now = timezone.now()
        card_times, verdict_times, bare_times = [], [], []
        for _ in range(args.runs):
            seconds, card = timed(lambda: scorecard.build_scorecard(experiment, now))
            card_times.append(seconds)
            verdict_times.append(timed(lambda: app_verdict_part(experiment, shadow, now))[0])
            seconds, bare = timed(lambda: bare_verdict(experiment, shadow, now))
            bare_times.append(seconds)
        report("scorecard computation", card_times, bare_times, "bare: day-level statistic")
        report("  its verdict alone", verdict_times, bare_times, "bare: day-level statistic")
        comparison = card["comparison"]
        print(
            f"  trades: scorecard {card['trades']}; verdict {card['verdict']} "
            f"({comparison['finding']}), twins {comparison['pairing']['twins']}, per day "
            f"{comparison['per_day']}; bare: {bare[0]} whole days, mean day difference "
            f"{bare[1]:+.2f} (SE {bare[2]:.2f}), {bare[3]}"
        )
        print(
            f"  one computation allocates at peak "
            f"{traced_peak_mib(lambda: scorecard.build_scorecard(experiment, now)):.0f} MiB "
            f"(bare {traced_peak_mib(lambda: bare_verdict(experiment, shadow, now)):.2f} MiB); "
            f"peak RSS {peak_rss_mib():.0f} MiB"
        )


if __name__ == "__main__":
    main()
