"""Charts on a phone-sized window (issue 23, section 5): at 420 px each chart of the demo's
pages still shows every legend item and its axis titles whole, in a real browser
(tests/browser.py)."""

import datetime

import pytest
from django.utils import timezone

from tests.browser import visit

SMALL = {"width": 420, "height": 900}
# What Chart.js drew for each canvas. It caps a bottom legend at half the canvas and drops the
# rows beyond; it draws a vertical axis title no longer than the plot is high.
CHARTS = """canvases => canvases.map(canvas => {
    const chart = Chart.getChart(canvas), legend = chart.legend;
    const width = axis => {
        const ctx = chart.ctx;
        ctx.save();
        ctx.font = Chart.helpers.toFont(axis.options.title.font).string;
        const measured = ctx.measureText(axis.options.title.text).width;
        ctx.restore();
        return measured;
    };
    return {
        label: canvas.getAttribute("aria-label"),
        series: chart.data.datasets.length,
        legend: legend.options.display ? legend.legendHitBoxes.filter(
            box => box.top + box.height <= legend.bottom + 1).length : 0,
        x: chart.scales.x.options.title.display, y: chart.scales.y.options.title.display,
        xFits: width(chart.scales.x) <= chart.scales.x.width,
        yFits: width(chart.scales.y) <= chart.scales.y.height,
    };
})"""


def day_before(days):
    return (timezone.now() - datetime.timedelta(days=days)).date().isoformat()


@pytest.mark.parametrize(
    "path",
    [
        lambda demo: f"/admin/experiments/experiment/{demo.running.pk}/change/",
        lambda demo: f"/admin/review/daily/{demo.bot.slug}/{day_before(1)}/",
    ],
    ids=["experiment", "daily-review"],
)
def test_at_420_px_a_chart_keeps_its_legend_and_axis_titles(browse, demo, path):
    page = browse("viewer")
    page.set_viewport_size(SMALL)
    visit(page, path(demo))
    page.wait_for_function("document.querySelectorAll('[data-chart-drawn]').length > 0")

    charts = page.locator("[data-chart] canvas").evaluate_all(CHARTS)

    assert charts
    for chart in charts:
        assert chart["legend"] == chart["series"] > 1, chart
        assert chart["x"] and chart["y"] and chart["xFits"] and chart["yFits"], chart
