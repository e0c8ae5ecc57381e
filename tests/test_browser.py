"""The pages in a real browser (tests/browser.py), on the demo, as the Team lead, an Operator and
a Viewer: each role sees what it may do and nothing more, and no page logs a console error or a
CSP violation. `make screenshots` saves the lead's view of each page to docs/screenshots/."""

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from experiments.models import Experiment
from tests.browser import ROLES, screenshot


def buttons(page):
    """What the page offers to press: the buttons of its content (the header's log-out and
    theme toggle are the site's, not the page's)."""
    return (
        page.locator("#content")
        .get_by_role("button")
        .evaluate_all("elements => elements.map(e => (e.value || e.innerText).trim())")
    )


@pytest.mark.parametrize("role", ROLES)
def test_command_center(browse, role):
    page = browse(role, "/admin/")

    expect(page.get_by_role("heading", name="Command center")).to_be_visible()
    card = page.locator("#bot-demo-perp")
    expect(card.get_by_role("link", name="v1.5.0-a")).to_be_visible()
    # Under "All models": only a Team lead adds bots; an Operator drafts experiments; a Viewer
    # adds and changes nothing.
    expect(page.locator("tr.model-bot a.addlink")).to_have_count(int(role == "lead"))
    expect(page.locator("tr.model-experiment a.addlink")).to_have_count(int(role != "viewer"))
    if role == "viewer":
        expect(page.locator("#content-main a.addlink")).to_have_count(0)
        expect(page.locator("#content-main a.changelink")).to_have_count(0)
    # The card's trading buttons by role (issue 24): a Team lead stops the fleet or a bot's
    # entries or exits all, an Operator stops entries, a Viewer nothing.
    offered = {
        "lead": ["Stop entries on every live bot", "stop_entries", "exit_all"],
        "operator": ["stop_entries"],
        "viewer": [],
    }
    assert buttons(page) == offered[role]
    screenshot(page, "command-center", role)


@pytest.mark.parametrize("role", ROLES)
def test_bot_page(browse, demo, role):
    page = browse(role, f"/admin/tradeops/bot/{demo.bot.pk}/change/")

    title = "Change bot" if role == "lead" else "View bot"
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.locator(".field-current_release")).to_contain_text("v1.5.0-a")
    if role == "lead":
        assert {"Save", "Save and continue editing", "stop_entries"} <= set(buttons(page))
    else:
        assert buttons(page) == {"operator": ["stop_entries"], "viewer": []}[role]
    screenshot(page, "bot", role)


@pytest.mark.parametrize("role", ROLES)
def test_experiment_page(browse, demo, role):
    """Experiment B, submitted by the operator: a Team lead may approve it; anyone who operates
    experiments may withdraw it; a Viewer only reads."""
    page = browse(role, f"/admin/experiments/experiment/{demo.queued.pk}/change/")

    expect(page.locator(".field-status")).to_contain_text("Submitted")
    expected = {"lead": ["Approve", "Withdraw"], "operator": ["Withdraw"], "viewer": []}
    assert buttons(page) == expected[role]
    screenshot(page, "experiment", role)


def test_the_running_experiment_page_leads_with_its_verdict(browse, demo):
    """Experiment A, running: its page opens on the verdict and what it rests on, with the
    cumulative P&L chart drawn, before the experiment's fields (issue 23, section 4)."""
    page = browse("lead", f"/admin/experiments/experiment/{demo.running.pk}/change/")

    verdict = page.locator("#content-main").get_by_text("Verdict:", exact=False).first
    expect(verdict).to_be_visible()
    fields = page.get_by_text("The experiment's fields").first
    assert verdict.bounding_box()["y"] < fields.bounding_box()["y"]
    page.wait_for_function("document.querySelectorAll('[data-chart-drawn]').length > 0")
    screenshot(page, "experiment-running")


def test_a_team_lead_approves_an_experiment_through_its_note_page(browse, demo):
    page = browse("lead", f"/admin/experiments/experiment/{demo.queued.pk}/change/")

    page.get_by_role("button", name="Approve").click()
    page.get_by_label("Note").fill("Looked at B's criteria: go once A is decided.")
    page.get_by_role("button", name="Approve (Team lead, not the submitter)").click()

    expect(page.locator(".messagelist")).to_be_visible()
    demo.queued.refresh_from_db()
    assert demo.queued.status == Experiment.Status.APPROVED
    assert demo.queued.approved_by.username == "lead"


def test_a_csp_violation_or_a_console_error_fails_the_test(browse):
    page = browse("viewer", "/admin/")

    refused = page.expect_console_message(lambda message: "CSP violation" in message.text)
    with refused, pytest.raises(PlaywrightError, match="Content Security Policy"):
        page.add_script_tag(content="document.title = 'injected'")
    with page.expect_console_message():
        page.evaluate("console.error('something broke')")

    reported = "\n".join(browse.problems)
    assert "CSP violation: script-src-elem blocked inline" in reported
    assert "viewer at " in reported and "something broke" in reported
    browse.problems.clear()  # reported, so this test passes; any other page's would fail it
