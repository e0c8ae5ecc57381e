"""Config releases: drafts copied from a release with edits, diffs, four-eyes approval and the
bot's current baseline. An approved release is never edited; a change is a new release."""

import datetime
import json
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from tradeops.audit import history, record_audit
from tradeops.models import Bot, ConfigRelease, ParamSpec, StabilizationWindow

APPROVE_PERMISSION = "tradeops.approve_configrelease"


def _decimal(value):
    """A decimal param's value as a number, or None if it is not one: written as a string
    ("0.35") or a whole number (0), never a bool or a float, and finite."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _typed(spec, value):
    """The value as the spec's type, or ValidationError naming the key. No silent coercion:
    "18" for an int param is a different value from 18 (and changing only the type is a change).
    """
    key = spec.key
    if spec.value_type == ParamSpec.ValueType.BOOL:
        if not isinstance(value, bool):
            raise ValidationError({key: f"{key}: expected true or false, got {value!r}"})
        return value
    if spec.value_type == ParamSpec.ValueType.STR:
        if not isinstance(value, str):
            raise ValidationError({key: f"{key}: expected a string, got {value!r}"})
        return value
    if spec.value_type == ParamSpec.ValueType.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError({key: f"{key}: expected a whole number, got {value!r}"})
        number = Decimal(value)
    else:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError({key: f"{key}: expected a decimal string, got {value!r}"})
        number = _decimal(value)
        if number is None:
            raise ValidationError({key: f"{key}: not a decimal: {value!r}"})
    if spec.min_value is not None and number < spec.min_value:
        raise ValidationError({key: f"{key}: {value} is below the minimum {spec.min_value}"})
    if spec.max_value is not None and number > spec.max_value:
        raise ValidationError({key: f"{key}: {value} is above the maximum {spec.max_value}"})
    return value


def validate_params(params):
    """Every key must be a known ParamSpec with a value of its type within its bounds."""
    if not isinstance(params, dict):
        raise ValidationError("params must be an object of key: value")
    specs = {spec.key: spec for spec in ParamSpec.objects.filter(key__in=params)}
    unknown = sorted(set(params) - set(specs))
    if unknown:
        raise ValidationError(f"unknown parameter(s) {', '.join(unknown)}: add a ParamSpec first")
    errors = {}
    for key, value in params.items():
        try:
            _typed(specs[key], value)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


def same_value(value_type, old, new):
    """Whether two param values are the same value for the param's type (ParamSpec.value_type):

    - decimal: the same number however it is written: "0.3", "0.30" and "0.300" are one value,
      and so are 5, "5" and "5.0" (a whole decimal may be written as a JSON number);
    - int, bool and str: the same JSON value of the same type. An int param's 18 and "18"
      differ: "18" is not a whole number, and a change of type only is still a change (which
      the one-change rule then refuses as no lever); true and 1 differ likewise;
    - a key without a ParamSpec (value_type None), or a value its type does not allow: the same
      JSON value of the same type.

    The one comparison behind the one-change rule, the release diff and the compare page.
    """
    if value_type == ParamSpec.ValueType.DECIMAL:
        old_number, new_number = _decimal(old), _decimal(new)
        if old_number is not None and new_number is not None:
            return old_number == new_number
    return type(old) is type(new) and old == new


def diff_params(old, new):
    """{key: (old value, new value)} for keys changed, added (old None) or removed (new None).
    Values compare by `same_value` for the key's type: a respelled decimal is no change."""
    keys = sorted(set(old) | set(new))
    value_types = dict(ParamSpec.objects.filter(key__in=keys).values_list("key", "value_type"))
    return {
        key: (old.get(key), new.get(key))
        for key in keys
        if key not in old
        or key not in new
        or not same_value(value_types.get(key), old[key], new[key])
    }


def compare_params(old, new):
    """Every key of two releases side by side: [(key, category, old value, new value, changed)]."""
    changed = diff_params(old, new)
    categories = dict(ParamSpec.objects.values_list("key", "category"))
    return [
        (key, categories.get(key, "unknown"), old.get(key), new.get(key), key in changed)
        for key in sorted(set(old) | set(new))
    ]


def check_tag_free(bot, tag):
    """A release tag names one release of a bot (also a database constraint)."""
    if ConfigRelease.objects.filter(bot=bot, tag=tag).exists():
        raise ValidationError({"tag": f"{bot} already has a release {tag}"})


def create_release(*, based_on, changes, tag, by, git_commit="", notes=""):
    """A new draft release: `based_on`'s params with `changes` applied (None removes a key)."""
    params = dict(based_on.params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    validate_params(params)
    check_tag_free(based_on.bot, tag)
    with transaction.atomic():
        version = (
            ConfigRelease.objects.filter(bot=based_on.bot).aggregate(v=Max("version"))["v"] or 0
        ) + 1
        release = ConfigRelease.objects.create(
            bot=based_on.bot,
            version=version,
            tag=tag,
            git_commit=git_commit,
            params=params,
            notes=notes,
            created_by=by,
        )
        record_audit(
            release,
            "created",
            actor=by,
            to_state="draft",
            note=notes,
            data={"based_on": based_on.tag, "changes": changes},
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


def edit_release(release, *, changes, by):
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
        record_audit(stored, "edited", actor=by, data=edits)
    return stored


def approve_release(release, *, by, note=""):
    """Team lead approval; after it the release is immutable.

    Four-eyes: nobody approves a release they wrote any of, not its creator and not anyone who
    edited the draft (read from its "edited" audit rows: the last editor, and any before them,
    so a later trivial edit by someone else does not clear an earlier change).
    """
    if not by.has_perm(APPROVE_PERMISSION):
        raise PermissionDenied("only a Team lead approves releases")
    with transaction.atomic():
        current = ConfigRelease.objects.select_for_update().get(pk=release.pk)
        if current.is_approved:
            raise ValidationError(f"release {current.tag} is already approved")
        if current.created_by_id == by.pk:
            raise ValidationError(
                f"four-eyes: {by} created release {current.tag} and cannot approve it"
            )
        edited = current.last_edited_by_id == by.pk
        if edited or history(current).filter(action="edited", actor=by).exists():
            raise ValidationError(
                f"four-eyes: {by} edited release {current.tag} and cannot approve it"
            )
        validate_params(current.params)
        current.approved_by, current.approved_at = by, timezone.now()
        current.save(update_fields=["approved_by", "approved_at"])
        record_audit(
            current, "approved", actor=by, from_state="draft", to_state="approved", note=note
        )
    release.refresh_from_db()
    return release


def baseline_of(bot):
    """The bot's current baseline release, or None."""
    return ConfigRelease.objects.filter(bot=bot, is_baseline=True).first()


def run_release(release):
    """Make `release` the config the bot should run now (Bot.current_release)."""
    Bot.objects.filter(pk=release.bot_id).update(current_release=release)


def active_freeze(bot, at=None):
    """The stabilization window in force for `bot` now (or at `at`), if any."""
    at = at or timezone.now()
    candidates = StabilizationWindow.objects.filter(bot=bot, starts_at__lte=at, ends_at__gt=at)
    return next((window for window in candidates if window.is_active(at)), None)


def refuse_if_frozen(bot, what):
    freeze = active_freeze(bot)
    if freeze is not None:
        raise ValidationError(
            f"{bot.slug} is in a stabilization freeze until {freeze.ends_at:%Y-%m-%d %H:%M} UTC: "
            f"cannot {what}"
        )


def freeze_config(bot, *, days, reason, by):
    """The plan's stabilization window: the lead freezes the current config for `days` days."""
    if not by.has_perm(APPROVE_PERMISSION):
        raise PermissionDenied("only a Team lead freezes the config")
    now = timezone.now()
    with transaction.atomic():
        window = StabilizationWindow.objects.create(
            bot=bot,
            starts_at=now,
            ends_at=now + datetime.timedelta(days=days),
            reason=reason,
            created_by=by,
        )
        record_audit(window, "frozen", actor=by, to_state="frozen", note=reason)
    return window


def end_freeze(window, *, by, note):
    """The lead ends a stabilization window early (its exit criteria met, or a reason noted)."""
    if not by.has_perm(APPROVE_PERMISSION):
        raise PermissionDenied("only a Team lead ends a freeze")
    now = timezone.now()
    if not window.is_active(now):
        raise ValidationError(f"{window} is not in force")
    with transaction.atomic():
        window.ended_early_at = now
        window.save(update_fields=["ended_early_at"])
        record_audit(
            window, "ended early", actor=by, from_state="frozen", to_state="ended", note=note
        )
    return window


def set_baseline(release, *, by, note, check_freeze=True):
    """Make `release` the bot's current baseline (the config the bot should run).

    `check_freeze=False` only for a rollback trigger: restoring the baseline is always allowed.
    """
    if not release.is_approved:
        raise ValidationError(f"release {release.tag} is not approved")
    if check_freeze:
        refuse_if_frozen(release.bot, "change the current release")
    with transaction.atomic():
        previous = (
            ConfigRelease.objects.select_for_update()
            .filter(bot=release.bot, is_baseline=True)
            .first()
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
        )
    return release
