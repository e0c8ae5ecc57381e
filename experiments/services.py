"""The experiment lifecycle: draft → submitted → approved → running → review → decided, plus
stopped-by-trigger. Every transition goes through `_transition`: it checks the state, the
permission and the note, applies the change and writes the audit row in one transaction."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from experiments import rules
from experiments.models import (
    DEFAULT_PRIMARY_KPIS,
    DEFAULT_SECONDARY_KPIS,
    MIN_HORIZON_DAYS,
    Experiment,
    ExperimentDecision,
)
from experiments.releases import baseline_of, run_release, set_baseline
from experiments.scorecard import build_scorecard
from kpis.services import FIGURE_KEYS, compute_kpis
from tradeops.audit import record_audit, require_note

Status = Experiment.Status
# The baseline the avg-loss trigger compares with: the baseline release's last 30 days.
BASELINE_DAYS = 30
OPERATE = "experiments.change_experiment"
APPROVE = "experiments.approve_experiment"

# action: (from statuses, to status, permission needed)
TRANSITIONS = {
    "submit": ((Status.DRAFT,), Status.SUBMITTED, OPERATE),
    "approve": ((Status.SUBMITTED,), Status.APPROVED, APPROVE),
    "start": ((Status.APPROVED,), Status.RUNNING, OPERATE),
    "review": ((Status.RUNNING,), Status.REVIEW, OPERATE),
    "decide": ((Status.REVIEW,), Status.DECIDED, OPERATE),
    "stop": ((Status.RUNNING,), Status.STOPPED, None),  # a rollback trigger, never a person
    # Before it runs, a queued experiment can be withdrawn (e.g. its baseline was replaced).
    "withdraw": ((Status.DRAFT, Status.SUBMITTED, Status.APPROVED), Status.WITHDRAWN, OPERATE),
}


def default_triggers():
    """The plan's hard rollback triggers; copied onto an experiment when it is approved."""
    return {
        "daily_loss_pct": -3.0,
        "daily_loss_consecutive_days": 2,
        "avg_loss_deterioration": 0.40,
        "safety_events": 3,
    }


def frozen_triggers(baseline_release, overrides=None):
    """The thresholds a change is held to, with the baseline's avg loss/trade of its last 30
    days as the figure the avg-loss trigger compares with."""
    figures = compute_kpis(
        baseline_release.bot, BASELINE_DAYS, timezone.now().date(), release=baseline_release
    ).figures
    return (
        default_triggers()
        | (overrides or {})
        | {"baseline_avg_loss": figures["avg_loss_per_trade"]}
    )


def make_baseline(release, *, by, note):
    """A Team lead releases a different baseline by hand; the bot runs it from now on. Not
    while an experiment runs or a scaling step holds: they are measured against the baseline."""
    if not by.has_perm("tradeops.approve_configrelease"):
        raise PermissionDenied("only a Team lead changes the baseline")
    require_note(note)
    rules.refuse_if_experiment_running(release.bot, "change the baseline")
    rules.refuse_if_scaling_hold(release.bot, "change the baseline")
    with transaction.atomic():
        set_baseline(release, by=by, note=note)
        run_release(release)
    return release


def baseline_to_test_against(bot):
    baseline = baseline_of(bot)
    if baseline is None:
        raise ValidationError(f"{bot.slug} has no baseline release to test against")
    return baseline


def check_new_experiment(bot, candidate, min_horizon_days, baseline=None):
    """What a new draft must satisfy; returns the baseline it is tested against (the bot's
    current one unless given)."""
    if min_horizon_days < MIN_HORIZON_DAYS:
        raise ValidationError(f"the test horizon is at least {MIN_HORIZON_DAYS} trading days")
    baseline = baseline or baseline_to_test_against(bot)
    if candidate.bot_id != bot.pk:
        raise ValidationError(
            f"candidate {candidate.tag} is a release of {candidate.bot}, not {bot}"
        )
    return baseline


def create_experiment(
    *,
    bot,
    name,
    lever,
    candidate,
    success_criteria,
    by,
    rationale="",
    baseline=None,
    prerequisite=None,
    min_horizon_days=MIN_HORIZON_DAYS,
    primary_kpis=DEFAULT_PRIMARY_KPIS,
    secondary_kpis=DEFAULT_SECONDARY_KPIS,
    plan_key="",
    iterated_from=None,
):
    baseline = check_new_experiment(bot, candidate, min_horizon_days, baseline)
    with transaction.atomic():
        experiment = Experiment.objects.create(
            bot=bot,
            name=name,
            lever=lever,
            baseline_release=baseline,
            candidate_release=candidate,
            success_criteria=success_criteria,
            rationale=rationale,
            prerequisite=prerequisite,
            min_horizon_days=min_horizon_days,
            primary_kpis=list(primary_kpis),
            secondary_kpis=list(secondary_kpis),
            plan_key=plan_key,
            iterated_from=iterated_from,
            created_by=by,
        )
        record_audit(experiment, "created", actor=by, to_state=Status.DRAFT)
    return experiment


def edit_draft(experiment, *, by, changed):
    """Save edits to a draft; once submitted, an experiment changes only by transitions."""
    if not by.has_perm(OPERATE):
        raise PermissionDenied(f"{by} may not edit experiments")
    stored = Experiment.objects.get(pk=experiment.pk)
    if stored.status != Status.DRAFT:
        raise ValidationError(f"{stored.name} is {stored.status}: only a draft is edited")
    with transaction.atomic():
        experiment.save()
        record_audit(experiment, "edited", actor=by, note=f"changed {', '.join(changed)}")
    return experiment


def _transition(experiment, action, *, by, note, apply=None):
    sources, target, permission = TRANSITIONS[action]
    if permission and not by.has_perm(permission):
        raise PermissionDenied(f"{by} may not {action} experiments")
    if permission:
        require_note(note, action)
    try:
        with transaction.atomic():
            current = Experiment.objects.select_for_update().get(pk=experiment.pk)
            if current.status not in sources:
                raise ValidationError(
                    f"cannot {action} {current.name}: it is {current.status}, not "
                    f"{' or '.join(sources)}"
                )
            if apply:
                apply(current)
            current_status, current.status = current.status, target
            current.save()
            record_audit(
                current, action, actor=by, from_state=current_status, to_state=target, note=note
            )
    except IntegrityError as exc:
        if "one_running_experiment_per_bot" in str(exc):
            raise ValidationError(
                f"another experiment is already running for {experiment.bot.slug}"
            ) from None
        raise
    experiment.refresh_from_db()
    return experiment


def submit(experiment, *, by, note):
    def apply(exp):
        rules.check_one_change(exp.baseline_release, exp.candidate_release, exp.lever)
        if not exp.success_criteria.strip() or not exp.primary_kpis:
            raise ValidationError("define the primary KPIs and success criteria before submitting")
        unknown = sorted((set(exp.primary_kpis) | set(exp.secondary_kpis)) - set(FIGURE_KEYS))
        if unknown:
            raise ValidationError(
                f"unknown KPI(s) {', '.join(unknown)}; known: {', '.join(FIGURE_KEYS)}"
            )
        exp.submitted_by = by

    return _transition(experiment, "submit", by=by, note=note, apply=apply)


def approve(experiment, *, by, note):
    """Team lead, not the submitter; the rollback thresholds are frozen onto the experiment."""

    def apply(exp):
        if exp.submitted_by_id == by.pk:
            raise ValidationError(f"four-eyes: {by} submitted {exp.name} and cannot approve it")
        rules.check_one_change(exp.baseline_release, exp.candidate_release, exp.lever)
        exp.approved_by, exp.approved_at = by, timezone.now()
        exp.triggers = frozen_triggers(exp.baseline_release, exp.triggers)

    return _transition(experiment, "approve", by=by, note=note, apply=apply)


def start(experiment, *, by, note):
    """The candidate becomes the config the bot runs."""

    def apply(exp):
        rules.check_can_start(exp)
        exp.started_at = timezone.now()
        run_release(exp.candidate_release)

    return _transition(experiment, "start", by=by, note=note, apply=apply)


def withdraw(experiment, *, by, note):
    def apply(exp):
        exp.ended_at = timezone.now()

    return _transition(experiment, "withdraw", by=by, note=note, apply=apply)


def send_to_review(experiment, *, by, note):
    return _transition(experiment, "review", by=by, note=note)


def decide(experiment, *, decision, by, rationale):
    """Keep: the candidate becomes the baseline. Rollback: the baseline runs again. Iterate: the
    baseline runs again and a new draft starts from this one. The scorecard is stored as it was
    when the decision was made."""
    decision = Experiment.Decision(decision)
    follow_up = {}

    def apply(exp):
        if decision == Experiment.Decision.KEEP:
            rules.check_horizon(exp)
            set_baseline(exp.candidate_release, by=by, note=f"kept: {exp.name}")
            current = exp.candidate_release
        else:
            current = exp.baseline_release
        run_release(current)
        exp.decision, exp.ended_at = decision, timezone.now()
        ExperimentDecision.objects.create(
            experiment=exp,
            decision=decision,
            rationale=rationale,
            scorecard=build_scorecard(exp, timezone.now()),
            decided_by=by,
        )
        if decision == Experiment.Decision.ITERATE:
            follow_up["draft"] = create_experiment(
                bot=exp.bot,
                name=f"{exp.name} (iteration)",
                lever=exp.lever,
                baseline=exp.baseline_release,
                candidate=exp.candidate_release,
                success_criteria=exp.success_criteria,
                rationale=exp.rationale,
                prerequisite=exp.prerequisite,
                plan_key=exp.plan_key,
                iterated_from=exp,
                min_horizon_days=exp.min_horizon_days,
                primary_kpis=exp.primary_kpis,
                secondary_kpis=exp.secondary_kpis,
                by=by,
            )

    experiment = _transition(experiment, "decide", by=by, note=rationale, apply=apply)
    return experiment, follow_up.get("draft")


def stop_by_trigger(experiment, *, evidence, actor="rollback trigger"):
    """A hard trigger fired: stop, put the baseline back as the running config, keep evidence."""

    def apply(exp):
        exp.ended_at, exp.trigger_evidence = timezone.now(), evidence
        run_release(exp.baseline_release)

    return _transition(
        experiment,
        "stop",
        by=actor,
        note=evidence.get("summary", "rollback trigger fired"),
        apply=apply,
    )
