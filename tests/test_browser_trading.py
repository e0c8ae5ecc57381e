"""Stopping and resuming a bot from its card on the command center, in a real browser
(tests/browser.py), as each role sees it: an Operator stops entries with a note (and can go no
further), a Team lead also resumes, a Viewer sees the stop and no button."""

import pytest
from playwright.sync_api import expect

from tests.browser import ROLES, screenshot
from tradeops.models import Bot, TradingMode


def buttons(card):
    return card.locator(".trading-form button")


@pytest.mark.parametrize("role", ROLES)
def test_the_cards_stop_and_resume(browse, demo, role):
    slug = demo.bot.slug
    page = browse(role, "/admin/")
    card = page.locator(f"#bot-{slug}")
    panel = card.locator(".cc-trading")
    expect(panel.locator(".badge")).to_have_text("Trade")

    if role == "viewer":
        expect(card.locator("form")).to_have_count(0)
        screenshot(page, "trading-card-viewer", role, as_role="viewer")
        return

    names = ["Stop entries", "Exit all"] if role == "lead" else ["Stop entries"]
    expect(buttons(card)).to_have_text(names)
    panel.get_by_role("textbox").fill("exchange outage: order book frozen")
    panel.get_by_role("button", name="Stop entries").click()

    card = page.locator(f"#bot-{slug}")
    expect(page.locator(".messagelist")).to_contain_text(f"Trading mode of {slug}: stop entries.")
    expect(card.locator(".cc-trading .badge")).to_have_text("Stop entries")
    expect(card.locator(".trading-why")).to_contain_text("exchange outage: order book frozen")
    assert Bot.objects.get(slug=slug).trading_mode == TradingMode.STOP_ENTRIES
    if role == "operator":
        # Stopped: going further or back is a Team lead's.
        expect(card.locator(".cc-trading form")).to_have_count(0)
        screenshot(page, "trading-card-stopped-operator", role, as_role="operator")
        return

    expect(buttons(card)).to_have_text(["Exit all", "Resume trading"])
    screenshot(page, "trading-card-stopped", role)
    card.locator(".cc-trading").get_by_role("textbox").fill("exchange back, books normal")
    card.get_by_role("button", name="Resume trading").click()

    card = page.locator(f"#bot-{slug}")
    expect(card.locator(".cc-trading .badge")).to_have_text("Trade")
    expect(card.locator(".trading-why")).to_have_count(0)
    assert Bot.objects.get(slug=slug).trading_mode == TradingMode.TRADE
