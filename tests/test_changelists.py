"""The evidence lists stay fast on years of history (issue 11): a page runs as many queries for
a full page of rows, many bots and their releases as for one row; each list's default order is
read from an index, not sorted; a count stops after the first thousand rows; the filters' choices
come from the bots, not from a DISTINCT over the history; search reads an index (an exact id, or
the start of a symbol)."""

import datetime
import re
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import log_in_as, trade
from tradeops.admin_lists import EstimatedCountPaginator
from tradeops.models import (
    ConfigRelease,
    DecisionCount,
    EquitySnapshot,
    Fill,
    HealthEvent,
    QuarantinedRecord,
    Trade,
)
from tradeops.roles import TEAM_LEAD
from tradeops.services import create_bot

TRADES = reverse("admin:tradeops_trade_changelist")
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
LONG_LISTS = [
    "trade",
    "fill",
    "quarantinedrecord",
    "decisioncount",
    "healthevent",
    "equitysnapshot",
]


@pytest.fixture
def lead(db):
    client = Client()
    log_in_as(client, "lena", TEAM_LEAD)
    return client


def a_bot_with_history(slug, rows, vocabulary=("take_profit", "stop_loss")):
    """A bot with two releases and `rows` of each kind of evidence, its trades on the second."""
    bot, _ = create_bot(slug=slug)
    bot.known_exit_reasons = list(vocabulary)
    bot.save(update_fields=["known_exit_reasons"])
    for version in (1, 2):
        release = ConfigRelease.objects.create(bot=bot, version=version, tag=f"v{version}")
    for n in range(rows):
        moment = START + datetime.timedelta(hours=n)
        made = trade(bot, f"{slug}-{n}", moment, "1.5", release=release, release_tag="v2")
        Fill.objects.create(
            bot=bot,
            external_id=f"{slug}-{n}-E",
            trade_external_id=made.external_id,
            trade=made,
            ts=moment,
            side="sell",
            price=Decimal(100),
            qty=Decimal(1),
            fee=Decimal("0.1"),
            liquidity="taker",
        )
        HealthEvent.objects.create(bot=bot, ts=moment, kind="degraded", detail="slow")
        EquitySnapshot.objects.create(bot=bot, ts=moment, equity=Decimal(1000 + n))
        DecisionCount.objects.create(
            bot=bot, day=moment.date(), symbol=f"S{n}", outcome="no_signal", count=n + 1
        )
        QuarantinedRecord.objects.create(
            bot=bot,
            kind="trades",
            reason="malformed",
            external_id=f"{slug}-bad-{n}",
            raw="{}",
            source="test",
            fingerprint=f"{slug}-{n}",
            first_seen_at=moment,
            last_seen_at=moment,
        )
    return bot


def queries_for(client, url):
    client.get(url)  # the first request warms the session and caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return queries


def listed(client, url):
    """The first column (each row's link) of the list at `url`."""
    page = client.get(url).content.decode()
    return re.findall(r'<th class="field-\w+"><a href="[^"]+">([^<]+)</a>', page)


@pytest.mark.parametrize("model", LONG_LISTS)
def test_a_list_runs_as_many_queries_for_many_bots_and_a_full_page_as_for_one_row(
    lead, model, django_assert_max_num_queries
):
    url = reverse(f"admin:tradeops_{model}_changelist")
    alpha = a_bot_with_history("alpha", rows=1)
    one_row = len(queries_for(lead, url))
    assert one_row <= 12

    for n in range(5):
        a_bot_with_history(f"bot-{n}", rows=25)
    lead.get(url)
    with django_assert_max_num_queries(one_row):
        lead.get(url)
    with django_assert_max_num_queries(one_row):
        lead.get(f"{url}?bot__id__exact={alpha.pk}&q=bot-1-3")


def read_from_an_index(queryset):
    """The first page's rows (the joined names aside) when PostgreSQL must use an index if one
    fits: read in order, not sorted. Table scans and bitmap scans (which lose the order) are
    off, so the plan does not hang on a few rows' statistics, which autovacuum may or may not
    have gathered by then."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        plan = queryset.select_related(None)[:100].explain()
        cursor.execute("RESET enable_bitmapscan")
        cursor.execute("SET LOCAL enable_seqscan = on")
    return "Sort" not in plan


@pytest.mark.parametrize("model", LONG_LISTS)
def test_each_list_reads_its_default_order_from_an_index_whole_or_for_one_bot(lead, model):
    bot = a_bot_with_history("alpha", rows=3)
    url = reverse(f"admin:tradeops_{model}_changelist")
    for params in ("", f"?bot__id__exact={bot.pk}"):
        changelist = lead.get(url + params).context["cl"]
        assert read_from_an_index(changelist.queryset), params


def test_the_trade_list_filtered_by_exit_reason_or_open_trades_reads_an_index(lead):
    a_bot_with_history("alpha", rows=3)
    for params in ("?exit_reason=stop_loss", "?status__exact=open"):
        changelist = lead.get(TRADES + params).context["cl"]
        assert read_from_an_index(changelist.queryset), params


def test_a_long_list_counts_its_first_rows_and_estimates_the_rest(lead, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "EXACT_UP_TO", 3)
    a_bot_with_history("alpha", rows=8)
    queries = [query["sql"] for query in queries_for(lead, TRADES)]
    counts = [sql for sql in queries if "COUNT(" in sql.upper()]
    assert counts and all("LIMIT 4" in sql for sql in counts)
    assert any(sql.startswith("EXPLAIN") for sql in queries)
    assert lead.get(TRADES).context["cl"].result_count >= 4  # the planner's estimate
    # Up to 3 rows the count is exact.
    assert lead.get(f"{TRADES}?q=alpha-7").context["cl"].result_count == 1


def test_the_exit_reason_filter_offers_the_bots_vocabulary_and_unknown(lead):
    alpha = a_bot_with_history("alpha", rows=0)
    beta = a_bot_with_history("beta", rows=0, vocabulary=["take_profit", "mystery"])
    moment = START
    trade(alpha, "known", moment, "1", exit_reason="stop_loss")
    trade(alpha, "mystery", moment, "1", exit_reason="mystery")
    trade(alpha, "empty", moment, "1", exit_reason="")
    trade(beta, "beta-mystery", moment, "1", exit_reason="mystery")

    page = lead.get(TRADES).content.decode()
    for reason in ("take_profit", "stop_loss", "mystery"):
        assert f"?exit_reason={reason}" in page
    Trade.objects.create(
        bot=alpha,
        external_id="still-open",
        symbol="BTCUSDT",
        side="long",
        status="open",
        opened_at=moment,
        qty=Decimal(1),
        entry_price=Decimal(100),
    )
    assert sorted(listed(lead, f"{TRADES}?exit_reason=%28unknown%29")) == ["empty", "mystery"]
    assert sorted(listed(lead, f"{TRADES}?exit_reason=mystery")) == ["beta-mystery", "mystery"]


def test_the_trades_list_sorts_by_opened_at_and_net_pnl_only(lead):
    a_bot_with_history("alpha", rows=1)

    page = lead.get(TRADES).content.decode()

    assert 'class="sortable column-opened_at' in page
    assert 'class="sortable column-net_pnl' in page
    assert 'class="sortable column-qty' not in page


def test_a_hand_made_url_cannot_sort_a_long_list_by_a_column_without_an_index(lead):
    """Django applies ?o= to any column, shown as sortable or not: the lists ignore it for
    columns outside sortable_by, as a sort without an index reads the whole history."""
    a_bot_with_history("alpha", rows=3)
    columns = lead.get(TRADES).context["cl"].list_display
    unindexed = [n for n, column in enumerate(columns) if column in ("exit_reason", "symbol")]

    for n in unindexed:
        changelist = lead.get(f"{TRADES}?o={n}").context["cl"]
        assert read_from_an_index(changelist.queryset), columns[n]
        assert "exit_reason" not in str(changelist.queryset.query.order_by)
        assert "symbol" not in str(changelist.queryset.query.order_by)


def test_the_release_filter_names_each_release_and_narrows_to_the_chosen_bot(lead):
    alpha = a_bot_with_history("alpha", rows=1)
    a_bot_with_history("beta", rows=1)
    page = lead.get(TRADES).content.decode()
    assert "alpha v2 (v2)" in page and "beta v1 (v1)" in page
    page = lead.get(f"{TRADES}?bot__id__exact={alpha.pk}").content.decode()
    assert "alpha v2 (v2)" in page and "beta v1 (v1)" not in page


def test_trade_search_finds_an_exact_trade_id_or_the_start_of_a_symbol(lead):
    bot = a_bot_with_history("alpha", rows=12)
    trade(bot, "eth-1", START, "1")
    Trade.objects.filter(external_id="eth-1").update(symbol="ETHUSDT")
    assert listed(lead, f"{TRADES}?q=alpha-1") == ["alpha-1"]
    assert listed(lead, f"{TRADES}?q=eth") == ["eth-1"]
    assert listed(lead, f"{TRADES}?q=USDT") == []


def test_the_lists_offer_a_date_filter_in_place_of_the_date_hierarchy(lead):
    a_bot_with_history("alpha", rows=2)
    page = lead.get(TRADES).content.decode()
    assert "opened_at__gte=" in page and "Past 7 days" in page
    since = urlencode({"opened_at__gte": START.isoformat()})  # alpha-1 opened then, alpha-0 before
    assert listed(lead, f"{TRADES}?{since}") == ["alpha-1"]


@pytest.mark.parametrize(
    "model, search, indexes",
    [
        ("trade", "alpha-1", ["trade_external_id_idx", "trade_symbol_prefix_idx"]),
        ("fill", "alpha-1", ["fill_external_id_idx", "fill_trade_external_id_idx"]),
        ("quarantinedrecord", "alpha-bad-1", ["quarantine_external_id_idx"]),
        ("healthevent", "slow", ["health_detail_trgm_idx"]),
    ],
)
def test_a_search_reads_an_index_for_each_field_it_looks_in(lead, model, search, indexes):
    a_bot_with_history("alpha", rows=3)
    url = reverse(f"admin:tradeops_{model}_changelist")
    changelist = lead.get(f"{url}?{urlencode({'q': search})}").context["cl"]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = changelist.queryset.select_related(None).order_by().explain()
        cursor.execute("SET LOCAL enable_seqscan = on")
    scans = [line for line in plan.splitlines() if "Index Scan" in line]
    assert all(any(index in scan for scan in scans) for index in indexes), plan
