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
- the scorecard's computation (what the refresh job runs per experiment: the KPI figures of the
  baseline window, the test and the control from the daily rollups, and the verdict on the
  candidate against its shadow, which twins the candidate's trades a minute later) against the
  bare read it cannot avoid: one SQL read of both arms' trades of the test window (pair, side,
  times, net P&L as float8) and their means.
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
from tradeops.models import Bot, ConfigRelease, Trade  # noqa: E402
from tradeops.roles import TEAM_LEAD, ensure_roles  # noqa: E402

# Pages render without collectstatic (no manifest), as in the tests.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
TEST_DAYS = 6


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


def bare_arms(experiment, shadow, now):
    """Both arms' trades of the test window in one read, and their means."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bot_id, symbol, side, extract(epoch FROM opened_at), "
            "extract(epoch FROM closed_at), net_pnl::float8 FROM tradeops_trade "
            "WHERE ((bot_id = %s AND release_id = %s) OR (bot_id = %s AND release_id = %s)) "
            "AND status = 'closed' AND closed_at >= %s AND closed_at < %s",
            [
                experiment.bot_id,
                experiment.candidate_release_id,
                shadow.pk,
                experiment.baseline_release_id,
                experiment.started_at,
                now,
            ],
        )
        rows = cursor.fetchall()
    pnl = np.array([row[5] for row in rows])
    live = np.array([row[0] == experiment.bot_id for row in rows])
    return len(rows), float(pnl[live].mean() - pnl[~live].mean())


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
            seconds, bare = timed(lambda: bare_arms(experiment, shadow, now))
            bare_times.append(seconds)
        report("scorecard computation", card_times, bare_times, "bare read of both arms")
        comparison = card["comparison"]
        print(
            f"  trades: scorecard {card['trades']}, bare {bare[0]} rows; verdict "
            f"{card['verdict']} ({comparison['finding']}), twins "
            f"{comparison['pairing']['twins']}, per trade {comparison['per_trade']}, bare "
            f"mean difference {bare[1]:.4f}"
        )
        print(
            f"  one computation allocates at peak "
            f"{traced_peak_mib(lambda: scorecard.build_scorecard(experiment, now)):.0f} MiB "
            f"(bare {traced_peak_mib(lambda: bare_arms(experiment, shadow, now)):.0f} MiB); "
            f"peak RSS {peak_rss_mib():.0f} MiB"
        )


if __name__ == "__main__":
    main()
