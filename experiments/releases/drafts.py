"""A release's first steps: a draft copied from a release with edits, edits to the draft, and the
team lead's four-eyes approval. An approved release is never edited; a change is a new release.
Every service takes the clock (`now`, now if not given) for its audit row."""

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from experiments.lifecycle import LIFECYCLES, four_eyes_refusal, may_make
from experiments.params import validate_params
from tradeops.audit import record_audit
from tradeops.models import ConfigRelease


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
