"""Risk scaling (plan section 5): raise one risk param by +10% to +20%, only on evidence.

A step is proposed with the evidence that allowed it, approved by a Team lead who did not
propose it, then held for 7 days under the same hard rollback triggers as an experiment. When
the hold ends without a trigger the step is completed; a trigger (or a person) rolls it back.

"Stable or improving profitability" is defined on the current baseline release's weekly KPI
snapshots (7-day windows ending today and a week ago), and each part is shown with its figures:
- each of the 2 weeks has at least MIN_TRADES_PER_WEEK closes (enough to be evidence);
- each week made money: net P&L > 0 and profit factor > 1;
- stable or improving: the latest week's net P&L/trade is at least STABLE_SHARE of the week
  before's;
- no critical integrity incident is open for the bot.
"""

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from experiments import rules
from experiments.models import SCALING_HOLD_DAYS, ScalingStep
from experiments.releases import (
    approve_release,
    baseline_of,
    create_release,
    run_release,
    set_baseline,
)
from experiments.services import frozen_triggers
from integrity.models import IntegrityIncident
from kpis.calculations import INFINITY
from kpis.services import capture_snapshot, today
from tradeops.audit import record_audit, require_note
from tradeops.models import ConfigRelease, ParamSpec

SCALING_WEEKS = 2
MIN_TRADES_PER_WEEK = 20
STABLE_SHARE = Decimal("0.8")
PROPOSE = "experiments.add_scalingstep"
APPROVE = "experiments.approve_scalingstep"
ROLL_BACK = "experiments.change_scalingstep"
Status = ScalingStep.Status


def _check(passed, text):
    return {"passed": bool(passed), "check": text}


def scaling_readiness(bot, as_of=None):
    """Whether the evidence allows a step now, with every check and its figures."""
    as_of = as_of or today()
    baseline = baseline_of(bot)
    if baseline is None:
        return {"passed": False, "checks": [_check(False, f"{bot.slug} has no baseline release")]}
    snapshots = [
        capture_snapshot(bot, 7, as_of - datetime.timedelta(days=7 * back), baseline)
        for back in reversed(range(SCALING_WEEKS))
    ]
    checks = []
    for snapshot in snapshots:
        figures, week = snapshot.figures, f"week to {snapshot.as_of}"
        factor = figures["profit_factor"]
        checks += [
            _check(
                figures["trades"] >= MIN_TRADES_PER_WEEK,
                f"{week}: {figures['trades']} closes (at least {MIN_TRADES_PER_WEEK})",
            ),
            _check(
                Decimal(figures["net_pnl"]) > 0,
                f"{week}: net P&L {Decimal(figures['net_pnl']):.2f} (above 0)",
            ),
            _check(
                factor is not None and (factor == INFINITY or factor > 1),
                f"{week}: profit factor {factor} (above 1)",
            ),
        ]
    before, latest = (
        Decimal(s.figures["avg_pnl_per_trade"] or 0) for s in (snapshots[0], snapshots[-1])
    )
    checks.append(
        _check(
            latest >= before * STABLE_SHARE,
            f"net P&L/trade {latest:.2f} vs {before:.2f} the week before "
            f"(at least {STABLE_SHARE:.0%} of it)",
        )
    )
    critical = IntegrityIncident.objects.filter(
        bot=bot, severity=IntegrityIncident.Severity.CRITICAL
    ).exclude(status=IntegrityIncident.Status.RESOLVED)
    checks.append(
        _check(not critical.exists(), f"{critical.count()} open critical integrity incident(s)")
    )
    return {
        "passed": all(c["passed"] for c in checks),
        "baseline": baseline.tag,
        "as_of": as_of.isoformat(),
        "snapshots": [s.pk for s in snapshots],
        "checks": checks,
    }


def scaled_value(spec, value, step_pct):
    """The param raised by `step_pct` percent, in the param's own type, and the real step."""
    old = Decimal(str(value))
    if old <= 0:
        raise ValidationError(f"{spec.key} is {value}: only a positive value scales")
    new = old * (1 + Decimal(step_pct) / 100)
    if spec.value_type == ParamSpec.ValueType.INT:
        new = new.to_integral_value(ROUND_HALF_UP)
        scaled = int(new)
    else:
        scaled = f"{new.normalize():f}"
    return scaled, ((new - old) / old * 100).quantize(Decimal("0.01"))


def check_scaling_proposal(*, bot, param, step_pct, as_of=None):
    """Every rule a proposal must pass (the admin form checks with it before saving). Returns
    (baseline, new value, real step %, readiness)."""
    rules.check_step_size(Decimal(str(step_pct)))
    rules.check_can_scale(bot)
    spec = ParamSpec.objects.filter(key=param, category=ParamSpec.Category.RISK).first()
    if spec is None:
        raise ValidationError(f"{param} is not a risk param: only risk params are scaled")
    readiness = scaling_readiness(bot, as_of)
    if not readiness["passed"]:
        failed = "; ".join(c["check"] for c in readiness["checks"] if not c["passed"])
        raise ValidationError(f"not ready to scale: {failed}")
    baseline = baseline_of(bot)
    if param not in baseline.params:
        raise ValidationError(f"baseline {baseline.tag} has no {param} to scale")
    new_value, actual_pct = scaled_value(spec, baseline.params[param], step_pct)
    rules.check_step_size(actual_pct)
    return baseline, new_value, actual_pct, readiness


def propose_scaling_step(*, bot, param, step_pct, tag, by, note, as_of=None):
    """A draft release with `param` raised, and the step with the evidence that allows it."""
    if not by.has_perm(PROPOSE):
        raise PermissionDenied(f"{by} may not propose scaling steps")
    require_note(note)
    baseline, new_value, actual_pct, readiness = check_scaling_proposal(
        bot=bot, param=param, step_pct=step_pct, as_of=as_of
    )
    with transaction.atomic():
        release = create_release(
            based_on=baseline,
            changes={param: new_value},
            tag=tag,
            by=by,
            notes=f"risk scaling: {param} {baseline.params[param]} → {new_value} (+{actual_pct}%)",
        )
        step = ScalingStep.objects.create(
            bot=bot,
            param=param,
            from_release=baseline,
            to_release=release,
            step_pct=actual_pct,
            evidence=readiness,
            proposed_by=by,
        )
        record_audit(step, "proposed", actor=by, to_state=Status.PROPOSED, note=note)
    return step


def _locked(step, expected):
    current = ScalingStep.objects.select_for_update().get(pk=step.pk)
    if current.status != expected:
        raise ValidationError(f"scaling step {current} is {current.status}, not {expected}")
    return current


def approve_scaling_step(step, *, by, note):
    """Team lead, not the proposer: the raised release becomes the baseline and the hold starts."""
    if not by.has_perm(APPROVE):
        raise PermissionDenied(f"{by} may not approve scaling steps")
    require_note(note)
    if step.proposed_by_id == by.pk:
        raise ValidationError(f"four-eyes: {by} proposed {step} and cannot approve it")
    rules.check_can_scale(step.bot)
    try:
        with transaction.atomic():
            step = _locked(step, Status.PROPOSED)
            if not ConfigRelease.objects.filter(pk=step.from_release_id, is_baseline=True).exists():
                raise ValidationError(
                    f"{step.from_release.tag} is no longer the baseline; propose the step again"
                )
            approve_release(step.to_release, by=by, note=note)
            set_baseline(step.to_release, by=by, note=f"scaling step: {step}")
            run_release(step.to_release)
            now = timezone.now()
            step.approved_by, step.started_at = by, now
            step.hold_until = now + datetime.timedelta(days=SCALING_HOLD_DAYS)
            step.triggers = frozen_triggers(step.from_release)
            step.status = Status.HOLDING
            step.save()
            record_audit(
                step,
                "approve",
                actor=by,
                from_state=Status.PROPOSED,
                to_state=step.status,
                note=note,
            )
    except IntegrityError as exc:
        if "one_scaling_step_at_a_time" in str(exc):
            raise ValidationError(f"another scaling step is holding for {step.bot.slug}") from None
        raise
    return step


def complete_scaling_step(step, now=None, actor="scaling hold"):
    """The hold ended without a trigger firing: the raised release stays the baseline."""
    now = now or timezone.now()
    with transaction.atomic():
        step = _locked(step, Status.HOLDING)
        if step.hold_until > now:
            raise ValidationError(f"{step} holds until {step.hold_until:%Y-%m-%d %H:%M} UTC")
        step.status, step.ended_at = Status.COMPLETED, now
        step.save()
        record_audit(
            step,
            "complete",
            actor=actor,
            from_state=Status.HOLDING,
            to_state=step.status,
            note=f"held {SCALING_HOLD_DAYS} days without a rollback trigger",
        )
    return step


def roll_back_scaling_step(step, *, by, note, evidence=None):
    """Back to the release before the step; always allowed, freeze or not. `by` is a person
    with the permission, or the name of the rollback trigger."""
    if not isinstance(by, str) and not by.has_perm(ROLL_BACK):
        raise PermissionDenied(f"{by} may not roll back scaling steps")
    require_note(note)
    with transaction.atomic():
        step = _locked(step, Status.HOLDING)
        set_baseline(step.from_release, by=by, note=note, check_freeze=False)
        run_release(step.from_release)
        step.status, step.ended_at = Status.ROLLED_BACK, timezone.now()
        step.trigger_evidence = evidence or {}
        step.save()
        record_audit(
            step, "roll back", actor=by, from_state=Status.HOLDING, to_state=step.status, note=note
        )
    return step
