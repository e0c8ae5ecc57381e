"""The experiment lifecycle: draft → submitted → approved → running → review → decided, a keep
through keep_pending (in effect once a second Team lead confirms it), plus stopped-by-trigger
and withdrawn. Every move goes through experiments.lifecycle.transition (the mechanism scaling
steps share). Every service takes the clock (`now`, now if not given): the times it sets and its
audit rows carry it, so history can be built through the services."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from experiments import rules
from experiments.lifecycle import transition
from experiments.models import (
    DEFAULT_PRIMARY_KPIS,
    DEFAULT_SECONDARY_KPIS,
    MIN_HORIZON_DAYS,
    Experiment,
    ExperimentDecision,
)
from experiments.releases import approve_release, baseline_of, run_release, set_baseline
from experiments.same_bot import check_same_bot
from experiments.scorecard import build_scorecard
from experiments.shadows import follow_live
from kpis.registry import FIGURE_KEYS
from tradeops.audit import record_audit, require_note
from tradeops.models import ReleaseChange
from tradeops.roles import APPROVE_RELEASE, OPERATE_EXPERIMENT
from tradeops.scheduling import enqueue

Status = Experiment.Status
Reason = ReleaseChange.Reason
# By its dotted path: experiments.jobs imports the triggers, which import this module.
REFRESH_SCORECARDS_JOB = "experiments.jobs.refresh_scorecards"


def make_baseline(release, *, by, note, now=None):
    """A Team lead releases a different baseline by hand; the bot runs it from now on. Not
    while an experiment runs or a scaling step holds: they are measured against the baseline."""
    if not by.has_perm(APPROVE_RELEASE):
        raise PermissionDenied("only a Team lead changes the baseline")
    require_note(note)
    if release.bot.is_shadow:
        raise ValidationError(
            f"{release.bot} is a shadow: it runs {release.bot.shadow_of}'s baseline"
        )
    rules.refuse_if_experiment_running(release.bot, "change the baseline")
    rules.refuse_if_scaling_hold(release.bot, "change the baseline", now)
    with transaction.atomic():
        set_baseline(release, bot=release.bot, by=by, note=note, now=now)
        run_release(
            release, bot=release.bot, reason=Reason.BASELINE, reference=note, by=by, now=now
        )
        follow_live(release.bot)
    return release


def baseline_to_test_against(bot):
    baseline = baseline_of(bot)
    if baseline is None:
        raise ValidationError(f"{bot.slug} has no baseline release to test against")
    return baseline


def check_new_experiment(
    bot, candidate, min_horizon_days, baseline=None, prerequisite=None, iterated_from=None
):
    """What a new draft must satisfy; returns the baseline it is tested against (the bot's
    current one unless given). Its releases and the experiments it follows are all of `bot`:
    every restore runs the baseline on the experiment's bot."""
    if min_horizon_days < MIN_HORIZON_DAYS:
        raise ValidationError(f"the test horizon is at least {MIN_HORIZON_DAYS} trading days")
    if bot.is_shadow:
        raise ValidationError(
            {"bot": f"{bot} is a shadow: it runs {bot.shadow_of}'s experiments, none of its own"}
        )
    baseline = baseline or baseline_to_test_against(bot)
    check_same_bot(
        bot,
        baseline_release=baseline,
        candidate_release=candidate,
        prerequisite=prerequisite,
        iterated_from=iterated_from,
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
    now=None,
):
    now = now or timezone.now()
    baseline = check_new_experiment(
        bot, candidate, min_horizon_days, baseline, prerequisite, iterated_from
    )
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
            created_at=now,
        )
        record_audit(experiment, "created", actor=by, to_state=Status.DRAFT, at=now)
    return experiment


def edit_draft(experiment, *, by, changed, now=None):
    """Save edits to a draft, held to what a new draft must satisfy; once submitted, an
    experiment changes only by transitions.

    A draft stays on the bot it was drafted for, against the baseline it was drafted against:
    its baseline, lever and candidate were chosen for that bot, so "the same test on another
    bot" is a new draft there (against that bot's baseline), and this one is withdrawn."""
    if not by.has_perm(OPERATE_EXPERIMENT):
        raise PermissionDenied(f"{by} may not edit experiments")
    with transaction.atomic():
        stored = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if stored.status != Status.DRAFT:
            raise ValidationError(f"{stored.name} is {stored.status}: only a draft is edited")
        if experiment.bot_id != stored.bot_id:
            raise ValidationError(
                {
                    "bot": f"{stored.name} was drafted for {stored.bot} and stays on it: "
                    f"withdraw it and draft the test for {experiment.bot} against its baseline"
                }
            )
        if experiment.baseline_release_id != stored.baseline_release_id:
            raise ValidationError(
                {"baseline_release": "a draft keeps the baseline it was drafted against"}
            )
        check_new_experiment(
            stored.bot,
            experiment.candidate_release,
            experiment.min_horizon_days,
            stored.baseline_release,
            experiment.prerequisite,
            experiment.iterated_from,
        )
        experiment.save()
        record_audit(experiment, "edited", actor=by, note=f"changed {', '.join(changed)}", at=now)
    return experiment


def submit(experiment, *, by, note, now=None):
    def apply(exp, now):
        rules.check_one_change(exp.baseline_release, exp.candidate_release, exp.lever)
        if not exp.success_criteria.strip() or not exp.primary_kpis:
            raise ValidationError("define the primary KPIs and success criteria before submitting")
        unknown = sorted((set(exp.primary_kpis) | set(exp.secondary_kpis)) - set(FIGURE_KEYS))
        if unknown:
            raise ValidationError(
                f"unknown KPI(s) {', '.join(unknown)}; known: {', '.join(FIGURE_KEYS)}"
            )
        exp.submitted_by = by

    return transition(experiment, "submit", by=by, note=note, now=now, apply=apply)


def approve(experiment, *, by, note, now=None):
    """Team lead, not the submitter; the rollback thresholds are frozen onto the experiment.
    One approval: a candidate release not approved yet is approved with it, under the release's
    own four-eyes rule too (approve_release), each with its audit row."""

    def apply(exp, now):
        rules.check_one_change(exp.baseline_release, exp.candidate_release, exp.lever)
        if not exp.candidate_release.is_approved:
            approve_release(
                exp.candidate_release,
                by=by,
                note=f"with experiment {exp.name} (#{exp.pk}): {note}",
                now=now,
            )
        exp.approved_by, exp.approved_at = by, now
        exp.triggers = rules.frozen_triggers(exp.baseline_release, now, exp.triggers)

    return transition(experiment, "approve", by=by, note=note, now=now, apply=apply)


def start(experiment, *, by, note, now=None):
    """The candidate becomes the config the bot runs."""

    def apply(exp, now):
        rules.check_can_start(exp, now)
        exp.started_at = now
        run_release(
            exp.candidate_release,
            bot=exp.bot,
            reason=Reason.EXPERIMENT,
            reference=f"{exp.name} (#{exp.pk}) started",
            by=by,
            now=now,
        )

    with transaction.atomic():  # the shadow, if any, runs the baseline beside the candidate
        experiment = transition(experiment, "start", by=by, note=note, now=now, apply=apply)
        follow_live(experiment.bot)
    enqueue(REFRESH_SCORECARDS_JOB)  # the page has a scorecard from the first minutes on
    return experiment


def withdraw(experiment, *, by, note, now=None):
    def apply(exp, now):
        exp.ended_at = now

    return transition(experiment, "withdraw", by=by, note=note, now=now, apply=apply)


def send_to_review(experiment, *, by, note, now=None):
    experiment = transition(experiment, "review", by=by, note=note, now=now)
    enqueue(REFRESH_SCORECARDS_JOB)  # reviewed on the evidence as it stands now
    return experiment


def decide(experiment, *, decision, by, rationale, without_better=False, now=None):
    """Log the keep / rollback / iterate decision, with the scorecard computed now and stored as
    it was, with the decision and on the experiment. A keep whose scorecard does not say "better"
    is refused unless `without_better` says the one logging it knows (rules.check_keep_evidence).

    Rollback: the baseline runs again, at once (safety first). Iterate: the same, and a new
    draft starts from this one. Keep: logged only (keep_pending); the bot goes on running the
    candidate, watched by the rollback triggers, until a Team lead other than who logged it
    confirms it (`confirm_keep`), or a Team lead logs a rollback instead."""
    decision = Experiment.Decision(decision)
    follow_up = {}

    def log(exp, now, kept_without_better=False):
        exp.decision = decision
        ExperimentDecision.objects.create(
            experiment=exp,
            decision=decision,
            rationale=rationale,
            scorecard=exp.scorecard,
            kept_without_better=kept_without_better,
            decided_by=by,
            decided_at=now,
        )

    def score(exp, now):
        exp.scorecard, exp.scorecard_computed_at = build_scorecard(exp, now), now

    if decision == Experiment.Decision.KEEP:
        note = rationale
        if without_better:
            note = f"{rationale} [kept without a concurrent 'better' verdict]"

        def keep(exp, now):
            rules.check_horizon(exp, now)
            score(exp, now)
            rules.check_keep_evidence(exp.scorecard, without_better)
            log(exp, now, kept_without_better=without_better)
            exp.keep_logged_by = by

        experiment = transition(experiment, "keep", by=by, note=note, now=now, apply=keep)
        return experiment, None

    def apply(exp, now):
        run_release(
            exp.baseline_release,
            bot=exp.bot,
            reason=Reason.DECISION,
            reference=f"{exp.name} (#{exp.pk}): {decision.value}",
            by=by,
            now=now,
        )
        exp.ended_at = now
        score(exp, now)
        log(exp, now)
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
                now=now,
            )

    status = Experiment.objects.values_list("status", flat=True).get(pk=experiment.pk)
    pending = status == Status.KEEP_PENDING and decision == Experiment.Decision.ROLLBACK
    move = "roll back keep" if pending else "decide"
    with transaction.atomic():
        experiment = transition(experiment, move, by=by, note=rationale, now=now, apply=apply)
        follow_live(experiment.bot)
    return experiment, follow_up.get("draft")


def confirm_keep(experiment, *, by, note, now=None):
    """A Team lead other than who logged the keep confirms it: the candidate becomes the
    baseline, for good, and the bot is told it now runs it as the baseline."""

    def apply(exp, now):
        set_baseline(exp.candidate_release, bot=exp.bot, by=by, note=f"kept: {exp.name}", now=now)
        run_release(
            exp.candidate_release,
            bot=exp.bot,
            reason=Reason.DECISION,
            reference=f"{exp.name} (#{exp.pk}): keep confirmed",
            by=by,
            now=now,
        )
        exp.ended_at = now
        exp.keep_confirmed_by, exp.keep_confirmed_at = by, now

    with transaction.atomic():
        experiment = transition(experiment, "confirm keep", by=by, note=note, now=now, apply=apply)
        follow_live(experiment.bot)
    return experiment


def _fired(evidence):
    """The triggers that fired, as the bot and the team read the change: "halt, safety_events"."""
    names = [fired["trigger"] for fired in evidence.get("fired", [])]
    return f"trigger {', '.join(names)}" if names else "a rollback trigger"


def stop_by_trigger(experiment, *, evidence, actor="rollback trigger", now=None):
    """A hard trigger fired: stop, put the baseline back as the running config, keep evidence."""

    def apply(exp, now):
        exp.ended_at, exp.trigger_evidence = now, evidence
        if exp.status == Status.KEEP_PENDING:  # the logged keep never took effect
            exp.decision = ""
        run_release(
            exp.baseline_release,
            bot=exp.bot,
            reason=Reason.TRIGGER,
            reference=f"{_fired(evidence)} stopped {exp.name} (#{exp.pk})",
            by=actor,
            now=now,
        )

    with transaction.atomic():
        experiment = transition(
            experiment,
            "stop",
            by=actor,
            note=evidence.get("summary", "rollback trigger fired"),
            now=now,
            apply=apply,
        )
        follow_live(experiment.bot)
    return experiment
