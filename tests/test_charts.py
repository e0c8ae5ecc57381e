"""Charts (kpis.charts): the data on the page, the table beside it, the static files served
from our own origin, and the baseline report's coverage warnings."""

import datetime
import json
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from kpis.charts import Series, bar_chart, line_chart
from kpis.services import capture_baseline
from tests.factories import AS_OF, at, decisions, log_in_as, trade
from tradeops.models import ConfigRelease, EquitySnapshot
from tradeops.roles import VIEWER

DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]
CHART_FILES = ["kpis/vendor/chartjs/chart.umd.min.js", "kpis/charts.js", "kpis/charts.css"]


def chart_data(html):
    """The data of every chart on the page, in page order (json_script blocks)."""
    blocks = re.findall(r'<script type="application/json">(.*?)</script>', html, re.S)
    return [json.loads(block) for block in blocks]


def test_a_line_chart_carries_its_series_axes_and_a_table():
    chart = line_chart(
        "Top rejection reasons: daily share",
        DAYS,
        [
            ("spread_too_wide", [0.25, None, 0.5]),
            Series("spread_too_wide 30d", [0.3] * 3, dashed=True, same_color_as="spread_too_wide"),
            ("cooldown_active", [0.1, 0.2, 0.3]),
        ],
        y_format="percent",
        x_title="day (UTC)",
        y_title="share of rejections",
    )

    data = chart["data"]
    assert data["kind"] == "line" and data["y_format"] == "percent"
    assert data["x_labels"] == DAYS
    assert (data["x_title"], data["y_title"]) == ("day (UTC)", "share of rejections")
    wide, baseline, cooldown = data["series"]
    assert wide["values"] == [0.25, None, 0.5]
    assert baseline["dashed"] and baseline["color"] == wide["color"] != cooldown["color"]
    assert chart["table"]["head"] == ["day (UTC)", *(s["name"] for s in data["series"])]
    assert chart["table"]["rows"][1] == ["2026-11-02", "-", "30.00%", "20.00%"]
    assert chart["has_data"]


def test_money_is_charted_as_numbers_and_tabled_exactly():
    chart = bar_chart(
        "Daily net P&L",
        DAYS,
        [Series("net P&L", ["1234.56500000", Decimal("-0.004"), 0], color_by_sign=True)],
        y_format="money",
    )
    series = chart["data"]["series"][0]
    assert series["values"] == [1234.565, -0.004, 0]
    assert series["color_by_sign"] and chart["data"]["kind"] == "bar"
    assert [row[1] for row in chart["table"]["rows"]] == ["1,234.56", "-0.00", "0.00"]


def test_a_chart_without_values_says_so():
    chart = line_chart("Equity", DAYS, [("equity", [None] * 3)], empty_text="No equity curve.")
    assert not chart["has_data"] and chart["empty_text"] == "No equity curve."


@pytest.mark.parametrize(
    ("series", "options", "message"),
    [
        ([("a", [1, 2])], {}, "has 2 values for 3"),
        ([("a", [1, 2, 3])], {"y_format": "euros"}, "y_format 'euros'"),
        ([Series("a", [1, 2, 3], shade_to="b")], {}, "names 'b', which is not a series"),
        (
            [
                ("a", [1, 2, 3]),
                Series("b", [1, 2, 3], same_color_as="a"),
                Series("c", [1, 2, 3], same_color_as="b"),
            ],
            {},
            "'b' has no colour of its own",
        ),
    ],
)
def test_a_chart_refuses_what_it_cannot_draw(series, options, message):
    with pytest.raises(ValueError, match=message):
        line_chart("t", DAYS, series, **options)


@pytest.fixture
def release(bot):
    return ConfigRelease.objects.create(bot=bot, version=1, tag="v1.4.0", approved_at=at(1))


@pytest.fixture
def viewer(db, client):
    log_in_as(client, "vera", VIEWER)
    return client


def report_page(client, report):
    return client.get(reverse("admin:kpis_baselinereport_change", args=[report.pk]))


def test_the_baseline_report_puts_each_charts_data_and_table_on_the_page(viewer, release):
    bot = release.bot
    trade(bot, "a", at(8, 10), 10, release=release, side="long")
    trade(bot, "b", at(9, 10), "-4.5", release=release)
    trade(bot, "c", at(9, 11), "2.25", release=release)
    decisions(bot, 9, no_signal=5, rejected__spread_too_wide=3)
    report = capture_baseline(release, captured_by=None, as_of=AS_OF)

    html = report_page(viewer, report).content.decode()

    # No equity snapshots and no start equity: that chart says so and has no data to draw.
    assert "No equity curve: no equity snapshots, no start equity." in html
    pnl, sides, rejections = chart_data(html)
    days = [(AS_OF - datetime.timedelta(days=n)).isoformat() for n in range(30, 0, -1)]
    assert pnl["title"] == "Daily net P&L" and pnl["kind"] == "bar"
    assert pnl["x_labels"] == days and pnl["y_format"] == "money"
    assert pnl["series"][0]["values"] == [0.0] * 28 + [10.0, -2.25]
    assert [s["name"] for s in sides["series"]] == ["long", "short"]
    assert sides["series"][0]["values"][-2:] == [1.0, 0.0] and sides["stacked"]
    assert rejections["series"] == [
        {
            "name": "spread_too_wide",
            "values": [0] * 29 + [3],
            "color": rejections["series"][0]["color"],
            "dashed": False,
            "shade_to": None,
            "color_by_sign": False,
        }
    ]
    assert html.count("<canvas") == 3
    # The table beside each chart, as people read it.
    assert '<th scope="row">2026-11-09</th><td>-2.25</td>' in html
    assert '<th scope="row">2026-11-08</th><td>100.00%</td><td>0.00%</td>' in html


def test_the_chart_pages_load_only_scripts_of_our_own_origin(viewer, release):
    trade(release.bot, "a", at(8), 10, release=release)
    report = capture_baseline(release, captured_by=None, as_of=AS_OF)
    html = report_page(viewer, report).content.decode()

    scripts = re.findall(r"<script([^>]*)>", html)
    sources = [re.search(r'src="([^"]+)"', attrs).group(1) for attrs in scripts if "src=" in attrs]
    assert {f"/static/{name}" for name in CHART_FILES[:2]} <= set(sources)
    assert all(src.startswith("/static/") for src in sources)  # no CDN: works offline
    # Every other script element is data (json_script), which the policy lets through.
    inline = [attrs for attrs in scripts if "src=" not in attrs]
    assert inline and all(attrs == ' type="application/json"' for attrs in inline)


def test_production_serves_the_chart_files_after_collectstatic(settings, tmp_path, release):
    """As under gunicorn: DEBUG off, collectstatic's hashed files, served by WhiteNoise."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    trade(release.bot, "a", at(8), 10, release=release)
    report = capture_baseline(release, captured_by=None, as_of=AS_OF)
    client = Client()  # its handler starts WhiteNoise on the collected files
    log_in_as(client, "vera", VIEWER)
    html = report_page(client, report).content.decode()

    for name, content_type in zip(
        CHART_FILES, ["text/javascript", "text/javascript", "text/css"], strict=True
    ):
        stem, extension = name.rsplit(".", 1)
        url = re.search(rf'"(/static/{re.escape(stem)}\.[0-9a-f]{{12}}\.{extension})"', html)
        assert url, f"{name} is not linked with its hashed name"
        response = client.get(url.group(1))
        assert response.status_code == 200
        assert response["Content-Type"].startswith(content_type)
        assert "immutable" in response["Cache-Control"]
        body = b"".join(response.streaming_content)
        assert body == (tmp_path / url.group(1).removeprefix("/static/")).read_bytes()
    assert b"Chart.js v4" in (tmp_path / CHART_FILES[0]).read_bytes()


def test_the_demo_serves_the_chart_files_without_collectstatic(settings, client):
    """`make demo`: DEBUG on, the files served from the apps' static folders."""
    settings.DEBUG = True
    for name in CHART_FILES:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        body = b"".join(response.streaming_content)
        assert len(body) > 500


def test_the_baseline_report_warns_for_each_window_short_of_closes(viewer, release):
    bot = release.bot
    for day in range(3, 10):  # every day of the 7d window [Nov 3, Nov 10), none before
        trade(bot, f"t{day}", at(day, 12), 5, release=release)
    full_week = capture_baseline(release, captured_by=None, as_of=AS_OF)
    short_week = capture_baseline(release, captured_by=None, as_of=AS_OF + datetime.timedelta(5))

    week, month = (
        "The 7d window has closes on {} of its 7 days",
        "The 30d window has closes on {} of its 30 days",
    )
    for report, warned, quiet in [
        (full_week, [month.format(7)], week.format(7)),
        (short_week, [week.format(2), month.format(7)], None),
    ]:
        html = report_page(viewer, report).content.decode()
        url = reverse("admin:kpis_baselinereport_export", args=[report.pk, "md"])
        markdown = viewer.get(url).content.decode()
        for warning in warned:
            assert f'<p class="errornote">{warning}' in html
            assert f"> **Warning:** {warning}" in markdown
        if quiet:
            assert quiet not in html and quiet not in markdown
        assert html.count('class="errornote"') == len(warned)


def test_the_equity_chart_shades_the_fall_from_its_running_peak(viewer, release):
    bot = release.bot
    start = datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC)  # before the 30d window
    EquitySnapshot.objects.create(bot=bot, ts=start, equity=Decimal(1000))
    trade(bot, "a", at(7, 10), 10, release=release)
    trade(bot, "b", at(8, 10), "-4.5", release=release)
    trade(bot, "c", at(9, 10), "2.25", release=release)
    report = capture_baseline(release, captured_by=None, as_of=AS_OF)

    html = report_page(viewer, report).content.decode()

    equity, peak = chart_data(html)[0]["series"]
    assert equity["values"][-3:] == [1010.0, 1005.5, 1007.75]
    assert peak["values"][-3:] == [1010.0, 1010.0, 1010.0] and peak["dashed"]
    assert peak["shade_to"] == 0  # the area down to the equity line: the drawdown
    assert '<th scope="row">2026-11-08</th><td>1,005.50</td><td>1,010.00</td>' in html
