"""Page defects a browser pass of issue 23 found (sections 2, 4, 5): every amount carries the
bot's quote currency, no raw JSON or code reaches a person, the experiment's page reads in full
words, each headroom bar means one thing and shows it, the statistician's method follows the
verdict, an approved release reads as read-only, and the daily review dates its days."""

import datetime
import re
from decimal import Decimal
from html import unescape
from pathlib import Path

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cadence import views
from experiments.admin.helpers import decision_context, scorecard_html, triggers_html
from experiments.admin.history import _details
from experiments.headroom import trigger_headroom
from experiments.verdicts.shadow import _inconclusive_wording
from kpis.services import capture_baseline
from tests.factories import candidate, draft, log_in_as, run_through, trade
from tradeops.models import ConfigRelease, EquitySnapshot
from tradeops.roles import TEAM_LEAD, VIEWER

CHARTS_JS = Path(__file__).resolve().parent.parent / "kpis" / "static" / "kpis" / "charts.js"


def text(html):
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def scorecard(**comparison):
    return {
        "verdict": "inconclusive",
        "baseline": {"release": "v1.4.0", "bot": "demo-shadow", "concurrent": True},
        "test": {"release": "v1.5.0-a", "days": 3, "to": "2026-12-07"},
        "trades": {"baseline": 10, "test": 11},
        "comparison": {
            "finding": "not measurable yet",
            "wording": "Not measurable yet.",
            "confidence": 0.95,
            "expectancy": 4.2,
            "detectable": {"per_trade_now": 4.39, "per_day_now": 173.99, "per_trade_planned": 4.14},
            "method": "asymptotic confidence sequence (Waudby-Smith et al. 2024, eq. 9; gbstats "
            "SequentialTwoSidedTTest)",
            **comparison,
        },
        "kpis": [
            {"kpi": "net_pnl_per_day", "primary": True, "baseline": "163.85", "test": "183.44"},
            {"kpi": "no_signal_pct", "primary": False, "baseline": None, "test": 0.8642},
            {
                "kpi": "top_rejection_reasons",
                "primary": False,
                "baseline": [],
                "test": [{"reason": "spread_too_wide", "count": 398, "share": 0.349}],
            },
            {
                "kpi": "cost_drift",
                "primary": False,
                "baseline": {"fees": {"sum": "39.88", "mae": "0.21"}},
                "test": {"fees": {"sum": "38.51", "mae": "0.21"}},
            },
        ],
    }


# -- 1. money carries the bot's quote currency ----------------------------------------------


def test_the_scorecard_says_the_currency_of_every_amount():
    html = scorecard_html(scorecard(), currency="USDC")
    page = text(html)
    assert "The bot's expectancy: 4.20 USDC a trade." in page
    assert "±4.39 USDC a trade, ±173.99 USDC a day" in page
    assert "net P&L/day (USDC)" in page
    # The cost drift names its figures: no bare "fees 39.88 / 0.21".
    assert "fees: 39.88 USDC in sum, 0.21 USDC mean absolute" in page
    assert "fees 39.88 / 0.21" not in page


def test_the_verdicts_wording_gives_the_expectancy_its_currency():
    detectable = {"per_trade_now": 4.39, "per_day_now": 173.99, "per_trade_planned": 4.14}
    _, wording = _inconclusive_wording(detectable, 4.2, -1, 1, 14, "USDC")
    assert "the bot's expectancy is 4.20 USDC a trade" in wording
    assert "(±173.99 USDC a day)" in wording and "±4.14 USDC a trade" in wording


def test_the_triggers_baseline_loss_carries_the_currency():
    triggers = {"avg_loss_deterioration": 0.4, "baseline_avg_loss": "-26.24"}
    assert "(baseline -26.24 USDC)" in triggers_html(triggers, "USDC")


def test_the_baseline_report_labels_each_amount_with_the_bots_currency(client, baseline, people):
    bot = baseline.bot
    bot.quote_currency = "USDC"
    bot.save()
    as_of = timezone.now().date()
    trade(bot, "a", timezone.now() - datetime.timedelta(days=2), 10, release=baseline)
    report = capture_baseline(baseline, captured_by=None, as_of=as_of)
    log_in_as(client, "vera", VIEWER)
    page = text(
        client.get(reverse("admin:kpis_baselinereport_change", args=[report.pk])).content.decode()
    )
    for label in ("net P&L/day", "max drawdown", "net P&L", "avg loss/trade"):
        assert f"{label} (USDC)" in page, label


# -- 2. no raw JSON or code to people --------------------------------------------------------


def test_the_kpi_table_says_codes_in_words_and_keeps_the_code_findable():
    html = scorecard_html(scorecard(), currency="USDT")
    assert '<span title="spread_too_wide">spread too wide</span> 398 (34.90%)' in html
    assert '<span title="% no_signal">% no signal</span>' in html
    assert "spread_too_wide 398" not in text(html)


def test_an_audit_rows_details_read_as_words_not_json():
    created = {"based_on": "v1.4.0", "changes": {"side_balance_pressure": "0.3"}}
    assert _details(created) == "based on: v1.4.0; side_balance_pressure: 0.3"
    assert _details({"notes": ["", "tighter"]}) == "notes: (empty) → tighter"


def test_the_compare_page_shows_values_alike_and_tags_as_written(baseline, people):
    new = candidate(baseline, people, tag="v1.5.0-a", side_balance_pressure="0.3")
    lead = Client()
    log_in_as(lead, "lara", TEAM_LEAD)
    html = lead.get(
        reverse("admin:tradeops_configrelease_compare", args=[baseline.pk, new.pk])
    ).content.decode()
    assert "&quot;" not in html[html.index('class="release-diff"') :]
    assert "<td>0.3</td>" in html
    assert ".release-diff thead th { text-transform: none; }" in html
    assert ">v1.5.0-a</a> (v" in html


# -- 3. the experiment page in full words ----------------------------------------------------


def test_a_submitted_experiment_reads_in_paragraphs_and_full_words(baseline, people):
    experiment = run_through(draft(baseline, people), people, until="submit")
    context = decision_context(experiment)
    assert context["verdict"] == "<p>Computed after the start.</p>"
    assert context["triggers"] == "<p>Set at approval.</p>"
    moves = [what for what, _ in context["moves"]]
    assert "withdraw it instead (it will not run)" in moves
    assert not any(what.startswith("or ") for what in moves)


# -- 4. the headroom bar means one thing ------------------------------------------------------


def test_the_daily_loss_bar_is_the_worst_days_fall_as_a_share_of_the_limit(baseline, people):
    experiment = run_through(draft(baseline, people), people)
    bot, start = experiment.bot, experiment.started_at
    midnight = datetime.datetime.combine(start.date(), datetime.time(), datetime.UTC)
    for day, equity in enumerate(["10000", "10000", "9990"]):
        EquitySnapshot.objects.create(
            bot=bot, ts=midnight + datetime.timedelta(days=day + 1), equity=Decimal(equity)
        )
    now = midnight + datetime.timedelta(days=3)
    experiment.triggers = {**experiment.triggers, "daily_loss_pct": -3.0}

    daily = trigger_headroom(experiment, now)[0]

    assert daily["used"] == round(0.1 / 3.0, 4)  # -0.1% of a -3.0% limit: 3% used
    assert "worst daily equity change -0.1% against a limit of -3.0% a day" in daily["text"]
    assert "0 of 2 now" in daily["text"]


# -- 5. the method follows the verdict, small, plain words first ------------------------------


def test_the_method_is_a_small_note_after_the_verdict():
    html = scorecard_html(scorecard(), currency="USDT", part="verdict")
    method = html.index("asymptotic confidence sequence")
    assert html.index("Verdict: inconclusive") < html.index("Method: an interval") < method
    assert "<small>Method:" in html


# -- 6. the release page in words; an approved release is read-only --------------------------


def test_the_release_help_text_names_no_function():
    help_text = ConfigRelease._meta.get_field("last_edited_by").help_text
    assert "experiments." not in help_text and "edit_release" not in help_text


# -- 7. the daily review dates its days; charts' dashed swatches ------------------------------


def test_the_rejections_per_day_are_dated_and_today_is_partial():
    days = [datetime.date(2026, 12, 5), datetime.date(2026, 12, 6), datetime.date(2026, 12, 7)]
    trend = {"days": days, "rejections": [189, 196, 0]}
    assert views.rejection_days(trend, datetime.date(2026, 12, 7)) == [
        ("12-05", 189, False),
        ("12-06", 196, False),
        ("12-07", 0, True),
    ]


def test_a_line_charts_legend_draws_each_series_as_a_stretch_of_its_line():
    script = CHARTS_JS.read_text()
    assert 'usePointStyle: true, pointStyle: "line"' in script


def test_an_approved_releases_params_read_as_a_table_not_json(baseline, people):
    new = candidate(baseline, people, tag="v1.5.0-a", side_balance_pressure="0.3")
    lead = Client()
    log_in_as(lead, "lara", TEAM_LEAD)
    html = lead.get(reverse("admin:tradeops_configrelease_change", args=[new.pk])).content.decode()
    assert "<tr><th>side_balance_pressure</th><td>0.3</td></tr>" in html
    assert "&quot;side_balance_pressure&quot;" not in html
