"""Exports carry a bot's words inert: Markdown renders them as text, a spreadsheet does not
evaluate them, JSON embeds them without markup, a terminal does not obey them, and a download's
name stays one name (tradeops.exports, used by the baseline report and the audit export)."""

import csv
import datetime
import io
import json
from decimal import Decimal
from email.message import Message

import markdown
import pytest
from django.core.management import call_command
from django.urls import reverse

from kpis import reports
from kpis.services import capture_baseline
from tests.factories import AS_OF, at, log_in_as, trade
from tradeops.audit import export_audit, record_audit
from tradeops.exports import csv_cell, csv_text, json_text, markdown_text, plain_text
from tradeops.models import ConfigRelease, DecisionCount
from tradeops.roles import TEAM_LEAD

TAG = 'v1"; filename="x.html<b>|![x](http://e.example)'
IMAGE = "![t](http://evil.example/pixel.png)"
LINK = "[click](javascript:alert(1))"
HOSTILE = [
    f"spread|{IMAGE}",
    LINK,
    "line one\nline two\r\n| injected | row |",
    "`code` and ``more``",
    "<script>alert(1)</script>",
    "&lt;b&gt; &amp; &#60;",
    "see www.evil.example or https://evil.example/x",
    "mail me@evil.example",
    "**bold** _em_ ~~gone~~ # not a heading",
]
FORMULAS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def rendered(text):
    return markdown.markdown(text, extensions=["tables"])


def assert_inert(html, code_spans=0, warnings=0):
    """No markup but the report's own: its fingerprints in code, its bold warnings."""
    assert "<img" not in html
    assert "<a " not in html
    assert "<script" not in html
    assert html.count("<code") == code_spans
    assert html.count("<strong") == warnings
    assert "<em" not in html and "<del" not in html


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_text_is_one_line_of_literal_text(value):
    escaped = markdown_text(value)
    assert "\n" not in escaped and "\r" not in escaped
    row = f"| a | b |\n|---|---|\n| {escaped} | after |"
    html = rendered(row)
    assert_inert(html)
    assert html.count("<td>") == 2  # the cell is not split, no row is added
    assert "<td>after</td>" in html


def test_markdown_text_keeps_plain_words_readable():
    assert markdown_text("take_profit") == "take\\_profit"
    assert markdown_text("BTCUSDT") == "BTCUSDT"
    assert rendered(markdown_text("a & b < c")) == "<p>a &amp; b &lt; c</p>"


@pytest.mark.parametrize("value", FORMULAS)
def test_csv_cell_guards_text_that_a_spreadsheet_would_evaluate(value):
    assert csv_cell(value) == "'" + value


def test_csv_cell_keeps_numbers_numbers_negative_ones_included():
    assert csv_cell(Decimal("-12.50")) == Decimal("-12.50")
    assert csv_cell(-3) == -3
    assert csv_cell(-0.25) == -0.25
    assert csv_cell("plain text") == "plain text"


def test_csv_text_quotes_text_so_no_separator_starts_a_cell_inside_it():
    text = csv_text(["a", "b"], [["x;=1+1,y", Decimal("-1.5")], [None, 7]])
    assert text == '"a","b"\r\n"x;=1+1,y",-1.5\r\n"",7\r\n'
    for delimiter in ",;":
        cells = [c for row in csv.reader(io.StringIO(text), delimiter=delimiter) for c in row]
        assert not any(c.startswith(("=", "+", "@")) for c in cells)


def test_json_text_holds_no_markup_and_parses_to_the_same_values():
    value = {"tag": "</script><script>alert(1)</script>", "note": "a & b\u2028c"}
    text = json_text(value, indent=2, ensure_ascii=False)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value


def test_plain_text_shows_terminal_escapes_instead_of_obeying_them():
    assert plain_text("spread\x1b[2J\x1b]8;;http://evil.example\x07x\n") == (
        "spread\\x1b[2J\\x1b]8;;http://evil.example\\x07x\\n"
    )


# -- the baseline report, as every format exports it -----------------------------------------


@pytest.fixture
def hostile_report(bot):
    release = ConfigRelease.objects.create(
        bot=bot,
        version=1,
        tag=TAG,
        git_commit="`rm -rf`|<i>",
        approved_at=at(1),
    )
    trade(bot, "a", at(8), 10, release=release)
    trade(bot, "b", at(9), -4, release=release)
    for index, reason in enumerate(HOSTILE[:3]):
        DecisionCount.objects.create(
            bot=bot,
            day=datetime.date(2026, 11, 8),
            outcome="rejected",
            reason=reason,
            count=3 + index,
        )
    return capture_baseline(release, captured_by=None, as_of=AS_OF)


def test_the_baseline_markdown_renders_the_bots_words_as_text(hostile_report):
    text = reports.as_markdown(hostile_report)
    html = rendered(text)
    assert_inert(html, code_spans=2, warnings=2)
    assert IMAGE not in text and LINK not in text
    body = html.split("<tbody>")[1]
    assert body.count("<tr>") == 15  # one row per KPI: no newline or | broke out of a cell
    assert all(row.count("<td>") == 3 for row in body.split("<tr>")[1:])
    assert "&lt;b&gt;" in html  # the tag is shown, as text


def test_the_baseline_json_holds_no_markup_and_round_trips(hostile_report):
    text = reports.as_json(hostile_report)
    assert "<" not in text and ">" not in text
    exported = json.loads(text)
    assert exported["release"] == TAG
    reasons = {r["reason"] for r in exported["7d"]["top_rejection_reasons"]}
    assert reasons == set(HOSTILE[:3])


def test_the_baseline_csv_keeps_money_numbers_and_reasons_whole(hostile_report):
    text = reports.as_csv(hostile_report)
    rows = {row[0]: row for row in csv.reader(io.StringIO(text))}
    assert rows["avg_loss_per_trade"][1] == "-4.00000000"
    assert "\n-4.00000000" not in text and ",-4.00000000" in text  # a bare number, unguarded
    reasons = json.loads(rows["top_rejection_reasons"][1])
    assert {r["reason"] for r in reasons} == set(HOSTILE[:3])


def test_a_download_keeps_its_one_name_whatever_the_tag(client, hostile_report):
    log_in_as(client, "lena", TEAM_LEAD)
    response = client.get(
        reverse("admin:kpis_baselinereport_export", args=[hostile_report.pk, "md"])
    )
    header = Message()
    header["content-disposition"] = response["Content-Disposition"]
    assert header.get_filename() == f"baseline-alpha-{TAG}-{AS_OF}.md"


def test_compute_kpis_table_does_not_pass_terminal_escapes_through(bot):
    release = ConfigRelease.objects.create(bot=bot, version=1, tag="v1", approved_at=at(1))
    trade(bot, "a", at(8), 10, release=release)
    DecisionCount.objects.create(
        bot=bot, day=datetime.date(2026, 11, 8), outcome="rejected", reason="x\x1b[2Jy", count=1
    )
    out = io.StringIO()
    call_command("compute_kpis", bot="alpha", days=7, as_of=AS_OF, stdout=out)
    assert "\x1b" not in out.getvalue()
    assert "x\\x1b[2Jy" in out.getvalue()


# -- the audit export --------------------------------------------------------------------------


def test_the_audit_csv_guards_formulas_and_keeps_numbers(bot):
    first, *_ = [record_audit(bot, "noted", actor="=cmd|' /C calc'!A0", note=n) for n in FORMULAS]
    text = export_audit("csv", bot=bot)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["note"] for row in rows] == ["'" + note for note in FORMULAS]
    assert {row["actor_name"] for row in rows} == {"'=cmd|' /C calc'!A0"}
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())
    assert text.split("\r\n")[1].startswith(f"{first.pk},1,")  # id and seq: bare numbers


def test_the_audit_json_holds_no_markup_and_round_trips(bot):
    record_audit(bot, "noted", note=HOSTILE[4], data={"reason": HOSTILE[0]})
    text = export_audit("json", bot=bot)
    assert "<" not in text
    (event,) = json.loads(text)["events"]
    assert event["note"] == HOSTILE[4]
    assert event["data"] == {"reason": HOSTILE[0]}
