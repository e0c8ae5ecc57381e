"""Lists and cards on a 1,400 px window (issue 23, section 5), in a real browser
(tests/browser.py), as the demo's Team lead: the evidence lists (Trades, Fills, Quarantine,
Experiments, and the alert channels with their confirmations) show every column whole, with no
scrolling inside the list and no header cut, and the command center's bot cards take the page's
width."""

import pytest

from integrity.alerts import confirm_test_alert, send_test_alerts
from integrity.models import AlertChannel
from tests.browser import visit

WIDE = {"width": 1400, "height": 900}
LISTS = {
    "trades": "/admin/tradeops/trade/",
    "fills": "/admin/tradeops/fill/",
    "quarantine": "/admin/tradeops/quarantinedrecord/",
    "experiments": "/admin/experiments/experiment/",
    "alert-channels": "/admin/integrity/alertchannel/",
}
# The list's width against its box's, and each header's text against its cell's.
MEASURE_LIST = """() => {
    const table = document.querySelector("#result_list");
    return {
        table: table.scrollWidth, box: table.parentElement.clientWidth,
        page: document.documentElement.scrollWidth, window: window.innerWidth,
        cut: Array.from(table.querySelectorAll("thead th"))
            .filter(th => th.scrollWidth > th.clientWidth)
            .map(th => th.innerText.trim()),
    };
}"""


@pytest.mark.parametrize("path", LISTS.values(), ids=LISTS.keys())
def test_at_1400_px_a_list_shows_every_column_whole(browse, demo, path):
    page = browse("lead")
    page.set_viewport_size(WIDE)
    visit(page, path)
    assert page.locator("#result_list tbody tr").count() > 0

    seen = page.evaluate(MEASURE_LIST)

    assert seen["table"] <= seen["box"], seen
    assert seen["page"] <= seen["window"] and not seen["cut"], seen


def test_at_1400_px_the_command_centers_cards_take_the_pages_width(browse, demo):
    page = browse("lead")
    page.set_viewport_size(WIDE)
    visit(page, "/admin/")

    # The rightmost card ends where the window does (the page's padding aside), not in a
    # narrow column on the left.
    right = page.locator(".cc-card").evaluate_all(
        "cards => Math.max(...cards.map(card => card.getBoundingClientRect().right))"
    )
    window = page.evaluate("document.documentElement.clientWidth")

    assert right >= window - 60, (right, window)


@pytest.mark.parametrize("path", LISTS.values(), ids=LISTS.keys())
def test_at_420_px_a_list_takes_the_whole_window(browse, demo, path):
    """No room is kept for the navigation the admin hides on a phone-sized window."""
    page = browse("lead")
    page.set_viewport_size({"width": 420, "height": 900})
    visit(page, path)

    width = page.locator("#content").evaluate("content => content.getBoundingClientRect().width")

    assert width >= 400, width


def test_at_1400_px_the_alert_channels_show_their_confirmations_whole(browse, demo):
    """A column for each critical path's last confirmed test alert, its moment in each cell."""
    channel = AlertChannel.objects.get(name="Ops email")
    confirm_test_alert(send_test_alerts(channel)[0], by="ops")
    page = browse("lead")
    page.set_viewport_size(WIDE)
    visit(page, "/admin/integrity/alertchannel/")

    seen = page.evaluate(MEASURE_LIST)

    assert seen["table"] <= seen["box"], seen
    assert seen["page"] <= seen["window"] and not seen["cut"], seen
