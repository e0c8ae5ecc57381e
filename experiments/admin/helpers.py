"""The experiment's pages' HTML pieces: the scorecard (also shown by the cadence's weekly
review), the keep's evidence and what a lead approves."""

import datetime
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join

from experiments import selectors
from experiments.lifecycle import LIFECYCLES
from experiments.models import LIVE, Experiment
from experiments.scorecard import ELAPSED
from kpis.charts import Series, line_chart
from kpis.display import figure_html, in_words, label_html
from kpis.registry import LABELS, format_difference
from tradeops.roles import APPROVE_EXPERIMENT, OPERATE_EXPERIMENT

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


def scorecard_html(scorecard, computed_at=None, currency="USDT", *, chart=None, part="all"):
    """The scorecard as HTML: `part` "verdict" (the verdict and what it rests on), "figures"
    (the two arms, `chart` if given, the KPI table with its difference column) or both."""
    rows = [
        {
            "label": label_html(row["kpi"], currency),
            "primary": row["primary"],
            "baseline": figure_html(row["kpi"], row["baseline"], currency),
            "test": figure_html(row["kpi"], row["test"], currency),
            "difference": format_difference(row["kpi"], row["baseline"], row["test"]),
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
            "currency": currency,
            "chart": chart,
            "part": part,
        },
    )


def stored_scorecard_html(experiment):
    """The stored scorecard with when it was computed; nothing is computed here (the refresh job
    and the decision compute it)."""
    scorecard, computed_at = experiment.shown_scorecard()
    if scorecard:
        return scorecard_html(scorecard, computed_at, experiment.bot.quote_currency)
    return _no_scorecard_yet(experiment)


def _no_scorecard_yet(experiment):
    # A paragraph, as the headings' text is: bare text sits left of them.
    if experiment.started_at is None:
        return format_html("<p>{}</p>", "Computed after the start.")
    return format_html(
        "<p>{}</p>",
        "It is not computed yet: the refresh job computes it every 15 minutes, or now with "
        '"Recompute scorecard".',
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


# Who makes a move, in the team's words, by the permission it needs.
ROLE_WORDS = {OPERATE_EXPERIMENT: "an Operator or a Team lead", APPROVE_EXPERIMENT: "a Team lead"}
MOVE_WORDS = {
    "submit": "submit it for approval",
    "approve": "approve it",
    "start": "start it (the candidate goes live)",
    "review": "send it to review",
    "decide": "decide: roll back or iterate",
    "keep": "log a keep instead",
    "confirm keep": "confirm the keep (the candidate becomes the baseline)",
    "roll back keep": "roll back instead of keeping",
    "withdraw": "withdraw it instead (it will not run)",
}


def next_moves(experiment):
    """[(what is to be done, who is to do it)] from the experiment's state, whoever reads it:
    the lifecycle's moves a person makes, with the four eyes they need."""
    moves = []
    for name, move in LIFECYCLES[Experiment].moves.items():
        if experiment.status not in move.sources or move.permission is None:
            continue
        who = ROLE_WORDS[move.permission]
        others = [getattr(experiment, field) for field, _ in move.not_by]
        if any(others):
            who = f"{who} other than {', '.join(str(o) for o in others if o)}"
        moves.append((MOVE_WORDS[name], who))
    return moves


def triggers_html(triggers, currency):
    """The frozen rollback triggers as the team reads them; amounts in the bot's `currency`."""
    if not triggers:
        return format_html("<p>{}</p>", "Set at approval.")
    lines = []
    if "daily_loss_pct" in triggers:
        lines.append(
            f"daily equity change worse than {triggers['daily_loss_pct']}% "
            f"{triggers.get('daily_loss_consecutive_days', 1)} days running"
        )
    if "avg_loss_deterioration" in triggers:
        base = triggers.get("baseline_avg_loss")
        against = f" (baseline {Decimal(str(base)):,.2f} {currency})" if base is not None else ""
        lines.append(
            f"avg loss/trade {float(triggers['avg_loss_deterioration']):.0%} worse than the "
            f"baseline's{against}"
        )
    if "safety_events" in triggers:
        lines.append(f"{triggers['safety_events']} safety events")
    return format_html(
        '<ul class="readable-list">{}</ul>',
        format_html_join("", "<li>{}</li>", [(line,) for line in lines]),
    )


def kpi_list(keys):
    """KPI keys as their labels in words: "net P&L/day, % no signal"."""
    return ", ".join(in_words(KPI_LABELS.get(key, key)) for key in keys) or "-"


def headroom_of(experiment):
    """The trigger headroom the cadence's job last stored for the experiment's bot while the
    experiment is live (the bot's one live change); else None. Read by the bot's reverse
    relation (the cadence layer sits above this one: no import), one query."""
    if experiment.status not in LIVE:
        return None
    try:
        return experiment.bot.trigger_headroom
    except ObjectDoesNotExist:
        return None


def pnl_chart(experiment, scorecard):
    """Cumulative net P&L a day of the candidate and its control, over the scorecard's span;
    None for a scorecard stored before it recorded its span."""
    windows = selectors.arm_windows(experiment, scorecard)
    if windows is None:
        return None
    daily = selectors.daily_net_pnl(experiment, scorecard)
    currency = experiment.bot.quote_currency
    base = scorecard["baseline"]
    concurrent = base["concurrent"]
    length = max(days for _, days in windows.values())

    def cumulative(arm):
        first, days = windows[arm]
        total, values = Decimal(0), []
        for i in range(length):
            if i >= days:
                values.append(None)
                continue
            total += daily.get((arm, first + datetime.timedelta(days=i)), Decimal(0))
            values.append(total)
        return values

    if concurrent:
        first = windows[selectors.TEST][0]
        labels = [(first + datetime.timedelta(days=i)).isoformat() for i in range(length)]
        control = f"shadow {base['bot']} ({base['release']}), same days"
    else:
        labels = [f"day {i + 1}" for i in range(length)]
        control = f"baseline {base['release']}, {base['days']} days before the start"
    return line_chart(
        f"Cumulative net P&L ({currency}): candidate and its control",
        labels,
        [
            (f"candidate {scorecard['test']['release']}", cumulative(selectors.TEST)),
            Series(control, cumulative(selectors.BASELINE), dashed=True),
        ],
        y_format="money",
        x_title="day (UTC)" if concurrent else "day of each window",
        y_title=f"cumulative net P&L ({currency})",
    )


def decision_context(experiment):
    """What the experiment's page leads with: its state in words, the verdict and what it rests
    on, the decision and who is to make it, the lever's change, the triggers and their
    headroom; then the P&L chart and the KPI table."""
    scorecard, computed_at = experiment.shown_scorecard()
    currency = experiment.bot.quote_currency
    if scorecard:
        verdict = scorecard_html(scorecard, computed_at, currency, part="verdict")
        chart = pnl_chart(experiment, scorecard)
        figures = scorecard_html(scorecard, None, currency, chart=chart, part="figures")
    else:
        verdict, chart, figures = _no_scorecard_yet(experiment), None, ""
    return {
        "state": experiment.get_status_display(),
        "decision": experiment.get_decision_display() if experiment.decision else "",
        "lever_change": experiment.lever_change(),
        "moves": next_moves(experiment),
        "verdict": verdict,
        "chart": chart,
        "figures": figures,
        "triggers": triggers_html(experiment.triggers, currency),
        "headroom": headroom_of(experiment),
        "primary_kpis": kpi_list(experiment.primary_kpis),
        "secondary_kpis": kpi_list(experiment.secondary_kpis),
    }
