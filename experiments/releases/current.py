"""A release made current: the one place a bot's current release changes (run_release, which
queues its push), the bot's baseline, and the stabilization freezes that hold both still. Every
service takes the clock (`now`, now if not given) for its audit row."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from experiments.releases.push import queue_release_push
from experiments.same_bot import check_same_bot
from tradeops.audit import record_audit
from tradeops.models import Bot, ConfigRelease, ReleaseChange, StabilizationWindow
from tradeops.roles import APPROVE_RELEASE


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
