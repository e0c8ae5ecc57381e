"""Forms where the team reads them (issue 23, section 5), in a real browser (tests/browser.py),
as the demo's Team lead: the weekly review's "assignment due" is the admin's date field
(YYYY-MM-DD and its calendar), not the browser's locale's date input; the Bot page's trading
and breaker forms come before the bot's fields and their Save row."""

import datetime

from django.utils import timezone
from playwright.sync_api import expect

from cadence.weekly import iso_week, week_of


def test_the_weekly_reviews_due_day_is_the_admins_date_field(browse, demo):
    today = timezone.now().astimezone(datetime.UTC).date()
    page = browse("lead", f"/admin/review/weekly/{demo.bot.slug}/{iso_week(week_of(today))}/")
    due = page.get_by_label("Assignment due")

    expect(due).to_have_attribute("type", "text")
    expect(due).to_have_class("vDateField")
    page.locator(".datetimeshortcuts").get_by_role("link", name="Today").click()

    expect(due).to_have_value(today.isoformat())


def test_the_bot_pages_trading_forms_come_before_its_fields_and_save_row(browse, demo):
    page = browse("lead", f"/admin/tradeops/bot/{demo.bot.pk}/change/")

    trading = page.locator("#trading")
    expect(trading.get_by_role("button", name="Set the threshold")).to_be_visible()
    top = trading.bounding_box()["y"]
    assert top < page.locator("#bot_form fieldset").first.bounding_box()["y"]
    assert top < page.locator("#bot_form .submit-row").first.bounding_box()["y"]
