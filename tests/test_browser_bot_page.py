"""The Bot page at 420 px (issue 23, section 5), in a real browser (tests/browser.py): to who
may not set up a release push and has none, the page shows no empty "Release push" block with
the Close button drawn over it; its blocks and its buttons do not overlap."""

import pytest

from tests.browser import visit

NARROW = {"width": 420, "height": 900}
# Every pair of the form's blocks (fieldsets, inline groups, the submit row) that overlap.
OVERLAPS = """() => {
    const boxes = Array.from(document.querySelectorAll(
        "#bot_form > div > fieldset, #bot_form .inline-group, #bot_form .submit-row"
    )).filter(el => el.offsetParent !== null).map(el => [el, el.getBoundingClientRect()]);
    const hits = [];
    boxes.forEach(([a, ra], i) => boxes.slice(i + 1).forEach(([b, rb]) => {
        if (a.contains(b) || b.contains(a)) return;
        const across = ra.left < rb.right && rb.left < ra.right;
        if (across && ra.top < rb.bottom - 1 && rb.top < ra.bottom - 1)
            hits.push([a.className || a.id, b.className || b.id]);
    }));
    return hits;
}"""


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_at_420_px_the_bot_page_has_no_empty_push_block_under_its_close_button(browse, demo, role):
    page = browse(role)
    page.set_viewport_size(NARROW)
    visit(page, f"/admin/tradeops/bot/{demo.bot.pk}/change/")

    assert page.get_by_text("release push (optional", exact=False).count() == 0
    assert page.evaluate(OVERLAPS) == []
