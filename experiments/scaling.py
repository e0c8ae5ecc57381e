"""Risk scaling (plan section 5): raise one risk param by +10% to +20%, only on evidence.

A step is proposed with the evidence that allowed it, approved by a Team lead who did not
propose it, then held for 7 days under the same hard rollback triggers as an experiment. When
the hold ends without a trigger the step is completed; a trigger (or a person) rolls it back.

"Stable or improving profitability" is defined on the current baseline release's KPIs of two
weeks (7-day windows ending today and a week ago), and each part is shown with its figures:
- each of the 2 weeks has at least MIN_TRADES_PER_WEEK closes (enough to be evidence);
- each week made money: net P&L > 0 and profit factor > 1;
- stable or improving: the latest week's net P&L/trade is at least STABLE_SHARE of the week
  before's;
- no critical integrity incident is open for the bot.

Readiness only reads (compute_kpis; nothing is stored but the step, with the two weeks' figures
as its evidence) and a proposal judges it once, in the service. Approval, completion and
rollback are moves of the lifecycle mechanism experiments use (experiments.lifecycle). Every
service takes the clock (`now`).
"""

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from experiments import rules
from experiments.lifecycle import transition
from experiments.models import SCALING_HOLD_DAYS, ScalingStep
from experiments.releases import (
    approve_release,
    baseline_of,
    create_release,
    run_release,
    set_baseline,
)
from experiments.same_bot import check_same_bot
from experiments.shadows import follow_live
from integrity.models import IntegrityIncident
from kpis.calculations import INFINITY
from kpis.services import compute_kpis
from tradeops.audit import record_audit, require_note
from tradeops.models import ConfigRelease, ParamSpec, ReleaseChange
from tradeops.roles import PROPOSE_SCALING

SCALING_WEEKS = 2
MIN_TRADES_PER_WEEK = 20
STABLE_SHARE = Decimal("0.8")
Status = ScalingStep.Status


def _check(passed, text):
    return {"passed": bool(passed), "check": text}


def _week(bot, as_of, baseline):
    """The baseline's KPIs of the 7 days before `as_of`, as the evidence keeps them."""
    result = compute_kpis(bot, 7, as_of, baseline)
    return {
        "as_of": as_of.isoformat(),
        "release": baseline.tag,
        "fingerprint": result.fingerprint,
        "figures": result.figures,
    }


def scaling_readiness(bot, now=None):
    """Whether the evidence allows a step at `now`, with every check and its figures. Reads
    only: the week figures it judges are kept in the result, nothing is stored."""
    as_of = (now or timezone.now()).date()
    if bot.is_shadow:  # dry-run: its figures are no evidence, and its risk is its live bot's
        return {
            "passed": False,
            "checks": [_check(False, f"{bot.slug} is a shadow of {bot.shadow_of}: scale that")],
        }
    baseline = baseline_of(bot)
    if baseline is None:
        return {"passed": False, "checks": [_check(False, f"{bot.slug} has no baseline release")]}
    weeks = [
        _week(bot, as_of - datetime.timedelta(days=7 * back), baseline)
        for back in reversed(range(SCALING_WEEKS))
    ]
    checks = []
    for window in weeks:
        figures, week = window["figures"], f"week to {window['as_of']}"
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
        Decimal(week["figures"]["avg_pnl_per_trade"] or 0) for week in (weeks[0], weeks[-1])
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
        "snapshots": weeks,
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


def check_scaling_proposal(*, bot, param, step_pct, now):
    """Every rule a proposal must pass. Returns (baseline, new value, real step %, readiness)."""
    rules.check_step_size(Decimal(str(step_pct)))
    rules.check_can_scale(bot, now)
    spec = ParamSpec.objects.filter(key=param, category=ParamSpec.Category.RISK).first()
    if spec is None:
        raise ValidationError(f"{param} is not a risk param: only risk params are scaled")
    readiness = scaling_readiness(bot, now)
    if not readiness["passed"]:
        failed = "; ".join(c["check"] for c in readiness["checks"] if not c["passed"])
        raise ValidationError(f"not ready to scale: {failed}")
    baseline = baseline_of(bot)
    if param not in baseline.params:
        raise ValidationError(f"baseline {baseline.tag} has no {param} to scale")
    new_value, actual_pct = scaled_value(spec, baseline.params[param], step_pct)
    rules.check_step_size(actual_pct)
    return baseline, new_value, actual_pct, readiness


def propose_scaling_step(*, bot, param, step_pct, tag, by, note, now=None):
    """A draft release with `param` raised, and the step with the evidence that allows it."""
    if not by.has_perm(PROPOSE_SCALING):
        raise PermissionDenied(f"{by} may not propose scaling steps")
    require_note(note)
    now = now or timezone.now()
    baseline, new_value, actual_pct, readiness = check_scaling_proposal(
        bot=bot, param=param, step_pct=step_pct, now=now
    )
    with transaction.atomic():
        release = create_release(
            based_on=baseline,
            changes={param: new_value},
            tag=tag,
            by=by,
            notes=f"risk scaling: {param} {baseline.params[param]} → {new_value} (+{actual_pct}%)",
            now=now,
        )
        check_same_bot(bot, from_release=baseline, to_release=release)
        step = ScalingStep.objects.create(
            bot=bot,
            param=param,
            from_release=baseline,
            to_release=release,
            step_pct=actual_pct,
            evidence=readiness,
            proposed_by=by,
            proposed_at=now,
        )
        record_audit(step, "proposed", actor=by, to_state=Status.PROPOSED, note=note, at=now)
    return step


def approve_scaling_step(step, *, by, note, now=None):
    """Team lead, not the proposer: the raised release becomes the baseline and the hold starts."""

    def apply(step, now):
        rules.check_can_scale(step.bot, now)
        if not ConfigRelease.objects.filter(pk=step.from_release_id, is_baseline=True).exists():
            raise ValidationError(
                f"{step.from_release.tag} is no longer the baseline; propose the step again"
            )
        approve_release(step.to_release, by=by, note=note, now=now)
        set_baseline(step.to_release, bot=step.bot, by=by, note=f"scaling step: {step}", now=now)
        run_release(
            step.to_release,
            bot=step.bot,
            reason=ReleaseChange.Reason.SCALING,
            reference=f"scaling step #{step.pk} ({step.param} +{step.step_pct}%) approved",
            by=by,
            now=now,
        )
        step.approved_by, step.started_at = by, now
        step.hold_until = now + datetime.timedelta(days=SCALING_HOLD_DAYS)
        step.triggers = rules.frozen_triggers(step.from_release, now)

    with transaction.atomic():  # the shadow runs what its live bot runs
        step = transition(step, "approve", by=by, note=note, now=now, apply=apply)
        follow_live(step.bot)
    return step


def complete_scaling_step(step, now=None, actor="scaling hold"):
    """The hold ended without a trigger firing: the raised release stays the baseline."""

    def apply(step, now):
        if step.hold_until > now:
            raise ValidationError(f"{step} holds until {step.hold_until:%Y-%m-%d %H:%M} UTC")
        step.ended_at = now

    note = f"held {SCALING_HOLD_DAYS} days without a rollback trigger"
    return transition(step, "complete", by=actor, note=note, now=now, apply=apply)


def roll_back_scaling_step(step, *, by, note, evidence=None, now=None):
    """Back to the release before the step; always allowed, freeze or not. `by` is a person
    with the permission, or the name of the rollback trigger."""

    def apply(step, now):
        set_baseline(step.from_release, bot=step.bot, by=by, note=note, check_freeze=False, now=now)
        run_release(
            step.from_release,
            bot=step.bot,
            reason=ReleaseChange.Reason.TRIGGER if evidence else ReleaseChange.Reason.SCALING,
            reference=f"scaling step #{step.pk} ({step.param} +{step.step_pct}%) rolled back: "
            f"{note}",
            by=by,
            now=now,
        )
        step.ended_at, step.trigger_evidence = now, evidence or {}

    with transaction.atomic():
        step = transition(step, "roll back", by=by, note=note, now=now, apply=apply)
        follow_live(step.bot)
    return step
