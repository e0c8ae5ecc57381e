"""Admin page speed on PostgreSQL (issue 11): the evidence lists on a year of history, the Bots
list and the home page on a fleet of bots, each read by a team lead through django.test.Client.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/pages.py

Two fleets, one after the other, each in its own throw-away database: 50 bots with a year of
`--main-trades` trades for the main bot (plus health events and quarantined records, which
build_fleet does not make), then 500 bots with a few trades each. Every page is timed
interleaved with its bare twin (page, bare, page, bare, ...), the real limit of that page: a
minimal view (bench/bare_views.py) behind the same middleware and the same Client, which reads
the values of the columns the page shows, with its filter, ordering and LIMIT 100, and renders
them as a bare table (the home page: the user's permissions, which choose the models it lists).
Prints min and median of `--runs` runs, the ratio of the medians, the queries each page ran,
and peak memory. Targets: under 300 ms at 1M trades and 50 or 500 bots (500 ms at 10M trades),
a query count that does not grow with the rows.
"""

import argparse
import statistics
import sys
import time
from urllib.parse import urlencode

from bare_views import is_staff, mount, rows_view, table
from common import peak_rss_mib, throwaway_database  # sets Django up: before tradeops
from dataset import AS_OF, Fleet, build_fleet
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.http import HttpResponseForbidden
from django.test import Client
from django.test.utils import override_settings, teardown_test_environment
from django.urls import include, path, reverse

from tradeops.admin.reports import TRADE_NET_PNL, TradeAdmin
from tradeops.models import Bot, DecisionCount, Fill, HealthEvent, QuarantinedRecord, Trade
from tradeops.roles import TEAM_LEAD

TRADE_COLUMNS = (
    "external_id",
    "bot__slug",
    "symbol",
    "side",
    "status",
    "opened_at",
    "closed_at",
    "qty",
    "entry_price",
    "exit_price",
    "net_pnl",
    "exit_reason",
    "release__tag",
)
LIST_COLUMNS = {
    Fill: ("external_id", "bot__slug", "trade_external_id", "ts", "side", "price", "qty", "fee"),
    QuarantinedRecord: (
        "last_seen_at",
        "bot__slug",
        "kind",
        "reason",
        "external_id",
        "times_seen",
        "first_seen_at",
    ),
    DecisionCount: ("day", "bot__slug", "symbol", "outcome", "reason", "count"),
    HealthEvent: ("ts", "bot__slug", "kind", "state", "detail"),
    Bot: ("slug", "name", "exchange", "shadow_of__slug", "is_active", "created_at"),
}
# This module is the URLconf of the run: the app's pages beside their bare twins (mounted
# by the page lists below).
urlpatterns = [path("", include("tradeops.urls"))]


def add_evidence(bot, health_events, quarantined):
    """A health event every few minutes over the year and a stream of refused records."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tradeops_healthevent (bot_id, ts, kind, state, detail, ingested_at) "
            "SELECT %s, timestamptz '2025-11-01' + n * interval '157 seconds', "
            "CASE WHEN n %% 50 = 0 THEN 'state_change' ELSE 'degraded' END, "
            "CASE WHEN n %% 50 = 0 THEN 'DEGRADED' ELSE '' END, "
            "'latency ' || n %% 997 || ' ms on SYM' || lpad((n %% 50)::text, 3, '0') || 'USDT', "
            "now() FROM generate_series(1, %s) n",
            [bot.pk, health_events],
        )
        cursor.execute(
            "INSERT INTO tradeops_quarantinedrecord (bot_id, kind, reason, external_id, raw, "
            "errors, source, fingerprint, first_seen_at, last_seen_at, times_seen) "
            "SELECT %s, 'trades', 'malformed', 'Q' || n, '{\"external_id\": \"Q' || n || "
            '\'", "qty": "0"}\', \'{"qty": "must be positive"}\', \'api\', md5(n::text), '
            "timestamptz '2025-11-01' + n * interval '10 minutes', "
            "timestamptz '2025-11-01' + n * interval '10 minutes', 1 "
            "FROM generate_series(1, %s) n",
            [bot.pk, quarantined],
        )
        cursor.execute("ANALYZE")


def kept_fleet():
    """The fleet a kept database already holds, or None."""
    main = Bot.objects.filter(slug="main").first()
    if main is None:
        return None
    return Fleet(bots=list(Bot.objects.order_by("pk")), main=main, as_of=AS_OF, days=365)


def team_lead():
    lead, _ = User.objects.get_or_create(username="lena", defaults={"is_staff": True})
    lead.groups.add(Group.objects.get(name=TEAM_LEAD))
    client = Client()
    client.force_login(lead)
    return client


def trade_bare(name, order=("-opened_at", "-id"), **where):
    """The trade list's 100 rows, as the page filters and orders them."""
    rows = Trade.objects.filter(**where).order_by(*order).values_list(*TRADE_COLUMNS)
    return mount(urlpatterns, name, rows_view(name, lambda request: rows[:100]))


def list_bare(model, order):
    """An evidence list's first 100 rows in its order."""
    rows = model.objects.order_by(*order).values_list(*LIST_COLUMNS[model])
    return mount(
        urlpatterns, model._meta.model_name, rows_view(model.__name__, lambda r: rows[:100])
    )


def home_bare(request):
    """The admin index lists the models the user may see: the user's permissions, then a page."""
    if not is_staff(request):
        return HttpResponseForbidden()
    return table(
        "Site administration",
        ["permission"],
        [[p] for p in sorted(request.user.get_all_permissions())],
    )


def page(name, params=None):
    url = reverse(name)
    return f"{url}?{urlencode(params)}" if params else url


def fleet_pages(fleet):
    main = fleet.main.pk
    trades = "admin:tradeops_trade_changelist"
    return [
        ("trades (default)", page(trades), trade_bare("trades")),
        (
            "trades by bot",
            page(trades, {"bot__id__exact": main}),
            trade_bare("trades-by-bot", bot_id=main),
        ),
        (
            "trades by bot+side+reason",
            page(trades, {"bot__id__exact": main, "side": "long", "exit_reason": "stop_loss"}),
            trade_bare(
                "trades-by-bot-side-reason", bot_id=main, side="long", exit_reason="stop_loss"
            ),
        ),
        (
            "trades sorted by net P&L",
            page(trades, {"o": str(TradeAdmin.list_display.index(TRADE_NET_PNL))}),
            trade_bare("trades-by-pnl", order=("net_pnl", "-opened_at", "-id")),
        ),
        (
            "trades search external_id",
            page(trades, {"q": "B123456"}),
            trade_bare("trades-search-id", external_id="B123456"),
        ),
        (
            "trades search symbol",
            page(trades, {"q": "SYM007"}),
            trade_bare("trades-search-symbol", symbol__istartswith="SYM007"),
        ),
        (
            "fills (default)",
            page("admin:tradeops_fill_changelist"),
            list_bare(Fill, ("-ts", "-id")),
        ),
        (
            "quarantined (default)",
            page("admin:tradeops_quarantinedrecord_changelist"),
            list_bare(QuarantinedRecord, ("-last_seen_at", "-id")),
        ),
        (
            "decision counts (default)",
            page("admin:tradeops_decisioncount_changelist"),
            list_bare(DecisionCount, ("-day", "outcome", "reason", "-id")),
        ),
        (
            "health events (default)",
            page("admin:tradeops_healthevent_changelist"),
            list_bare(HealthEvent, ("-ts", "-id")),
        ),
        *fleet_overview_pages(),
    ]


def fleet_overview_pages():
    return [
        ("bots list", page("admin:tradeops_bot_changelist"), list_bare(Bot, ("slug",))),
        ("home page", page("admin:index"), mount(urlpatterns, "home", home_bare)),
    ]


def measure(client, url, bare, runs):
    for address in (url, bare):  # warm: the session, caches and the plan
        response = client.get(address)
        assert response.status_code == 200, (address, response.status_code)
    queries = []

    def counted(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        client.get(url)
    page_times, bare_times = [], []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(url)
        page_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        client.get(bare)
        bare_times.append(time.perf_counter() - started)
    return len(queries), page_times, bare_times


def report(title, client, pages, runs):
    print(f"\n{title}")
    print(
        f"{'page':<28} {'queries':>7} {'min ms':>8} {'median':>8} {'bare min':>9} "
        f"{'median':>8} {'ratio':>7}"
    )
    for name, url, bare in pages:
        count, page_times, bare_times = measure(client, url, bare, runs)
        page_ms = [t * 1000 for t in page_times]
        bare_ms = [t * 1000 for t in bare_times]
        ratio = statistics.median(page_ms) / statistics.median(bare_ms)
        print(
            f"{name:<28} {count:>7} {min(page_ms):>8.1f} {statistics.median(page_ms):>8.1f} "
            f"{min(bare_ms):>9.1f} {statistics.median(bare_ms):>8.1f} {ratio:>7.1f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--main-trades", type=int, default=1_000_000)
    parser.add_argument("--bots", type=int, default=50)
    parser.add_argument("--health-events", type=int, default=200_000)
    parser.add_argument("--quarantined", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--trades-only", action="store_true", help="skip the 500-bot fleet")
    parser.add_argument(
        "--database",
        help="measure the fleet kept in this database (made if missing, e.g. the one "
        "`bench/kpis.py --trades 10000000 --keep` loads) and keep it",
    )
    args = parser.parse_args()
    # As in production, but over plain HTTP and without collectstatic (no manifest).
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    with (
        throwaway_database(args.database, drop=args.database is None),
        override_settings(ROOT_URLCONF=__name__),
    ):
        print(f"PostgreSQL {connection.pg_version}, Python {sys.version.split()[0]}")
        started = time.perf_counter()
        fleet = kept_fleet() or build_fleet(bots=args.bots, main_trades=args.main_trades)
        if not HealthEvent.objects.filter(bot=fleet.main).exists():
            add_evidence(fleet.main, args.health_events, args.quarantined)
        built = time.perf_counter() - started
        trades = Trade.objects.filter(bot=fleet.main).count()
        print(f"{len(fleet.bots)} bots, {trades:,} trades for the main bot, ready in {built:.0f} s")
        title = f"{len(fleet.bots)} bots, a year of history"
        report(title, team_lead(), fleet_pages(fleet), args.runs)

    if not args.trades_only:
        teardown_test_environment()  # throwaway_database sets it up again
        # A database of its own, not the kept one `--database` named (which it would clobber).
        connection.settings_dict["TEST"]["NAME"] = None
        with throwaway_database(), override_settings(ROOT_URLCONF=__name__):
            fleet = build_fleet(bots=500, main_trades=2_000, other_trades=100, days=90, symbols=5)
            pages = [
                ("trades (default)", page("admin:tradeops_trade_changelist"), trade_bare("trades"))
            ]
            report("500 bots", team_lead(), pages + fleet_overview_pages(), args.runs)
    print(f"\npeak RSS: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
