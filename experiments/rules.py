"""The decision framework's rules, one function each, called by every transition that needs
them (admin, command and job alike), on the transition's clock (`now`)."""

import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

from experiments.models import (
    LIVE,
    SCALING_HOLD_DAYS,
    SCALING_STEP_MAX_PCT,
    SCALING_STEP_MIN_PCT,
    Experiment,
    ScalingStep,
)
from experiments.params import diff_params
from experiments.releases import refuse_if_frozen
from kpis.services import BASELINE_DAYS, compute_kpis
from tradeops.models import ParamSpec


def default_triggers():
    """The plan's hard rollback triggers; copied onto an experiment or a scaling step when it
    is approved."""
    return {
        "daily_loss_pct": -3.0,
        "daily_loss_consecutive_days": 2,
        "avg_loss_deterioration": 0.40,
        "safety_events": 3,
    }


def frozen_triggers(baseline_release, now, overrides=None):
    """The thresholds a change is held to, with the baseline's avg loss/trade of its last
    BASELINE_DAYS (30) days as the figure the avg-loss trigger compares with."""
    figures = compute_kpis(
        baseline_release.bot, BASELINE_DAYS, now.date(), release=baseline_release
    ).figures
    return (
        default_triggers()
        | (overrides or {})
        | {"baseline_avg_loss": figures["avg_loss_per_trade"]}
    )


def check_one_change(baseline, candidate, lever):
    """Exactly one strategy param differs, it is the named lever, and risk params are identical.
    Params differ by value for their type (experiments.params.same_value): a decimal written
    with an extra trailing zero is the same value, so it is neither the lever nor a second change.
    """
    changed = diff_params(baseline.params, candidate.params)
    categories = dict(ParamSpec.objects.filter(key__in=changed).values_list("key", "category"))
    risk = sorted(k for k in changed if categories.get(k) == ParamSpec.Category.RISK)
    if risk:
        raise ValidationError(
            f"risk params must be identical to the baseline; changed: {', '.join(risk)}"
        )
    added = sorted(k for k, (old, _) in changed.items() if old is None)
    removed = sorted(k for k, (_, new) in changed.items() if new is None)
    if added or removed:
        parts = [
            f"added {', '.join(added)}" if added else "",
            f"removed {', '.join(removed)}" if removed else "",
        ]
        raise ValidationError(
            f"the one change must be a new value of an existing strategy param; "
            f"{'; '.join(p for p in parts if p)}"
        )
    if len(changed) != 1:
        listed = ", ".join(sorted(changed)) or "none"
        raise ValidationError(
            f"one-change rule: exactly one strategy param must differ from the baseline; "
            f"differ: {listed}"
        )
    (key,) = changed
    if categories.get(key) != ParamSpec.Category.STRATEGY:
        raise ValidationError(
            f"{key} is not a strategy param; an experiment tests one strategy lever"
        )
    old, new = changed[key]
    if type(old) is not type(new) and str(old) == str(new):
        raise ValidationError(f"{key} changed only in type ({old!r} → {new!r}); that is no lever")
    if key != lever:
        raise ValidationError(f"the experiment names lever {lever} but the candidate changes {key}")


def check_can_start(experiment, now):
    """Not during a freeze or a scaling step's hold; prerequisites decided; baseline current."""
    bot = experiment.bot
    refuse_if_frozen(bot, "start an experiment", now)
    refuse_if_scaling_hold(bot, "start an experiment", now)
    pending = pending_prerequisite(experiment)
    if pending is not None:
        raise ValidationError(
            f"{experiment.name} is queued after {pending.name}, which is {pending.status}"
            ", not decided"
        )
    if not experiment.baseline_release.is_baseline:
        raise ValidationError(
            f"baseline {experiment.baseline_release.tag} is no longer the bot's baseline: "
            "withdraw this experiment and draft it again against the current one"
        )
    if not experiment.candidate_release.is_approved:
        raise ValidationError(f"candidate {experiment.candidate_release.tag} is not approved")
    check_one_change(experiment.baseline_release, experiment.candidate_release, experiment.lever)


def pending_prerequisite(experiment):
    """The experiment this one waits for, if it is not done yet. An iterated prerequisite is
    done when its latest iteration is (kept, rolled back or stopped by a trigger)."""
    prerequisite = experiment.prerequisite
    while prerequisite is not None and prerequisite.decision == prerequisite.Decision.ITERATE:
        prerequisite = prerequisite.iterations.latest("created_at")
    done = (Experiment.Status.DECIDED, Experiment.Status.STOPPED, Experiment.Status.WITHDRAWN)
    if prerequisite is None or prerequisite.status in done:
        return None
    return prerequisite


def refuse_if_scaling_hold(bot, what, now=None):
    """A risk scaling step in its hold period: nothing else changes meanwhile."""
    step = ScalingStep.objects.filter(
        bot=bot, status=ScalingStep.Status.HOLDING, hold_until__gt=now or timezone.now()
    ).first()
    if step is not None:
        raise ValidationError(
            f"scaling step {step.param} +{step.step_pct}% holds until "
            f"{step.hold_until:%Y-%m-%d %H:%M} UTC: cannot {what}"
        )


LIVE_IN_WORDS = {
    Experiment.Status.RUNNING: "is running",
    Experiment.Status.REVIEW: "is in review",
    Experiment.Status.KEEP_PENDING: "has a keep awaiting confirmation",
}


def refuse_if_experiment_running(bot, what):
    """While the bot runs an experiment's candidate (LIVE), its baseline and risk stay put."""
    running = bot.experiments.filter(status__in=LIVE).first()
    if running is not None:
        raise ValidationError(
            f"experiment {running.name} {LIVE_IN_WORDS[running.status]}: cannot {what}"
        )


def check_step_size(step_pct):
    """Plan section 5: a risk step is +10% to +20% of the current value."""
    if not SCALING_STEP_MIN_PCT <= step_pct <= SCALING_STEP_MAX_PCT:
        raise ValidationError(
            f"a scaling step raises a risk param by +{SCALING_STEP_MIN_PCT}% to "
            f"+{SCALING_STEP_MAX_PCT}%; this one is {step_pct:+}%"
        )


def check_can_scale(bot, now=None):
    """No step during a freeze or a running experiment, and each step held 7 days."""
    now = now or timezone.now()
    refuse_if_frozen(bot, "scale risk", now)
    refuse_if_experiment_running(bot, "scale risk")
    last = (
        ScalingStep.objects.filter(bot=bot, started_at__isnull=False)
        .order_by("-started_at")
        .first()
    )
    if last is None:
        return
    next_allowed = last.started_at + datetime.timedelta(days=SCALING_HOLD_DAYS)
    if now < next_allowed:
        raise ValidationError(
            f"the last scaling step ({last.param} +{last.step_pct}%) started "
            f"{last.started_at:%Y-%m-%d %H:%M} UTC; each step holds {SCALING_HOLD_DAYS} days, "
            f"the next may start from {next_allowed:%Y-%m-%d %H:%M} UTC"
        )
    if last.status == ScalingStep.Status.HOLDING:
        raise ValidationError(f"scaling step {last} is still holding; complete it first")


def check_horizon(experiment, now=None):
    """A keep decision needs at least min_horizon_days of the experiment running."""
    now = now or timezone.now()
    ran = now - experiment.started_at
    if now < experiment.keep_allowed_from:
        raise ValidationError(
            f"keep needs {experiment.min_horizon_days} days of running; "
            f"{experiment.name} has run {ran.days} day(s)"
        )


# The verdict a keep may rest on without anyone saying otherwise: a concurrent "better".
KEEP_VERDICT = "better"


def check_keep_evidence(scorecard, without_better):
    """A keep rests on a "better" verdict, or the one who logs it says explicitly that it does
    not (the confirming Team lead sees it, and the audit keeps it)."""
    verdict = scorecard.get("verdict", "none")
    if verdict != KEEP_VERDICT and not without_better:
        raise ValidationError(
            {
                "without_better": f"the scorecard's verdict is {verdict!r}, not {KEEP_VERDICT!r}: "
                "to keep all the same, say so by ticking this box (the confirming Team lead "
                "sees it)"
            }
        )
