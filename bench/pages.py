"""Admin page speed on PostgreSQL (issue 11): the evidence lists on a year of history, the Bots
list and the home page on a fleet of bots, each read by a team lead through django.test.Client.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/pages.py

Two fleets, one after the other, each in its own throw-away database: 50 bots with a year of
`--main-trades` trades for the main bot (plus health events and quarantined records, which
build_fleet does not make), then 500 bots with a few trades each. Every page is timed
interleaved with a bare query run by hand (page, bare, page, bare, ...): the page's main query
as raw SQL, or for the Bots list and home page the session and user reads every admin page makes.
Prints min and median of `--runs` runs, the ratio of the medians, the queries each page ran,
and peak memory. Targets: under 300 ms at 1M trades and 50 or 500 bots (500 ms at 10M trades),
a query count that does not grow with the rows.
"""

import argparse
import statistics
import sys
import time
from urllib.parse import urlencode

from common import peak_rss_mib, throwaway_database  # sets Django up: before tradeops
from dataset import AS_OF, Fleet, build_fleet
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import teardown_test_environment
from django.urls import reverse

from tradeops.models import Bot, HealthEvent, Trade
from tradeops.roles import TEAM_LEAD

TRADE_COLUMNS = "t.*, b.slug, r.tag, r.version, rb.slug"
TRADE_FROM = (
    "tradeops_trade t JOIN tradeops_bot b ON b.id = t.bot_id "
    "LEFT JOIN tradeops_configrelease r ON r.id = t.release_id "
    "LEFT JOIN tradeops_bot rb ON rb.id = r.bot_id"
)
SESSION_READS = (
    "SELECT s.session_data, u.username FROM django_session s, auth_user u "
    "WHERE s.expire_date > now() AND u.username = 'lena' LIMIT 1"
)


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


def trade_bare(where="", params=(), order="t.opened_at DESC, t.id DESC"):
    sql = f"SELECT {TRADE_COLUMNS} FROM {TRADE_FROM} {where} ORDER BY {order} LIMIT 100"
    return sql, list(params)


def list_bare(table, order, where="", params=()):
    sql = (
        f"SELECT x.*, b.slug FROM {table} x JOIN tradeops_bot b ON b.id = x.bot_id {where} "
        f"ORDER BY {order} LIMIT 100"
    )
    return sql, list(params)


def page(name, params=None):
    url = reverse(name)
    return f"{url}?{urlencode(params)}" if params else url


def fleet_pages(fleet):
    main = fleet.main.pk
    trades = "admin:tradeops_trade_changelist"
    return [
        ("trades (default)", page(trades), trade_bare()),
        (
            "trades by bot",
            page(trades, {"bot__id__exact": main}),
            trade_bare("WHERE t.bot_id = %s", [main]),
        ),
        (
            "trades by bot+side+reason",
            page(trades, {"bot__id__exact": main, "side": "long", "exit_reason": "stop_loss"}),
            trade_bare(
                "WHERE t.bot_id = %s AND t.side = 'long' AND t.exit_reason = 'stop_loss'", [main]
            ),
        ),
        (
            "trades sorted by net P&L",
            page(trades, {"o": "10"}),
            trade_bare(order="t.net_pnl ASC, t.opened_at DESC, t.id DESC"),
        ),
        (
            "trades search external_id",
            page(trades, {"q": "B123456"}),
            trade_bare("WHERE t.external_id = 'B123456'"),
        ),
        (
            "trades search symbol",
            page(trades, {"q": "SYM007"}),
            trade_bare("WHERE t.symbol LIKE 'SYM007%%'"),
        ),
        (
            "fills (default)",
            page("admin:tradeops_fill_changelist"),
            list_bare("tradeops_fill", "x.ts DESC, x.id DESC"),
        ),
        (
            "quarantined (default)",
            page("admin:tradeops_quarantinedrecord_changelist"),
            list_bare("tradeops_quarantinedrecord", "x.last_seen_at DESC, x.id DESC"),
        ),
        (
            "decision counts (default)",
            page("admin:tradeops_decisioncount_changelist"),
            list_bare("tradeops_decisioncount", "x.day DESC, x.outcome, x.reason, x.id DESC"),
        ),
        (
            "health events (default)",
            page("admin:tradeops_healthevent_changelist"),
            list_bare("tradeops_healthevent", "x.ts DESC, x.id DESC"),
        ),
        *fleet_overview_pages(),
    ]


def fleet_overview_pages():
    return [
        ("bots list", page("admin:tradeops_bot_changelist"), (SESSION_READS, [])),
        ("home page", page("admin:index"), (SESSION_READS, [])),
    ]


def bare_run(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.fetchall()


def measure(client, url, bare, runs):
    response = client.get(url)  # warm: the session, caches and the plan
    assert response.status_code == 200, (url, response.status_code)
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
        bare_run(*bare)
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

    with throwaway_database(args.database, drop=args.database is None):
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
        with throwaway_database():
            fleet = build_fleet(bots=500, main_trades=2_000, other_trades=100, days=90, symbols=5)
            pages = [("trades (default)", page("admin:tradeops_trade_changelist"), trade_bare())]
            report("500 bots", team_lead(), pages + fleet_overview_pages(), args.runs)
    print(f"\npeak RSS: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
