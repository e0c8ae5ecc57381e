"""Integrity's pages say their data in words (issue 23, sections 5 and 7): an incident's detail
names its trades with links, not JSON; a cleanup plan's reasons give money with 2 decimals and
the bot's currency; the cleanup runbook the incident page names is a page the team can open."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from integrity.admin_words import reason_shown
from integrity.cleanup import plan_cleanup
from integrity.models import IntegrityIncident
from integrity.services import open_or_bump_incident
from tests.factories import closed_trade, ingest, log_in_as
from tradeops.models import Trade
from tradeops.roles import OPERATOR, VIEWER

RUNBOOK_PAGE = reverse("admin:integrity_cleanup_runbook")


def text(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_an_incidents_detail_names_its_trades_with_links(client, bot):
    ingest(bot, "trades", closed_trade(external_id="D00-000"))
    trade = Trade.objects.get(external_id="D00-000")
    incident = open_or_bump_incident(
        bot=bot,
        kind=IntegrityIncident.Kind.MALFORMED_STORED_TRADE,
        severity="critical",
        title="1 malformed stored trade",
        detail={"trade_ids": ["D00-000", "GONE-1"], "rule": "net_pnl"},
    )
    log_in_as(client, "vic", VIEWER)

    page = client.get(reverse("admin:integrity_integrityincident_change", args=[incident.pk]))

    html = page.content.decode()
    link = reverse("admin:tradeops_trade_change", args=[trade.pk])
    assert f'<a href="{link}">D00-000</a>' in html
    assert f'trades: <a href="{link}">D00-000</a>, GONE-1' in html
    assert "rule: net_pnl" in text(page)
    assert "&quot;trade_ids&quot;" not in html and "trade_ids" not in text(page)


def test_a_cleanup_plans_money_reads_with_2_decimals_and_the_bots_currency(client, bot):
    ingest(bot, "trades", closed_trade(external_id="BAD"))
    Trade.objects.filter(external_id="BAD").update(net_pnl=Decimal("33.445539820000"))
    plan = plan_cleanup(bot, by="otto")
    log_in_as(client, "vera", OPERATOR)

    shown = text(client.get(reverse("admin:integrity_cleanupplan_change", args=[plan.pk])))

    assert "net_pnl 33.45 USDT is inconsistent with gross_pnl - fees - funding =" in shown
    assert "33.445539820000" not in shown


def test_figures_under_a_cent_apart_keep_their_digits_so_the_reason_still_shows_why():
    reason = (
        "net_pnl: net_pnl 10.004000000000 is inconsistent with gross_pnl - fees - funding = 10.001"
    )

    assert reason_shown(reason, "USDT") == (
        "net_pnl: net_pnl 10.004 USDT is inconsistent with gross_pnl - fees - funding = 10.001 USDT"
    )


def test_a_reason_without_money_is_left_as_it_is():
    assert reason_shown("closed_at: must be set", "USDT") == "closed_at: must be set"


@pytest.mark.django_db
def test_a_malformed_trade_incident_links_the_runbook_page_which_shows_the_runbook(client, bot):
    incident = open_or_bump_incident(
        bot=bot,
        kind=IntegrityIncident.Kind.MALFORMED_STORED_TRADE,
        severity="critical",
        title="malformed",
    )
    log_in_as(client, "vic", VIEWER)
    page = client.get(reverse("admin:integrity_integrityincident_change", args=[incident.pk]))
    assert f'href="{RUNBOOK_PAGE}"' in page.content.decode()

    runbook = client.get(RUNBOOK_PAGE)

    assert runbook.status_code == 200
    shown = text(runbook)
    assert "Runbook: cleaning malformed trades" in shown
    assert "scripts/cleanup_malformed_trades.py --dry-run --bot demo-perp" in shown
    assert "<ol>" in runbook.content.decode() and "```" not in shown
