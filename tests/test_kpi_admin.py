"""The baseline report in the admin: captured by a Team lead, read by everyone, exported."""

import json

import pytest
from django.urls import reverse

from kpis.models import BaselineReport
from kpis.services import capture_baseline
from tests.factories import AS_OF, at, log_in_as, trade
from tradeops.models import ConfigRelease
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER


@pytest.fixture
def release(bot):
    release = ConfigRelease.objects.create(bot=bot, version=1, tag="v1.4.0", approved_at=at(1))
    trade(bot, "a", at(8), 10, release=release, side="long")
    trade(bot, "b", at(9), -4, release=release)
    return release


def capture(client, release):
    return client.post(
        reverse("admin:tradeops_configrelease_changelist"),
        {"action": "capture_baseline", "_selected_action": [release.pk]},
        follow=True,
    )


def test_team_lead_captures_a_baseline_from_the_release_list(client, release):
    lead = log_in_as(client, "lena", TEAM_LEAD)
    response = capture(client, release)

    assert "Baseline captured" in response.content.decode()
    report = BaselineReport.objects.get(release=release)
    assert report.captured_by == lead
    listing = client.get(reverse("admin:tradeops_configrelease_changelist")).content.decode()
    assert reverse("admin:kpis_baselinereport_change", args=[report.pk]) in listing


def test_operator_cannot_capture_a_baseline(client, release):
    log_in_as(client, "otto", OPERATOR)
    capture(client, release)
    assert not BaselineReport.objects.exists()


def test_draft_release_cannot_have_a_baseline(client, bot):
    draft = ConfigRelease.objects.create(bot=bot, version=2, tag="draft")
    log_in_as(client, "lena", TEAM_LEAD)
    response = capture(client, draft)
    assert "not approved" in response.content.decode()
    with pytest.raises(ValueError, match="not approved"):
        capture_baseline(draft, captured_by=None)


def test_viewer_reads_the_report_with_charts_and_exports(client, release):
    report = capture_baseline(release, captured_by=None, as_of=AS_OF)
    log_in_as(client, "vera", VIEWER)

    page = client.get(reverse("admin:kpis_baselinereport_change", args=[report.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    labels = [
        "trades/day",
        "net P&amp;L/day",
        "avg P&amp;L/trade",
        "win rate",
        "profit factor",
        "max drawdown",
        "% no_signal",
        "top 3 rejection reasons",
        "% unknown exit reasons",
    ]
    positions = [html.index(label) for label in labels]
    assert positions == sorted(positions)  # the plan's template order
    # P&L and side mix drawn; no equity snapshots, start equity or decisions for the others.
    assert html.count("<canvas") == 2
    assert "No equity curve" in html and "No rejections in this window." in html
    assert "Daily net P&amp;L" in html

    url = reverse("admin:kpis_baselinereport_export", args=[report.pk, "json"])
    exported = json.loads(client.get(url).content)
    assert exported["release"] == "v1.4.0"
    assert exported["7d"]["net_pnl"] == "6.00000000"
    markdown = client.get(reverse("admin:kpis_baselinereport_export", args=[report.pk, "md"]))
    assert "| trades/day |" in markdown.content.decode()
    csv_text = client.get(
        reverse("admin:kpis_baselinereport_export", args=[report.pk, "csv"])
    ).content.decode()
    assert csv_text.splitlines()[0] == '"kpi","7d","30d"'  # text quoted, numbers bare
    assert '"profit_factor",2.5,2.5' in csv_text  # 10 / 4


def test_snapshot_list_and_detail(admin_client, release):
    report = capture_baseline(release, captured_by=None, as_of=AS_OF)
    assert admin_client.get(reverse("admin:kpis_kpisnapshot_changelist")).status_code == 200
    detail = admin_client.get(
        reverse("admin:kpis_kpisnapshot_change", args=[report.snapshot_7d.pk])
    ).content.decode()
    assert "profit factor" in detail and "closed_trades" in detail
