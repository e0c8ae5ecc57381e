"""The operating cadence in a real browser (tests/browser.py), on the demo, as the Team lead, an
Operator and a Viewer: from the command center, a click to today's daily review, back two days
(yesterday's is the demo's missed one), the week's review and the immediate action checklist;
what each shows and who may sign off what. A role walks through them all on one page: a browser
test costs seconds, mostly in setting up and emptying the database, so one walk per role beats a
test per page."""

import datetime
import re
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cadence.models import DailyReview, WeeklyReview
from cadence.weekly import iso_week, week_of
from demo.reviews import DAILY_NOTES
from tests.browser import ROLES, screenshot, visit

DAILY_SECTIONS = [
    "1. Health state",
    "2. New closes and P&L",
    "3. Unknown exit reasons",
    "4. Integrity alerts since the last review",
    "5. Top rejection reasons trend",
]
WEEKLY_SECTIONS = [
    "1. Experiment scorecard: the verdict and what it rests on",
    "2. Keep / rollback / iterate",
    "3. Next single-lever assignment",
]
# A canvas Chart.js drew on: the instance Chart.js keeps for it, and the pixels it was given.
CHART_DRAWN = """canvas => {
    const chart = Chart.getChart(canvas);
    return Boolean(chart) && chart.data.datasets.length > 0 && canvas.width > 0
        && canvas.height > 0;
}"""


def url_path(path):
    """A page's URL ending in `path` (its query or anchor aside)."""
    return re.compile(re.escape(path) + r"([?#].*)?$")


def open_from_the_command_center(page, link):
    """Back to the command center through the breadcrumbs, then a click on `link` there."""
    page.locator(".breadcrumbs").get_by_role("link", name="Command center").click()
    expect(page.get_by_role("heading", name="Command center")).to_be_visible()
    link(page).click()


def sign_off_form(page):
    return page.locator("#sign-off form")


@pytest.mark.parametrize("role", ROLES)
def test_the_operating_cadence(browse, demo, role, monkeypatch):
    today = demo.day
    # The pages' clock runs, but not past the demo's day: a walk takes a minute, and one begun
    # just before midnight UTC was led to tomorrow's review, then found the demo's days shifted.
    last = datetime.datetime.combine(today, datetime.time.max, tzinfo=datetime.UTC)
    clock = SimpleNamespace(now=lambda: min(timezone.now(), last))
    monkeypatch.setattr("cadence.views.timezone", clock)
    week = iso_week(week_of(today))
    slug = demo.bot.slug
    page = browse(role, "/admin/")

    card = page.locator(f"#bot-{slug}")
    card.get_by_role("link", name="today's").click()
    expect(page).to_have_url(url_path(f"/admin/review/daily/{slug}/{today}/"))
    check_todays_review(page, role)
    screenshot(page, "daily-review", role)
    if role == "operator":
        sign_off_the_day(page, demo, today)

    page.get_by_role("link", name=f"← {today - datetime.timedelta(days=1)}").click()
    page.get_by_role("link", name=f"← {today - datetime.timedelta(days=2)}").click()
    check_a_signed_off_day(page)

    open_from_the_command_center(
        page, lambda page: page.locator(f"#bot-{slug}").get_by_role("link", name="weekly review")
    )
    expect(page).to_have_url(url_path(f"/admin/review/weekly/{slug}/{week}/"))
    check_this_weeks_review(page, demo, role, today)
    screenshot(page, "weekly-review", role)
    if role == "lead":
        sign_off_the_week(page, demo, today)

    open_from_the_command_center(
        page, lambda page: page.get_by_role("link", name="Immediate action checklist")
    )
    expect(page).to_have_url(url_path("/admin/checklist/"))
    links = check_the_checklist(page, demo)
    screenshot(page, "checklist", role)
    for link in links:
        visit(page, link)
        assert urlsplit(page.url).path == urlsplit(link).path, f"{link} led to {page.url}"


def check_todays_review(page, role):
    headings = page.locator("#content-main section h2")
    expect(headings).to_have_text([*DAILY_SECTIONS, "Sign-off"])
    for section in page.locator("#content-main section.review-section").all():
        expect(section).to_be_visible()

    trend = page.locator("#rejections figure[data-chart]")
    expect(trend).to_have_attribute("data-chart-drawn", "true")
    canvas = trend.locator("canvas")
    assert canvas.evaluate(CHART_DRAWN), "Chart.js did not draw the rejection-reasons trend"
    box = canvas.bounding_box()
    assert box["width"] > 300 and box["height"] > 100, box
    # The same figures as a table, for screen readers and pages without scripts: a day a row.
    trend.get_by_text("Figures as a table").click()
    table = trend.locator("details table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(7)
    trend.get_by_text("Figures as a table").click()  # folded again, as the page opens

    if role == "viewer":
        expect(sign_off_form(page)).to_have_count(0)
        expect(page.locator("#sign-off")).to_contain_text("An Operator signs off the daily review")
    else:
        expect(sign_off_form(page).get_by_label("Note")).to_be_visible()
        expect(page.get_by_role("button", name="Sign off the daily review")).to_be_visible()


def sign_off_the_day(page, demo, today):
    note = "Checked the five items: nothing to escalate."
    page.get_by_label("Note").fill(note)
    page.get_by_role("button", name="Sign off the daily review").click()

    expect(page.locator(".messagelist")).to_contain_text(
        f"Signed off the daily review of {demo.bot.slug} for {today}."
    )
    expect(page.locator("#sign-off")).to_contain_text(f"signed off by operator at {today}")
    expect(page.locator("#sign-off")).to_contain_text(note)
    expect(sign_off_form(page)).to_have_count(0)
    review = DailyReview.objects.get(bot=demo.bot, day=today)
    assert (review.signed_off_by.username, review.note) == ("operator", note)


def check_a_signed_off_day(page):
    """The day before yesterday, signed off by the demo's operator (yesterday's review is the
    demo's missed one)."""
    sign_off = page.locator("#sign-off")
    expect(sign_off).to_contain_text("signed off by operator")
    expect(sign_off).to_contain_text(DAILY_NOTES[-1])
    expect(sign_off_form(page)).to_have_count(0)


def check_this_weeks_review(page, demo, role, today):
    expect(page.locator("#content-main section h2")).to_have_text([*WEEKLY_SECTIONS, "Sign-off"])
    scorecard = page.locator("#scorecard")
    expect(scorecard.get_by_role("link", name=demo.running.name)).to_be_visible()
    expect(scorecard.locator(".scorecard table")).to_be_visible()
    expect(scorecard.locator(".scorecard table tbody tr").first).to_be_visible()

    assignment = page.locator("#assignment")
    last_week = week_of(today) - datetime.timedelta(days=7)
    expect(assignment).to_contain_text(
        f"Named at the last weekly review (week of {last_week}): {demo.queued.name}, "
        "assigned to operator"
    )
    queue = assignment.locator("table tbody tr")
    expect(queue).to_have_count(1)
    expect(queue.get_by_role("link", name=demo.queued.name)).to_be_visible()

    if role == "lead":
        expect(page.get_by_role("button", name="Sign off the weekly review")).to_be_visible()
    else:
        expect(sign_off_form(page)).to_have_count(0)
        expect(page.locator("#sign-off")).to_contain_text("A Team lead signs off the weekly review")


def sign_off_the_week(page, demo, today):
    due = today + datetime.timedelta(days=10)
    form = sign_off_form(page)
    form.get_by_label("Note").fill("A holds; B next, once A is decided.")
    form.get_by_label("Next experiment").select_option(label=str(demo.queued))
    form.get_by_label("Assignee").select_option(label="operator")
    form.get_by_label("Assignment due").fill(due.isoformat())
    page.get_by_role("button", name="Sign off the weekly review").click()

    expect(page.locator(".messagelist")).to_contain_text("Signed off the weekly review")
    expect(page.locator("#assignment")).to_contain_text(
        f"{demo.queued.name} (lever {demo.queued.lever}), assigned to operator, due {due}"
    )
    expect(page.locator("#sign-off")).to_contain_text("signed off by lead")
    expect(sign_off_form(page)).to_have_count(0)
    review = WeeklyReview.objects.get(bot=demo.bot, week=week_of(today))
    assert (review.next_experiment, review.assignee.username, review.assignment_due) == (
        demo.queued,
        "operator",
        due,
    )


def check_the_checklist(page, demo):
    """The demo's checklist: 5 of 6 done, Experiment A not reviewed yet (its due date shown).
    Returns the items' links."""
    section = page.locator(f"#bot-{demo.bot.slug}")
    expect(section.get_by_role("heading")).to_contain_text("5 of 6 done")
    items = section.locator("tbody tr")
    expect(items.locator(".badge")).to_have_text(["done"] * 5 + ["not done"])
    expect(items.nth(5)).to_contain_text("Review after 5-7 days")
    due = demo.running.started_at + datetime.timedelta(days=7)
    expect(items.nth(5)).to_contain_text(f"not decided yet; due by {due:%Y-%m-%d %H:%M} UTC")
    links = items.get_by_role("link")
    expect(links).to_have_count(6)
    return links.evaluate_all("links => links.map(link => link.getAttribute('href'))")
