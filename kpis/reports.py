"""The baseline report (plan section 1): 7d and 30d side by side, as a page and as exports."""

import csv
import io
import json

from kpis.registry import FIGURE_KEYS, KPIS


def baseline_rows(report):
    """[(label, 7d, 30d)] for every KPI in the registry's order, for reading."""
    seven, thirty = report.snapshot_7d.figures, report.snapshot_30d.figures
    return [(kpi.label, kpi.format(seven[kpi.key]), kpi.format(thirty[kpi.key])) for kpi in KPIS]


def _title(report):
    return f"Baseline {report.release.bot.slug} {report.release.tag} as of {report.as_of} (UTC)"


def as_markdown(report):
    lines = [
        f"# {_title(report)}",
        "",
        f"Release {report.release.tag} (git {report.release.git_commit or 'n/a'}); captured "
        f"{report.captured_at:%Y-%m-%d %H:%M} UTC by {report.captured_by or 'n/a'}.",
        "",
        "| KPI | 7d | 30d |",
        "|---|---|---|",
        *(f"| {label} | {seven} | {thirty} |" for label, seven, thirty in baseline_rows(report)),
        "",
        f"Input fingerprints: 7d `{report.snapshot_7d.fingerprint}`, "
        f"30d `{report.snapshot_30d.fingerprint}`.",
    ]
    return "\n".join(lines) + "\n"


def as_csv(report):
    """Machine-readable: one row per KPI, exact values (money as decimal strings)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kpi", "7d", "30d"])
    seven, thirty = report.snapshot_7d.figures, report.snapshot_30d.figures
    for key in FIGURE_KEYS:
        values = [seven[key], thirty[key]]
        writer.writerow(
            [key, *(json.dumps(v) if isinstance(v, dict | list) else v for v in values)]
        )
    return out.getvalue()


def as_json(report):
    return json.dumps(
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
