"""The experiment's pages' HTML pieces: the scorecard (also shown by the cadence's weekly
review), the keep's evidence and what a lead approves."""

import datetime

from django.template.loader import render_to_string
from django.utils.html import format_html

from experiments.models import Experiment
from experiments.scorecard import ELAPSED
from kpis.registry import LABELS, format_figure

KPI_LABELS = dict(LABELS)


def _test_span(test):
    """How long the test ran, and what its per-day figures divide by."""
    if test.get("days_basis") != ELAPSED:  # stored before the elapsed basis: calendar days
        return f"{test['days']} day(s) to {test['to']}"
    since, to = (datetime.datetime.fromisoformat(test[end]) for end in ("from", "to"))
    return (
        f"{test['days']:.2f} days elapsed, {since:%Y-%m-%d %H:%M} to {to:%Y-%m-%d %H:%M} UTC "
        "(its per-day figures divide by the elapsed days, a day begun counting by its hours)"
    )


def scorecard_html(scorecard, computed_at=None):
    rows = [
        {
            "label": KPI_LABELS.get(row["kpi"], row["kpi"]),
            "primary": row["primary"],
            "baseline": format_figure(row["kpi"], row["baseline"]),
            "test": format_figure(row["kpi"], row["test"]),
        }
        for row in scorecard["kpis"]
    ]
    return render_to_string(
        "admin/experiments/scorecard.html",
        {
            "scorecard": scorecard,
            "rows": rows,
            "computed_at": computed_at,
            "test_span": _test_span(scorecard["test"]),
        },
    )


def stored_scorecard_html(experiment):
    """The stored scorecard with when it was computed; nothing is computed here (the refresh job
    and the decision compute it)."""
    scorecard, computed_at = experiment.shown_scorecard()
    if scorecard:
        return scorecard_html(scorecard, computed_at)
    if experiment.started_at is None:
        return "after the start"
    return (
        "not computed yet: the refresh job computes it every 15 minutes, or now with "
        '"Recompute scorecard"'
    )


def keep_evidence_html(experiment):
    """What a pending keep rests on, for the Team lead who confirms it: a warning first when it
    was logged without a concurrent 'better' verdict, then the scorecard it was logged with."""
    logged = experiment.decisions.filter(decision=Experiment.Decision.KEEP).first()
    scorecard = stored_scorecard_html(experiment)
    if logged is None or not logged.kept_without_better:
        return scorecard
    return format_html(
        "<p class=\"errornote\">Kept without a concurrent 'better' verdict: the scorecard said "
        "{} when {} logged the keep, and said so.</p>{}",
        logged.scorecard.get("verdict", "nothing"),
        logged.decided_by,
        scorecard,
    )


def approval_html(experiment):
    """What the lead approves: the one lever's change, and the candidate release with it."""
    release = experiment.candidate_release
    state = "approved" if release.is_approved else "a draft, approved with this experiment"
    return format_html(
        "<p>{}</p><p>Candidate release {}: {}.</p>", experiment.lever_change(), release.tag, state
    )
