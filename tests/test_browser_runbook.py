"""The cleanup runbook's admin page at 420 px (issue 23, sections 5 and 7), in a real browser
(tests/browser.py): its commands wrap inside the window, none runs off it."""

from tests.browser import visit


def test_at_420_px_the_runbooks_commands_stay_in_the_window(browse, demo):
    page = browse("viewer")
    page.set_viewport_size({"width": 420, "height": 900})
    visit(page, "/admin/integrity/integrityincident/runbook/cleanup/")

    widest = page.locator(".runbook pre").evaluate_all(
        "blocks => Math.max(...blocks.map(pre => pre.scrollWidth - pre.clientWidth))"
    )

    assert page.locator(".runbook pre").count() >= 2
    assert widest <= 0, widest
