"""The experiment's page is a decision page (issue 23, section 4): it leads with the state in
words, the verdict, the next move and who makes it, the lever's change and the triggers as
text; then a cumulative net P&L chart and the KPI table with a difference column; the fields and
the audit follow, folded. All read from what is stored, in the page's pinned queries."""

import datetime
import json
import re

from django.test import Client
from django.urls import reverse

from experiments.scorecard import refresh_scorecard
from kpis.registry import format_difference
from tests.factories import log_in_as
from tests.test_scorecard_job import PAGE_QUERIES, started_five_days_ago
from tradeops.roles import TEAM_LEAD


def page(experiment, django_assert_max_num_queries):
    lead = Client()
    log_in_as(lead, "lara", TEAM_LEAD)
    with django_assert_max_num_queries(PAGE_QUERIES):
        response = lead.get(reverse("admin:experiments_experiment_change", args=[experiment.pk]))
    return response.content.decode()


def text(html):
    return re.sub(r"<[^>]+>|\s+", " ", html)


def computed(experiment):
    """The scorecard as the refresh job stores it, a few hours after the last trade."""
    now = experiment.started_at + datetime.timedelta(hours=12)
    refresh_scorecard(experiment, now)
    experiment.refresh_from_db()
    return experiment


def test_the_state_reads_in_words_in_the_title_and_the_heading(
    baseline, people, django_assert_max_num_queries
):
    html = page(started_five_days_ago(baseline, people), django_assert_max_num_queries)

    title = re.search(r"<title>(.*?)</title>", html).group(1)
    assert "(Running)" in title and "(running)" not in title
    assert "<h2>Running</h2>" in html


def test_the_decision_leads_and_the_fields_follow_folded(
    baseline, people, django_assert_max_num_queries
):
    html = page(started_five_days_ago(baseline, people), django_assert_max_num_queries)

    lead = text(html[html.index("experiment-decision") : html.index('class="form-row')])
    assert "Next: send it to review: an Operator or a Team lead." in lead
    assert "side_balance_pressure: 0 → 0.3" in lead
    assert html.index("experiment-decision") < html.index("field-lever")
    # The triggers read as sentences, not JSON; the KPI lists as labels.
    assert '"daily_loss_pct"' not in html and "daily equity change worse than" in lead
    assert re.search(r"Primary KPIs: [a-z]", lead) and "Primary KPIs: [" not in lead
    assert html.count("collapse") >= 2


def test_the_chart_draws_cumulative_pnl_from_one_query(
    baseline, people, django_assert_max_num_queries
):
    experiment = computed(started_five_days_ago(baseline, people))

    html = page(experiment, django_assert_max_num_queries)

    data = json.loads(
        re.search(r'<script[^>]*type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    candidate, control = data["series"]
    assert (
        candidate["name"] == f"candidate {experiment.candidate_release.tag}"
        and candidate["values"][0] == 30.0
    )
    # Before/after: the baseline's 30 days before the start, ten wins of 1 on its last day.
    assert control["values"][29] == 10.0 and control["values"][0] == 0.0
    assert data["y_title"] == "cumulative net P&L (USDT)"
    assert "Figures as a table" in html and "kpis/charts.js" in html


def test_the_kpi_table_has_a_difference_column_and_the_currency(
    baseline, people, django_assert_max_num_queries
):
    experiment = computed(started_five_days_ago(baseline, people))
    baseline.bot.quote_currency = "EUR"
    baseline.bot.save(update_fields=["quote_currency"])

    lead = text(page(experiment, django_assert_max_num_queries))

    assert "difference (test − baseline)" in lead
    assert re.search(r"net P&amp;L \(EUR\)\s+10\.00\s+30\.00\s+\+20\.00", lead)


def test_differences_subtract_only_figures_that_do():
    assert format_difference("net_pnl", "10.00", "30.00") == "+20.00"
    assert format_difference("win_rate", 0.5, 0.45) == "-5.00 pp"
    assert format_difference("profit_factor", 1.2, "Infinity") == ""
    assert format_difference("side_mix", {"long": 1}, {"long": 0}) == ""
    assert format_difference("net_pnl", None, "1") == ""
