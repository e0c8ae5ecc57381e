"""Shadow bots follow their live bot's loop (tradeops.Bot.shadow_of): the one place that decides
what a shadow runs, and the service that moves it.

While an experiment runs on the live bot (its candidate runs: LIVE), the shadow runs the
experiment's baseline beside it, dry-run: the concurrent control the scorecard compares the
candidate with. Otherwise the shadow runs what its live bot runs. Every change of the live bot's
release (an experiment's start, a decision, a confirmed keep, a rollback trigger, a new
baseline, a scaling step) moves the shadow in the same transaction, with a ReleaseChange of its
own that names the live bot's change: the shadow's config, ETag, push and drift watch then read
its own current release like any bot's."""

from django.db import transaction
from django.utils import timezone

from experiments.models import LIVE, Experiment
from experiments.releases import run_release
from tradeops.models import Bot, ReleaseChange


def find_shadow(live):
    """The shadow of `live`, or None: what follows its loop and is its experiments' control."""
    return Bot.objects.filter(shadow_of=live).first()


def release_for_shadow(live):
    """The release a shadow of `live` should run now: a live experiment's baseline, else the
    live bot's current release (None before it has one)."""
    running = (
        Experiment.objects.filter(bot=live, status__in=LIVE)
        .select_related("baseline_release")
        .first()
    )
    if running is not None:
        return running.baseline_release
    return live.current_release


def follow_live(live, *, reason=None, reference=None, by=None, now=None):
    """Move the shadow of `live` (if any) to what it should run now, recording why: by default
    the live bot's latest change (its reason, who, when), named in the reference. Call it after
    the live bot's change, in its transaction. Returns the shadow's ReleaseChange, or None."""
    shadow = find_shadow(live)
    if shadow is None:
        return None
    # As the live bot's change left it (run_release updates the row, not the object).
    live = Bot.objects.select_related("current_release", "current_change").get(pk=live.pk)
    release = release_for_shadow(live)
    if release is None:
        return None
    change = live.current_change if reason is None else None
    if change is not None:
        reason, by, now = change.reason, change.by, change.at
        reference = f"{live.slug}: {change.reference}"
        if change.release_id != release.pk:
            reference += f" (the shadow runs the baseline, {release.tag})"
    return run_release(
        release,
        bot=shadow,
        reason=reason,
        reference=reference,
        by=by,
        now=now or timezone.now(),
    )


def shadow_created(bot, by=None, now=None, **kwargs):
    """tradeops.signals.shadow_created: a new shadow runs at once what it should run, for the
    reason its live bot runs what it runs."""
    live = Bot.objects.select_related("current_change").get(pk=bot.shadow_of_id)
    change = live.current_change
    with transaction.atomic():
        follow_live(
            live,
            reason=change.reason if change else ReleaseChange.Reason.BASELINE,
            reference=f"shadow of {live.slug} created ({change.why if change else 'no why'})",
            by=by or "create_bot",
            now=now,
        )
