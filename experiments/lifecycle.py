"""One lifecycle mechanism for the changes the bot runs under watch: experiments and risk
scaling steps, and the four eyes on config releases. Each has a table of moves (from which
states, to which, who may make it, who of those may not: four eyes), and `transition` makes a
move the same way for experiments and steps: who may, a note,
the row lock, the from-state, four eyes, the move's own rules and effects, the new state and its
audit row, in one transaction. The admin offers a person the moves `open_moves` lists."""

from collections.abc import Callable
from typing import NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from experiments.models import LIVE, Experiment, ScalingStep
from tradeops.audit import person, record_audit, require_note
from tradeops.models import ConfigRelease
from tradeops.roles import (
    APPROVE_EXPERIMENT,
    APPROVE_RELEASE,
    APPROVE_SCALING,
    OPERATE_EXPERIMENT,
    ROLL_BACK_SCALING,
)


class Move(NamedTuple):
    sources: tuple
    target: str
    permission: str | None  # what a person needs to make it; None: no person makes it
    by_job: bool = False  # a job or trigger (an actor named by a string) makes it too
    # Four eyes: pairs of (who did something, what they did to `{label}`); none of them may make
    # the move. "Who" is a field naming a person (a ForeignKey to the user) or a method of the
    # model asked `method(user)` where one field cannot hold them all (a release's editors).
    # experiments.checks checks every name against its model.
    not_by: tuple = ()


class Lifecycle(NamedTuple):
    noun: str
    moves: dict
    label: Callable  # how a refusal names the object
    one_live: tuple  # (the constraint allowing one live per bot, the refusal when it fires)


Status = Experiment.Status
Step = ScalingStep.Status
LIFECYCLES = {
    Experiment: Lifecycle(
        noun="experiments",
        moves={
            "submit": Move((Status.DRAFT,), Status.SUBMITTED, OPERATE_EXPERIMENT),
            "approve": Move(
                (Status.SUBMITTED,),
                Status.APPROVED,
                APPROVE_EXPERIMENT,
                not_by=(("submitted_by", "submitted {label} and cannot approve it"),),
            ),
            "start": Move((Status.APPROVED,), Status.RUNNING, OPERATE_EXPERIMENT),
            "review": Move((Status.RUNNING,), Status.REVIEW, OPERATE_EXPERIMENT),
            # Rollback or iterate: in effect at once, safety first.
            "decide": Move((Status.REVIEW,), Status.DECIDED, OPERATE_EXPERIMENT),
            # A keep raises exposure for good: logged, then in effect once a Team lead other
            # than who logged it confirms it; meanwhile a Team lead may roll back instead.
            "keep": Move((Status.REVIEW,), Status.KEEP_PENDING, OPERATE_EXPERIMENT),
            "confirm keep": Move(
                (Status.KEEP_PENDING,),
                Status.DECIDED,
                APPROVE_EXPERIMENT,
                not_by=(
                    ("keep_logged_by", "logged the keep of {label}: another Team lead confirms it"),
                ),
            ),
            "roll back keep": Move((Status.KEEP_PENDING,), Status.DECIDED, APPROVE_EXPERIMENT),
            # Whenever the candidate runs, a rollback trigger stops it.
            "stop": Move(LIVE, Status.STOPPED, None, by_job=True),
            # Before it runs, a queued experiment can be withdrawn (its baseline was replaced).
            "withdraw": Move(
                (Status.DRAFT, Status.SUBMITTED, Status.APPROVED),
                Status.WITHDRAWN,
                OPERATE_EXPERIMENT,
            ),
        },
        label=lambda experiment: experiment.name,
        one_live=(
            "one_live_experiment_per_bot",
            "another experiment is already running (or in review, or awaiting its keep's "
            "confirmation)",
        ),
    ),
    ScalingStep: Lifecycle(
        noun="scaling steps",
        moves={
            "approve": Move(
                (Step.PROPOSED,),
                Step.HOLDING,
                APPROVE_SCALING,
                not_by=(("proposed_by", "proposed {label} and cannot approve it"),),
            ),
            "complete": Move((Step.HOLDING,), Step.COMPLETED, None, by_job=True),
            # A person or a rollback trigger; always allowed, freeze or not.
            "roll back": Move((Step.HOLDING,), Step.ROLLED_BACK, ROLL_BACK_SCALING, by_job=True),
        },
        label=lambda step: f"scaling step {step.param} +{step.step_pct}%",
        one_live=("one_scaling_step_at_a_time", "another scaling step is holding"),
    ),
    # A release has no states beyond draft and approved (approved_at); experiments.releases
    # approves it and asks this table who may, and who of those may not.
    ConfigRelease: Lifecycle(
        noun="releases",
        moves={
            "approve": Move(
                ("draft",),
                "approved",
                APPROVE_RELEASE,
                not_by=(
                    ("created_by", "created {label} and cannot approve it"),
                    ("was_edited_by", "edited {label} and cannot approve it"),
                ),
            ),
        },
        label=lambda release: f"release {release.tag}",
        one_live=(),
    ),
}


def may_make(move, actor):
    """A person by the move's permission; a job or trigger only where the table says so."""
    user = person(actor)
    if user is None:
        return move.by_job
    return move.permission is not None and user.has_perm(move.permission)


def four_eyes_refusal(obj, name, actor):
    """Why `actor` may not make move `name` of `obj`, having made the step before it; or None."""
    lifecycle, user = LIFECYCLES[type(obj)], person(actor)
    if user is None:
        return None
    for who, done in lifecycle.moves[name].not_by:
        if did(obj, who, user):
            return f"four-eyes: {user} {done.format(label=lifecycle.label(obj))}"
    return None


def did(obj, who, user):
    """Whether `user` is the person `who` names on `obj`: a field naming a person, or a method."""
    if callable(getattr(type(obj), who, None)):
        return getattr(obj, who)(user)
    return getattr(obj, f"{who}_id") == user.pk


def state_refusal(obj, name):
    """Why move `name` cannot start from `obj`'s state; None if it can."""
    lifecycle = LIFECYCLES[type(obj)]
    move = lifecycle.moves[name]
    if obj.status in move.sources:
        return None
    return (
        f"cannot {name} {lifecycle.label(obj)}: it is {obj.status}, not {' or '.join(move.sources)}"
    )


def _live_states(model):
    return {Experiment: LIVE, ScalingStep: (Step.HOLDING,)}.get(model, ())


def one_live_refusal(obj, name):
    """Why move `name` would make `obj` a second live change of its bot (the database refuses
    it too: the lifecycle's one-live constraint); None if it would not."""
    lifecycle = LIFECYCLES[type(obj)]
    live = _live_states(type(obj))
    if lifecycle.moves[name].target not in live or obj.status in live:
        return None
    others = type(obj).objects.filter(bot=obj.bot_id, status__in=live).exclude(pk=obj.pk)
    return f"{lifecycle.one_live[1]} for {obj.bot.slug}" if others.exists() else None


def _own_rules(obj, name):
    """The move's own rules its service checks (the `apply` of experiments.services), where they
    can be asked before the move: `check(obj, now)` raising the service's ValidationError."""
    from experiments import rules  # rules imports releases, which imports this module

    return {(Experiment, "start"): rules.check_can_start}.get((type(obj), name))


def move_refusal(obj, name, actor, now=None):
    """Why `actor` cannot make move `name` of `obj` now, in the services' words; None if the
    move can succeed. Asked before anyone types a note: the admin offers only such moves."""
    lifecycle = LIFECYCLES[type(obj)]
    if not may_make(lifecycle.moves[name], actor):
        return f"{actor} may not {name} {lifecycle.noun}"
    refused = (
        state_refusal(obj, name)
        or four_eyes_refusal(obj, name, actor)
        or one_live_refusal(obj, name)
    )
    check = _own_rules(obj, name)
    if refused or check is None:
        return refused
    try:
        check(obj, now or timezone.now())
    except ValidationError as exc:
        return "; ".join(exc.messages)
    return None


def open_moves(obj, user):
    """The moves `user` may make on `obj` as it stands and that would succeed now (the admin's
    buttons)."""
    return [name for name in LIFECYCLES[type(obj)].moves if move_refusal(obj, name, user) is None]


def blocked_moves(obj, user):
    """[(move, why not now)] of the moves `user` may make from `obj`'s state but that would be
    refused now (the admin's disabled buttons, with their reason)."""
    moves = LIFECYCLES[type(obj)].moves
    return [
        (name, refused)
        for name, move in moves.items()
        if obj.status in move.sources
        and may_make(move, user)
        and (refused := move_refusal(obj, name, user)) is not None
    ]


def transition(obj, name, *, by, note, now=None, apply=None):
    """Make move `name` of `obj` at `now` (the clock; now if not given), by a person or a job.

    `apply(locked, now)` runs the move's own rules and effects on the locked row before the
    state changes; its ValidationError refuses the move and nothing of it is kept. Returns
    `obj` as stored after the move."""
    lifecycle = LIFECYCLES[type(obj)]
    move = lifecycle.moves[name]
    now = now or timezone.now()
    if not may_make(move, by):
        raise PermissionDenied(f"{by} may not {name} {lifecycle.noun}")
    require_note(note, name)
    try:
        with transaction.atomic():
            current = type(obj).objects.select_for_update().get(pk=obj.pk)
            refused = state_refusal(current, name) or four_eyes_refusal(current, name, by)
            if refused:
                raise ValidationError(refused)
            if apply:
                apply(current, now)
            before, current.status = current.status, move.target
            current.save()
            record_audit(
                current, name, actor=by, from_state=before, to_state=move.target, note=note, at=now
            )
    except IntegrityError as exc:
        constraint, refusal = lifecycle.one_live
        if constraint in str(exc):
            raise ValidationError(f"{refusal} for {obj.bot.slug}") from None
        raise
    obj.refresh_from_db()
    return obj
