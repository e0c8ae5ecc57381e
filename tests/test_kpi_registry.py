"""One KPI registry (kpis.registry): the JSON, the command's table, the snapshot page, the
baseline report and its exports, and the experiment scorecard list the same KPIs, with the same
labels, in the same order."""

import csv
import datetime
import io
import json
import re
from html import escape, unescape

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from experiments.admin.helpers import scorecard_html
from experiments.scorecard import build_scorecard
from kpis import reports
from kpis.registry import FIGURE_KEYS, KPIS, format_figure, is_money
from kpis.services import capture_baseline, compute_kpis
from tests.factories import AS_OF, at, draft, run_through, trade
from tradeops.models import ConfigRelease

LABELS = [kpi.label for kpi in KPIS]


def listed_labels(html):
    """The KPI labels of the table rows of a page, in page order: the label as people read it,
    without the amount's currency or "(primary)" after it."""
    cells = re.findall(r"<tr><th>(.*?)</th>", html, re.S)
    labels = []
    for cell in cells:
        text = unescape(re.sub(r"<[^>]+>", "", cell)).strip()
        text = re.sub(r"( \((primary|[A-Z]{3,5})\))+$", "", text)
        words = {label.replace("_", " "): label for label in LABELS}
        labels.append(words.get(text, text))
    return [label for label in labels if label in LABELS]


@pytest.fixture
def report(bot):
    release = ConfigRelease.objects.create(bot=bot, version=1, tag="v1.4.0", approved_at=at(1))
    trade(bot, "a", at(8), 10, release=release, side="long")
    trade(bot, "b", at(9), -4, release=release)
    return capture_baseline(release, captured_by=None, as_of=AS_OF)


def test_each_kpi_is_registered_once_and_the_engine_computes_each(bot):
    assert len(set(FIGURE_KEYS)) == len(KPIS) == len(set(LABELS))
    figures = compute_kpis(bot, 3, AS_OF).figures
    assert list(figures)[: len(FIGURE_KEYS)] == list(FIGURE_KEYS)


def test_the_command_json_and_table_follow_the_registry(bot, capsys):
    trade(bot, "a", at(8), 10)
    options = ["--bot", bot.slug, "--days", "3", "--as-of", AS_OF.isoformat()]

    call_command("compute_kpis", *options, "--format", "json")
    keys = list(json.loads(capsys.readouterr().out))
    call_command("compute_kpis", *options)
    table = capsys.readouterr().out.splitlines()[1:]

    assert keys[: len(FIGURE_KEYS)] == list(FIGURE_KEYS)
    assert [line[2:30].strip() for line in table] == LABELS
    assert table[LABELS.index("profit factor")].split()[-1] == "∞"


def test_the_baseline_report_and_its_exports_follow_the_registry(admin_client, report):
    page = admin_client.get(reverse("admin:kpis_baselinereport_change", args=[report.pk]))
    assert listed_labels(page.content.decode()) == LABELS

    rows = list(csv.reader(io.StringIO(reports.as_csv(report))))
    assert [row[0] for row in rows[1:]] == list(FIGURE_KEYS)
    markdown = [line for line in reports.as_markdown(report).splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0][2:] for line in markdown[1:]] == LABELS


def test_the_snapshot_page_follows_the_registry(admin_client, report):
    url = reverse("admin:kpis_kpisnapshot_change", args=[report.snapshot_30d.pk])
    assert listed_labels(admin_client.get(url).content.decode()) == LABELS


def test_the_experiment_scorecard_follows_the_registry(baseline, people):
    start = timezone.now() - datetime.timedelta(days=2)
    experiment = run_through(draft(baseline, people), people, now=start)
    trade(baseline.bot, "b", start - datetime.timedelta(days=1), 5, release=baseline)

    card = build_scorecard(experiment, timezone.now())
    html = scorecard_html(card)

    assert [row["kpi"] for row in card["kpis"]] == list(FIGURE_KEYS)
    # Money rows carry the bot's currency (issue 23): "net P&L/day (USDT)".
    assert listed_labels(html.replace(" (USDT)", "")) == LABELS
    money = [kpi.label for kpi in KPIS if is_money(kpi.key)]
    assert money and all(f"<th>{escape(label)} (USDT)" in html for label in money)
    assert format_figure("profit_factor", card["baseline"]["figures"]["profit_factor"]) == "∞"
    assert re.search(r"<th>profit factor[^<]*</th><td>∞</td>", html)
