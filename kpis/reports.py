"""The baseline report (plan section 1): 7d and 30d side by side, as a page and as exports."""

from decimal import Decimal

from kpis.charts import Series, bar_chart, line_chart
from kpis.registry import KPIS, money
from tradeops.exports import csv_text, json_text, markdown_text


def coverage_warnings(report):
    """A warning for each window in which the release closed trades on fewer days than the
    window holds: per-day figures divide by the window's length, as the formula says."""
    warnings = []
    for snapshot in (report.snapshot_7d, report.snapshot_30d):
        covered, days = snapshot.figures.get("days_with_closes"), snapshot.window_days
        if covered is not None and covered < days:
            warnings.append(
                f"The {days}d window has closes on {covered} of its {days} days: its per-day "
                f"figures divide by {days}, so they understate a release that was live for less."
            )
    return warnings


def baseline_charts(report):
    """The 30d window day by day: equity and drawdown, net P&L, side mix, rejections."""
    daily = report.snapshot_30d.daily
    days = [d["day"] for d in daily]
    axis = {"x_title": "day (UTC)"}
    equity = [d["equity"] for d in daily]
    reasons = sorted({reason for d in daily for reason in d["rejections"]})
    return [
        line_chart(
            "Equity (end of day) and drawdown",
            days,
            [
                ("equity", equity),
                Series(
                    "running peak (shaded: drawdown)",
                    _running_peak(equity),
                    dashed=True,
                    shade_to="equity",
                ),
            ],
            y_format="money",
            y_title="equity",
            empty_text="No equity curve: no equity snapshots, no start equity.",
            **axis,
        ),
        bar_chart(
            "Daily net P&L",
            days,
            [Series("net P&L", [d["net_pnl"] for d in daily], color_by_sign=True)],
            y_format="money",
            y_title="net P&L",
            **axis,
        ),
        bar_chart(
            "Side mix of closes",
            days,
            [
                ("long", [d["long_share"] for d in daily]),
                ("short", [_complement(d["long_share"]) for d in daily]),
            ],
            y_format="percent",
            y_title="share of closes",
            stacked=True,
            y_min=0,
            y_max=1,
            empty_text="No closes in this window.",
            **axis,
        ),
        line_chart(
            "Rejections per day by reason",
            days,
            [(reason, [d["rejections"].get(reason, 0) for d in daily]) for reason in reasons],
            y_format="count",
            y_title="rejections",
            empty_text="No rejections in this window.",
            **axis,
        ),
    ]


def _running_peak(equity):
    peaks, peak = [], None
    for value in equity:
        if value is not None:
            peak = value if peak is None else max(peak, value, key=Decimal)
        peaks.append(None if value is None else peak)
    return peaks


def _complement(share):
    return None if share is None else round(1 - share, 6)


def _title(report, text=str):
    release = report.release
    return f"Baseline {text(release.bot.slug)} {text(release.tag)} as of {report.as_of} (UTC)"


def _markdown_figure(kpi, value):
    """The figure as the page shows it, the bot's own words in it (rejection reasons) escaped."""
    if kpi.key == "top_rejection_reasons":
        value = [{**r, "reason": markdown_text(r["reason"])} for r in value]
    return kpi.format(value)


def as_markdown(report):
    """Every value from outside (bot, tag, commit, user, the bot's reasons) through
    markdown_text: a rendered report shows them, and holds no link, image or HTML of theirs."""
    seven, thirty = report.snapshot_7d.figures, report.snapshot_30d.figures
    release = report.release
    lines = [
        f"# {_title(report, markdown_text)}",
        "",
        f"Release {markdown_text(release.tag)} (git {markdown_text(release.git_commit or 'n/a')}"
        f"); captured {report.captured_at:%Y-%m-%d %H:%M} UTC by "
        f"{markdown_text(report.captured_by or 'n/a')}.",
        "",
        *(f"> **Warning:** {warning}\n" for warning in coverage_warnings(report)),
        "| KPI | 7d | 30d |",
        "|---|---|---|",
        *(
            f"| {kpi.label} | {_markdown_figure(kpi, seven[kpi.key])} "
            f"| {_markdown_figure(kpi, thirty[kpi.key])} |"
            for kpi in KPIS
        ),
        "",
        f"Input fingerprints: 7d `{report.snapshot_7d.fingerprint}`, "
        f"30d `{report.snapshot_30d.fingerprint}`.",
    ]
    return "\n".join(lines) + "\n"


def _csv_value(kpi, value):
    """Money is a decimal string in the figures: a number in the CSV (a negative one is not
    formula text); nested figures as JSON text."""
    if value is not None and kpi.format is money:
        return Decimal(value)
    return json_text(value) if isinstance(value, dict | list) else value


def as_csv(report):
    """Machine-readable: one row per KPI, exact values (money as decimal numbers)."""
    seven, thirty = report.snapshot_7d.figures, report.snapshot_30d.figures
    return csv_text(
        ["kpi", "7d", "30d"],
        (
            [kpi.key, _csv_value(kpi, seven[kpi.key]), _csv_value(kpi, thirty[kpi.key])]
            for kpi in KPIS
        ),
    )


def as_json(report):
    return json_text(
        {
            "bot": report.release.bot.slug,
            "release": report.release.tag,
            "git_commit": report.release.git_commit,
            "as_of": report.as_of.isoformat(),
            "captured_at": report.captured_at.isoformat(),
            "captured_by": str(report.captured_by or ""),
            "7d": {**report.snapshot_7d.figures, "fingerprint": report.snapshot_7d.fingerprint},
            "30d": {**report.snapshot_30d.figures, "fingerprint": report.snapshot_30d.fingerprint},
        },
        indent=2,
    )
