"""The plan's hard rollback triggers, evaluated by a worker and on demand.

They watch an experiment whose candidate the bot runs (running, in review, or a keep awaiting
its confirmation: LIVE) and a scaling step in its hold alike (the "subject"): each
trigger reads the thresholds frozen onto the subject at approval and returns its evidence when
it fires. `evaluate_rollback_triggers` stops the subject on a firing trigger: the release before
it runs again, a critical incident opens and the alert goes out.
"""

import datetime

from django.utils import timezone

from experiments.models import LIVE, Experiment, ScalingStep
from experiments.scaling import complete_scaling_step, roll_back_scaling_step
from experiments.services import stop_by_trigger
from integrity.models import IntegrityIncident
from integrity.services import open_or_bump_incident
from kpis.queries import day_start, equity_at
from kpis.services import compute_kpis
from tradeops.models import HealthEvent

DAY = datetime.timedelta(days=1)
TRIGGER_ACTOR = "rollback trigger"


def daily_losses(subject, now):
    """[(day, equity change %)] for each UTC day since the subject started, up to now. A day's
    closing reading is the next day's opening one: one equity_at per midnight, each reading a
    bounded number of rows (kpis.queries.equity_at), however long the bot's history."""
    bot, rows = subject.bot, []
    day = subject.started_at.date()
    start = equity_at(bot, day_start(day))
    while day_start(day) < now:
        end = equity_at(bot, min(day_start(day) + DAY, now))
        if start and end is not None:
            rows.append((day, float((end - start) / start * 100)))
        day, start = day + DAY, end
    return rows


def consecutive_daily_losses(subject, now):
    limit = subject.triggers["daily_loss_pct"]
    needed = subject.triggers["daily_loss_consecutive_days"]
    streak = []
    for day, change in daily_losses(subject, now):
        streak = [*streak, (day, change)] if change < limit else []
        if len(streak) >= needed:
            return {
                "trigger": "daily_loss",
                "summary": f"{needed} consecutive days worse than {limit}% equity daily loss",
                "days": [{"day": d.isoformat(), "change_pct": round(c, 4)} for d, c in streak],
            }
    return None


def avg_loss_worsening(subject, now):
    """(the tested release's avg loss per losing trade, the baseline's frozen at approval, how
    much worse as a fraction, the window's days), or None without a baseline figure or a loss."""
    baseline = subject.triggers.get("baseline_avg_loss")
    if baseline is None or float(baseline) == 0:
        return None
    days = (now.date() - subject.started_at.date()).days + 1
    figures = compute_kpis(
        subject.bot, days, now.date() + DAY, release=subject.tested_release
    ).figures
    test = figures["avg_loss_per_trade"]
    if test is None:
        return None
    worse = (abs(float(test)) - abs(float(baseline))) / abs(float(baseline))
    return test, baseline, worse, days


def avg_loss_deterioration(subject, now):
    """Average loss per losing trade of the candidate, against the baseline's frozen at approval."""
    worsening = avg_loss_worsening(subject, now)
    if worsening is None:
        return None
    test, baseline, worse, days = worsening
    if worse <= subject.triggers["avg_loss_deterioration"]:
        return None
    return {
        "trigger": "avg_loss",
        "summary": f"avg loss/trade {float(test):.2f} is {worse:.0%} worse than the baseline's "
        f"{float(baseline):.2f} (limit {subject.triggers['avg_loss_deterioration']:.0%})",
        "baseline_avg_loss": str(baseline),
        "test_avg_loss": test,
        "deterioration": round(worse, 6),
        "losing_trades_window_days": days,
    }


def _described(event):
    return {
        "ts": event.ts.isoformat(),
        "kind": event.kind,
        "state": event.state,
        "detail": event.detail,
    }


def halt_entry(subject, now):
    """A HALT during a running experiment or a scaling hold stops it at once, on the first
    entry into HALT since the start: the bot's own safety system judged the market or the
    config unsafe, which is what the plan's "risk/safety instability" trigger is for, and a team
    lead would not wait for a third event to put the baseline back. Not a frozen threshold: it
    applies to every live change, also those approved before this rule."""
    since = subject.started_at
    halt = next(
        (e for e in HealthEvent.instability(subject.bot, since, now) if e.is_halt_entry), None
    )
    if halt is None:
        return None
    return {
        "trigger": "halt",
        "summary": f"the bot entered HALT at {halt.ts:%Y-%m-%d %H:%M:%S} UTC",
        "events": [_described(halt)],
    }


def repeated_safety_events(subject, now):
    """Kill-switch, degraded and safety-trigger events and entries into DEGRADED or HALT since
    the start (HealthEvent.instability), against the frozen limit."""
    events = HealthEvent.instability(subject.bot, subject.started_at, now)
    limit = subject.triggers["safety_events"]
    if len(events) < limit:
        return None
    return {
        "trigger": "safety_events",
        "summary": f"{len(events)} kill/degraded/safety events or entries into DEGRADED/HALT "
        f"since the start (limit {limit})",
        "events": [_described(e) for e in events],
    }


TRIGGERS = [halt_entry, consecutive_daily_losses, avg_loss_deterioration, repeated_safety_events]


def fired_triggers(subject, now=None):
    now = now or timezone.now()
    return [evidence for trigger in TRIGGERS if (evidence := trigger(subject, now))]


def evaluate_rollback_triggers(subject, now=None):
    """Stop `subject` if a hard trigger fires. Returns the evidence, or [] if none fired."""
    if not subject.is_live or subject.bot.is_shadow:
        return []
    now = now or timezone.now()
    fired = fired_triggers(subject, now)
    if not fired:
        return []
    evidence = {"summary": "; ".join(f["summary"] for f in fired), "fired": fired}
    if isinstance(subject, ScalingStep):
        roll_back_scaling_step(
            subject, by=TRIGGER_ACTOR, note=evidence["summary"], evidence=evidence, now=now
        )
        key, title = f"scaling-{subject.pk}", f"Rollback trigger rolled back {subject}"
    else:
        stop_by_trigger(subject, evidence=evidence, actor=TRIGGER_ACTOR, now=now)
        key, title = str(subject.pk), f"Rollback trigger stopped {subject.name}"
    open_or_bump_incident(
        bot=subject.bot,
        kind=IntegrityIncident.Kind.ROLLBACK_TRIGGER,
        key=key,
        severity=IntegrityIncident.Severity.CRITICAL,
        title=f"{title}: {evidence['summary']}",
        detail=evidence,
    )
    return fired


def live_changes():
    """The live experiments and holding scaling steps whose triggers are watched, oldest first.

    A shadow's numbers are dry-run: its live bot's change is judged on the live bot's own (every
    trigger reads subject.bot), and a change on a shadow itself is never evaluated as money (the
    services refuse one; a row written around them is skipped here)."""
    money = {"bot__shadow_of__isnull": True}
    return [
        *Experiment.objects.filter(status__in=LIVE, **money).order_by("pk"),
        *ScalingStep.objects.filter(status=ScalingStep.Status.HOLDING, **money).order_by("pk"),
    ]


def evaluate_live_change(change, now):
    """One live experiment's or holding step's triggers, as their fired evidence; a step whose
    hold ended without a trigger is completed."""
    fired = evaluate_rollback_triggers(change, now)
    holding = isinstance(change, ScalingStep) and change.status == ScalingStep.Status.HOLDING
    if not fired and holding and change.hold_until <= now:
        complete_scaling_step(change, now)
    return fired


def evaluate_live_changes(now=None):
    """Every live change's triggers at `now`, as [(change, fired evidence)] (the job runs the same
    one change at a time: experiments.jobs)."""
    now = now or timezone.now()
    return [(change, evaluate_live_change(change, now)) for change in live_changes()]
