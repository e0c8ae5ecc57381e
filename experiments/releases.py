"""Config releases: drafts copied from a release with edits, four-eyes approval, the bot's
current baseline and stabilization freezes. An approved release is never edited; a change is a
new release. Every service takes the clock (`now`, now if not given) for its audit row."""

import datetime
import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from experiments.lifecycle import LIFECYCLES, four_eyes_refusal, may_make
from experiments.params import validate_params
from experiments.same_bot import check_same_bot
from integrity.push import queue_release_push
from tradeops.audit import record_audit
from tradeops.models import Bot, ConfigRelease, ReleaseChange, StabilizationWindow
from tradeops.roles import APPROVE_RELEASE


def check_tag_free(bot, tag):
    """A release tag names one release of a bot (also a database constraint)."""
    if ConfigRelease.objects.filter(bot=bot, tag=tag).exists():
        raise ValidationError({"tag": f"{bot} already has a release {tag}"})


def create_release(*, based_on, changes, tag, by, git_commit="", notes="", now=None, bot=None):
    """A new draft release: `based_on`'s params with `changes` applied (None removes a key); a
    bot's first release has no `based_on` (give its `bot`) and `changes` are all its params.
    A refusal names the param (a ValidationError keyed by it) or the tag."""
    bot = based_on.bot if based_on else bot
    if bot.is_shadow:
        # Its config is its live bot's (experiments.shadows): a release of its own would make it
        # run something else than the control the scorecard says it runs.
        raise ValidationError(
            f"{bot} is a shadow: it runs {bot.shadow_of}'s releases, none of its own"
        )
    params = dict(based_on.params) if based_on else {}
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    validate_params(params)
    check_tag_free(bot, tag)
    now = now or timezone.now()
    with transaction.atomic():
        version = (ConfigRelease.objects.filter(bot=bot).aggregate(v=Max("version"))["v"] or 0) + 1
        release = ConfigRelease.objects.create(
            bot=bot,
            version=version,
            tag=tag,
            git_commit=git_commit,
            params=params,
            notes=notes,
            created_by=by,
            created_at=now,
        )
        record_audit(
            release,
            "created",
            actor=by,
            to_state="draft",
            note=notes,
            data={"based_on": based_on.tag if based_on else None, "changes": changes},
            at=now,
        )
    return release


EDITABLE_FIELDS = ("tag", "git_commit", "params", "notes")


def _spelled(value):
    return json.dumps(value, sort_keys=True)


def _edits(stored, changes):
    """{field: [old, new]} for what `changes` changes, params key by key as "params.<key>"
    (None = absent). Spelling counts: the audit shows exactly what was stored before and after.
    """
    edits = {}
    for field, new in changes.items():
        old = getattr(stored, field)
        if field == "params":
            edits.update(
                {
                    f"params.{key}": [old.get(key), new.get(key)]
                    for key in sorted(set(old) | set(new))
                    if key not in old or key not in new or _spelled(old[key]) != _spelled(new[key])
                }
            )
        elif _spelled(old) != _spelled(new):
            edits[field] = [old, new]
    return edits


def edit_release(release, *, changes, by, now=None):
    """Save `changes` ({field: new value}) to a draft's tag, git commit, params or notes, or to
    an approved release's notes (what was approved never changes: ConfigRelease.save refuses).

    The edit is audited as "edited" with {field: [old, new]}; on a draft the editor becomes its
    last editor, and approve_release keeps every editor of a draft from approving it.
    """
    fixed = sorted(set(changes) - set(EDITABLE_FIELDS))
    if fixed:
        raise ValidationError(f"{', '.join(fixed)} cannot be edited")
    with transaction.atomic():
        stored = ConfigRelease.objects.select_for_update().get(pk=release.pk)
        edits = _edits(stored, changes)
        if not edits:
            return stored
        if "params" in changes:
            validate_params(changes["params"])
        if changes.get("tag", stored.tag) != stored.tag:
            check_tag_free(stored.bot, changes["tag"])
        for field, value in changes.items():
            setattr(stored, field, value)
        if not stored.is_approved:
            stored.last_edited_by = by
        stored.save(update_fields=[*changes, "last_edited_by"])
        record_audit(stored, "edited", actor=by, data=edits, at=now)
    return stored


def approve_release(release, *, by, note="", now=None):
    """Team lead approval; after it the release is immutable.

    Four-eyes (the lifecycle table's "approve" move of a release): nobody approves a release
    they wrote any of, not its creator and not anyone who edited the draft
    (ConfigRelease.was_edited_by: the last editor, and any before them).
    """
    if not may_make(LIFECYCLES[ConfigRelease].moves["approve"], by):
        raise PermissionDenied("only a Team lead approves releases")
    with transaction.atomic():
        current = ConfigRelease.objects.select_for_update().get(pk=release.pk)
        if current.is_approved:
            raise ValidationError(f"release {current.tag} is already approved")
        refused = four_eyes_refusal(current, "approve", by)
        if refused:
            raise ValidationError(refused)
        validate_params(current.params)
        now = now or timezone.now()
        current.approved_by, current.approved_at = by, now
        current.save(update_fields=["approved_by", "approved_at"])
        record_audit(
            current,
            "approved",
            actor=by,
            from_state="draft",
            to_state="approved",
            note=note,
            at=now,
        )
    release.refresh_from_db()
    return release


def baseline_of(bot):
    """The bot's current baseline release, or None."""
    return ConfigRelease.objects.filter(bot=bot, is_baseline=True).first()


def run_release(release, *, bot, reason, reference, by, now=None):
    """Make `release` the config `bot` should run now (Bot.current_release), and record why:
    `reason` (a ReleaseChange.Reason), `reference` naming the experiment, trigger or scaling step,
    `by` a user or the name of the job or trigger. The only place the current release changes;
    every call is a change the bot is told of (a new ETag, and a push to its webhook if it has
    one), also when the release stays and only the why changes (a kept candidate becomes the
    baseline). The caller names the bot it acts on (an experiment's, a step's): a release of
    another bot is refused, never run on the bot it belongs to instead."""
    check_same_bot(bot, release=release)
    now = now or timezone.now()
    with transaction.atomic():
        change = ReleaseChange.objects.create(
            bot=bot,
            release=release,
            reason=reason,
            reference=reference[:300],
            at=now,
            by=str(by),
        )
        Bot.objects.filter(pk=bot.pk).update(current_release=release, current_change=change)
        queue_release_push(change, now)
    return change


def active_freeze(bot, at=None):
    """The stabilization window in force for `bot` now (or at `at`), if any."""
    at = at or timezone.now()
    candidates = StabilizationWindow.objects.filter(bot=bot, starts_at__lte=at, ends_at__gt=at)
    return next((window for window in candidates if window.is_active(at)), None)


def refuse_if_frozen(bot, what, now=None):
    freeze = active_freeze(bot, now)
    if freeze is not None:
        raise ValidationError(
            f"{bot.slug} is in a stabilization freeze until {freeze.ends_at:%Y-%m-%d %H:%M} UTC: "
            f"cannot {what}"
        )


def freeze_config(bot, *, days, reason, by, now=None):
    """The plan's stabilization window: the lead freezes the current config for `days` days."""
    if not by.has_perm(APPROVE_RELEASE):
        raise PermissionDenied("only a Team lead freezes the config")
    now = now or timezone.now()
    with transaction.atomic():
        window = StabilizationWindow.objects.create(
            bot=bot,
            starts_at=now,
            ends_at=now + datetime.timedelta(days=days),
            reason=reason,
            created_by=by,
        )
        record_audit(window, "frozen", actor=by, to_state="frozen", note=reason, at=now)
    return window


def end_freeze(window, *, by, note, now=None):
    """The lead ends a stabilization window early (its exit criteria met, or a reason noted)."""
    if not by.has_perm(APPROVE_RELEASE):
        raise PermissionDenied("only a Team lead ends a freeze")
    now = now or timezone.now()
    if not window.is_active(now):
        raise ValidationError(f"{window} is not in force")
    with transaction.atomic():
        window.ended_early_at = now
        window.save(update_fields=["ended_early_at"])
        record_audit(
            window,
            "ended early",
            actor=by,
            from_state="frozen",
            to_state="ended",
            note=note,
            at=now,
        )
    return window


def set_baseline(release, *, bot, by, note, check_freeze=True, now=None):
    """Make `release` the current baseline of `bot` (the config it should run); a release of
    another bot is refused.

    `check_freeze=False` only for a rollback trigger: restoring the baseline is always allowed.
    """
    check_same_bot(bot, release=release)
    if not release.is_approved:
        raise ValidationError(f"release {release.tag} is not approved")
    if check_freeze:
        refuse_if_frozen(bot, "change the current release", now)
    with transaction.atomic():
        previous = (
            ConfigRelease.objects.select_for_update().filter(bot=bot, is_baseline=True).first()
        )
        if previous == release:
            return release
        if previous is not None:
            ConfigRelease.objects.filter(pk=previous.pk).update(is_baseline=False)
        ConfigRelease.objects.filter(pk=release.pk).update(is_baseline=True)
        release.is_baseline = True
        record_audit(
            release,
            "baseline",
            actor=by,
            from_state=previous.tag if previous else "",
            to_state=release.tag,
            note=note,
            at=now,
        )
    return release
