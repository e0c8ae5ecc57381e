"""Applying a cleanup plan from the admin: a confirmation page first, saying what moves to
quarantine with the dry run's rows as a table; the plan's page shows its rows as a table too."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from integrity.cleanup import plan_cleanup
from integrity.models import CleanupPlan
from tests.factories import closed_trade, ingest, log_in_as
from tradeops.models import Fill, QuarantinedRecord, Trade
from tradeops.roles import OPERATOR, TEAM_LEAD

PLANS = reverse("admin:integrity_cleanupplan_changelist")
FILL = {
    "trade_external_id": "BAD",
    "ts": "2026-11-02T10:00:00Z",
    "side": "sell",
    "price": "50000",
    "qty": "0.5",
    "fee": "1",
}


@pytest.fixture
def plan(bot):
    """A dry run finding one trade stored before today's P&L rule, with its two fills."""
    ingest(bot, "trades", closed_trade(external_id="GOOD"), closed_trade(external_id="BAD"))
    for n in (1, 2):
        ingest(bot, "fills", {**FILL, "external_id": f"F-{n}", "liquidity": "taker"})
    Trade.objects.filter(external_id="BAD").update(net_pnl=Decimal("999"))
    return plan_cleanup(bot, by="otto")


def text(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_plan_page_shows_its_rows_as_a_table(client, plan):
    log_in_as(client, "vera", OPERATOR)

    page = client.get(reverse("admin:integrity_cleanupplan_change", args=[plan.pk]))

    html = page.content.decode()
    assert '<table class="cleanup-rows">' in html
    assert '"fingerprint":' not in html and "&quot;trade_id&quot;" not in html  # no raw JSON
    assert "BAD" in text(page) and "move to quarantine" in text(page)
    assert "net_pnl 999" in text(page)


def test_apply_shows_what_moves_then_moves_it_on_confirm(client, plan):
    log_in_as(client, "lena", TEAM_LEAD)
    page = client.get(reverse("admin:integrity_cleanupplan_change", args=[plan.pk]))
    assert 'value="apply_plan"' in page.content.decode()

    confirmation = client.post(PLANS, {"action": "apply_plan", "_selected_action": [plan.pk]})

    shown = text(confirmation)
    assert "1 trade(s) and their 2 fill(s) will move to quarantine." in shown
    assert '<table class="cleanup-rows">' in confirmation.content.decode()
    assert "BAD" in shown and "net_pnl 999" in shown
    assert "Yes, move them to quarantine" in confirmation.content.decode()
    assert Trade.objects.filter(external_id="BAD").exists()  # nothing moved yet
    plan.refresh_from_db()
    assert plan.status == CleanupPlan.Status.PLANNED

    client.post(PLANS, {"action": "apply_plan", "_selected_action": [plan.pk], "confirm": "yes"})

    plan.refresh_from_db()
    assert plan.status == CleanupPlan.Status.APPLIED
    assert not Trade.objects.filter(external_id="BAD").exists()
    assert Fill.objects.count() == 0
    assert QuarantinedRecord.objects.filter(source=f"cleanup plan {plan.pk}").count() == 1


def test_restore_asks_first_too(client, plan):
    log_in_as(client, "lena", TEAM_LEAD)
    client.post(PLANS, {"action": "apply_plan", "_selected_action": [plan.pk], "confirm": "yes"})

    confirmation = client.post(PLANS, {"action": "restore_plan", "_selected_action": [plan.pk]})

    assert "1 trade(s) will come back, with their fills." in text(confirmation)
    assert not Trade.objects.filter(external_id="BAD").exists()
    client.post(PLANS, {"action": "restore_plan", "_selected_action": [plan.pk], "confirm": "yes"})
    assert Trade.objects.filter(external_id="BAD").exists() and Fill.objects.count() == 2


def test_an_operator_gets_neither_the_button_nor_the_page(client, plan):
    log_in_as(client, "otto", OPERATOR)
    page = client.get(reverse("admin:integrity_cleanupplan_change", args=[plan.pk]))
    assert 'value="apply_plan"' not in page.content.decode()

    response = client.post(PLANS, {"action": "apply_plan", "_selected_action": [plan.pk]})
    client.post(PLANS, {"action": "apply_plan", "_selected_action": [plan.pk], "confirm": "yes"})

    assert "will move to quarantine" not in text(response)
    plan.refresh_from_db()
    assert plan.status == CleanupPlan.Status.PLANNED
    assert Trade.objects.filter(external_id="BAD").exists()
