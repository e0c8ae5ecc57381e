"""The experiment page on a year of history: 1,000,000 trades on the main bot of a 50-bot fleet,
an experiment running its candidate for the last 6 days against the baseline's 30 days before
(about 82k baseline and 16k test trades, the sizes of issue 11).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops_bench .venv/bin/python \
        bench/experiment_page.py [--bots 50] [--trades 1000000] [--runs 5]

Prints, each interleaved with a bare implementation in the same run, min and median over the runs
and their ratio:
- the running experiment's admin change page as a Team lead (django.test.Client, server time),
  against Django's own admin change page of a user, viewed by a superuser (a plain admin page of
  a simple model);
- the scorecard's computation (what the refresh job runs per experiment) against a bare numpy
  percentile bootstrap of the same trades with the same number of resamples: one SQL read of
  both sides' net P&L as float8, one index draw per resample shared by the expectancy and the
  profit factor, in chunks.
Memory: the peak traced allocation (tracemalloc: Python objects and numpy buffers) of one page
view and of one computation, and the process's peak RSS.
"""

import argparse
import datetime
import os
import time
import tracemalloc

os.environ.setdefault("SECURE_SSL_REDIRECT", "False")

import numpy as np  # noqa: E402
from common import peak_rss_mib, report, throwaway_database, timed  # noqa: E402  (sets Django up)
from dataset import build_fleet  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from experiments import scorecard  # noqa: E402
from experiments.models import Experiment  # noqa: E402
from tradeops.models import ConfigRelease  # noqa: E402
from tradeops.roles import TEAM_LEAD, ensure_roles  # noqa: E402

# Pages render without collectstatic (no manifest), as in the tests.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
TEST_DAYS = 6
CHUNK = 1 << 20  # index draws held at once by the bare bootstrap


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


def bare_bootstrap(experiment, samples=scorecard.SAMPLES, seed=0):
    """Both sides' net P&L in one read, then the expectancy difference and each side's profit
    factor interval from shared index draws."""
    start = experiment.started_at.replace(hour=0, minute=0, second=0, microsecond=0)
    sides = []
    with connection.cursor() as cursor:
        for release, low, high in (
            (experiment.baseline_release_id, start - datetime.timedelta(days=30), start),
            (experiment.candidate_release_id, start, timezone.now() + datetime.timedelta(days=1)),
        ):
            cursor.execute(
                "SELECT net_pnl::float8 FROM tradeops_trade WHERE bot_id = %s AND release_id = %s "
                "AND status = 'closed' AND closed_at >= %s AND closed_at < %s "
                "ORDER BY closed_at, id",
                [experiment.bot_id, release, low, high],
            )
            sides.append(np.array([row[0] for row in cursor.fetchall()]))
    rng = np.random.default_rng(seed)
    results = []
    for pnl in sides:
        wins_of = np.maximum(pnl, 0)
        totals, wins = np.empty(samples), np.empty(samples)
        step = max(1, CHUNK // len(pnl))
        for first in range(0, samples, step):
            rows = min(step, samples - first)
            draw = rng.integers(0, len(pnl), (rows, len(pnl)))
            totals[first : first + rows] = pnl[draw].sum(axis=1)
            wins[first : first + rows] = wins_of[draw].sum(axis=1)
        results.append((pnl, totals, wins))
    (base, base_totals, _), (test, test_totals, _) = results
    difference = np.percentile(test_totals / len(test) - base_totals / len(base), [2.5, 97.5])
    factors = []
    for _, totals, wins in results:
        losses = wins - totals
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(losses > 0, wins / losses, np.inf)
        factors.append(np.percentile(factor, [2.5, 97.5], method="inverted_cdf"))
    return len(base), len(test), difference, factors


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
    with throwaway_database():
        began = time.perf_counter()
        as_of = timezone.now().date() + datetime.timedelta(days=1)
        fleet = build_fleet(bots=args.bots, main_trades=args.trades, as_of=as_of)
        ensure_roles()
        lead = User.objects.create_user("lena", is_staff=True)
        lead.groups.add(Group.objects.get(name=TEAM_LEAD))
        experiment = running_experiment(fleet, lead)
        print(
            f"fleet of {args.bots} bots, {args.trades} trades on main: "
            f"{time.perf_counter() - began:.0f} s; peak RSS {peak_rss_mib():.0f} MiB"
        )

        # What the refresh job stores (after the change; before it, the page computes it).
        refresh = getattr(scorecard, "refresh_scorecard", None)
        if refresh is not None:
            refresh(experiment, timezone.now())

        client, admin = Client(), Client()
        client.force_login(lead)
        admin.force_login(User.objects.create_superuser("root"))
        page = reverse("admin:experiments_experiment_change", args=[experiment.pk])
        bare_page = reverse("admin:auth_user_change", args=[lead.pk])
        # warm up: templates, the first connection
        assert client.get(page).status_code == admin.get(bare_page).status_code == 200
        rss_before = peak_rss_mib()

        page_times, bare_page_times = [], []
        for _ in range(args.runs):
            page_times.append(timed(lambda: client.get(page))[0])
            bare_page_times.append(timed(lambda: admin.get(bare_page))[0])
        report("experiment page", page_times, bare_page_times, "bare: admin user page")
        print(
            f"  one page view allocates at peak {traced_peak_mib(lambda: client.get(page)):.1f} "
            f"MiB (bare page {traced_peak_mib(lambda: admin.get(bare_page)):.1f} MiB); peak "
            f"RSS {rss_before:.0f} MiB before the views, {peak_rss_mib():.0f} MiB after"
        )

        now = timezone.now()
        card_times, bare_times = [], []
        for _ in range(args.runs):
            seconds, card = timed(lambda: scorecard.build_scorecard(experiment, now))
            card_times.append(seconds)
            seconds, bare = timed(lambda: bare_bootstrap(experiment, seed=experiment.pk))
            bare_times.append(seconds)
        report("scorecard computation", card_times, bare_times, "bare numpy bootstrap")
        print(
            f"  trades: scorecard {card['trades']}, bare {bare[:2]}; expectancy difference "
            f"interval scorecard {card['expectancy_difference']}, bare {bare[2].round(4)}"
        )
        print(
            f"  one computation allocates at peak "
            f"{traced_peak_mib(lambda: scorecard.build_scorecard(experiment, now)):.0f} MiB "
            f"(bare {traced_peak_mib(lambda: bare_bootstrap(experiment)):.0f} MiB); "
            f"peak RSS {peak_rss_mib():.0f} MiB"
        )


if __name__ == "__main__":
    main()
