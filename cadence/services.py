"""Writes of the operating cadence: signing off the reviews, the trigger headroom the command
center reads, and queueing the daily digest. Each takes a clock (`now`)."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cadence.digest import digest_text
from cadence.models import DailyReview, DigestMessage, TriggerHeadroom, WeeklyReview
from cadence.selectors import as_record, daily_review
from cadence.weekly import as_weekly_record, keep_awaiting_confirmation, queued_experiments
from experiments import services as experiment_services
from experiments.headroom import trigger_headroom
from experiments.models import LIVE, Experiment, ScalingStep
from experiments.same_bot import check_same_bot
from integrity.models import AlertChannel
from kpis.queries import utc_day
from tradeops.audit import record_audit, require_note
from tradeops.models import Bot
from tradeops.roles import SIGN_OFF_DAILY_REVIEW, SIGN_OFF_WEEKLY_REVIEW


def sign_off_daily_review(bot, day, *, by, note, now=None):
    """An Operator signs off `bot`'s daily review of the UTC `day`, keeping its five items as
    they stand now. Once per bot and day (the database holds to it); never for a future day."""
    now = now or timezone.now()
    if not by.has_perm(SIGN_OFF_DAILY_REVIEW):
        raise PermissionDenied(f"{by} may not sign off daily reviews")
    require_note(note, "sign off")
    if day > utc_day(now):
        raise ValidationError(f"{day} has not begun yet (UTC)")
    items = as_record(daily_review(bot, day, now))
    try:
        with transaction.atomic():
            review = DailyReview.objects.create(
                bot=bot, day=day, note=note, items=items, signed_off_by=by, signed_off_at=now
            )
            record_audit(review, "sign off", actor=by, note=note, data=items, at=now)
    except IntegrityError:
        done = DailyReview.objects.select_related("signed_off_by").get(bot=bot, day=day)
        raise ValidationError(
            f"the daily review of {bot.slug} for {day} was already signed off by "
            f"{done.signed_off_by} at {done.signed_off_at:%Y-%m-%d %H:%M} UTC"
        ) from None
    return review


def sign_off_weekly_review(
    bot,
    week,
    *,
    by,
    note,
    next_experiment=None,
    assignee=None,
    assignment_due=None,
    confirm_pending_keep=False,
    now=None,
):
    """A Team lead signs off `bot`'s weekly review of the ISO week starting on Monday `week`,
    naming the next single-lever test (a queued experiment, who, by when). With
    `confirm_pending_keep` it also confirms the keep awaiting confirmation (four eyes: not by
    the person who logged it; experiments.services.confirm_keep holds that rule)."""
    now = now or timezone.now()
    if not by.has_perm(SIGN_OFF_WEEKLY_REVIEW):
        raise PermissionDenied(f"{by} may not sign off weekly reviews")
    require_note(note, "sign off")
    if week.weekday() != 0:
        raise ValidationError({"week": f"{week} is not a Monday: an ISO week starts on Monday"})
    if week > utc_day(now):
        raise ValidationError({"week": f"the week of {week} has not begun yet (UTC)"})
    if next_experiment is not None:
        check_same_bot(bot, next_experiment=next_experiment)
        if next_experiment.pk not in {exp.pk for exp in queued_experiments(bot)}:
            raise ValidationError(
                {"next_experiment": f"{next_experiment.name} is not queued for {bot.slug}"}
            )
        if assignee is None or assignment_due is None:
            raise ValidationError(
                {"assignee": "the next single-lever test needs a person and a due date"}
            )
        if assignment_due < utc_day(now):
            raise ValidationError({"assignment_due": f"{assignment_due} is in the past"})
    elif assignee is not None or assignment_due is not None:
        raise ValidationError(
            {"next_experiment": "name the queued experiment the person and date are for"}
        )
    with transaction.atomic():
        pending = keep_awaiting_confirmation(bot)
        confirmed = None
        if confirm_pending_keep:
            if pending is None:
                raise ValidationError({"confirm_pending_keep": "no keep awaits confirmation"})
            confirmed = experiment_services.confirm_keep(pending, by=by, note=note, now=now)
        items = as_weekly_record(bot, week, now)
        try:
            with transaction.atomic():
                review = WeeklyReview.objects.create(
                    bot=bot,
                    week=week,
                    note=note,
                    items=items,
                    next_experiment=next_experiment,
                    assignee=assignee if next_experiment else None,
                    assignment_due=assignment_due if next_experiment else None,
                    confirmed_keep=confirmed,
                    signed_off_by=by,
                    signed_off_at=now,
                )
        except IntegrityError:
            raise ValidationError(
                f"the weekly review of {bot.slug} for the week of {week} is already signed off"
            ) from None
        record_audit(review, "sign off", actor=by, note=note, data=items, at=now)
    return review


def refresh_trigger_headroom(now=None, bots=None):
    """Store how far each bot's (or each of `bots`' pks) live change is from each hard rollback
    trigger; a bot without one has no headroom row. Returns the bots refreshed."""
    now = now or timezone.now()
    steps = ScalingStep.objects.filter(status=ScalingStep.Status.HOLDING)
    experiments = Experiment.objects.filter(status__in=LIVE)
    rows = TriggerHeadroom.objects.all()
    if bots is not None:
        steps, experiments, rows = (q.filter(bot__in=bots) for q in (steps, experiments, rows))
    subjects = {}
    for step in steps.select_related("bot"):
        subjects[step.bot_id] = step
    for experiment in experiments.select_related("bot", "candidate_release"):
        subjects[experiment.bot_id] = experiment
    for bot_id, subject in subjects.items():
        TriggerHeadroom.objects.update_or_create(
            bot_id=bot_id,
            defaults={
                "subject": str(subject)[:300],
                "lines": trigger_headroom(subject, now),
                "computed_at": now,
            },
        )
    rows.exclude(bot__in=subjects).delete()
    return sorted(subject.bot.slug for subject in subjects.values())


# The live changes whose state changes move the headroom: every move of an experiment or a
# scaling step writes an audit row with its new state (experiments.lifecycle.transition).
HEADROOM_SUBJECTS = {
    Experiment._meta.label_lower: Experiment,
    ScalingStep._meta.label_lower: ScalingStep,
}


def refresh_headroom_after(event):
    """Once the move's transaction commits, recompute the headroom of the bot whose experiment
    or scaling step audit `event` records a change of state of, as of the move's clock: the
    command center never shows the headroom of a change that stopped or a stale "as of"."""
    model = HEADROOM_SUBJECTS.get(event.subject_type)
    if model is None or not event.to_state:
        return
    bot = model.objects.filter(pk=event.subject_id).values_list("bot", flat=True).first()
    if bot is not None:
        # Robust: a failed refresh is logged, the move it follows stands (the job redoes it).
        transaction.on_commit(lambda: refresh_trigger_headroom(event.at, bots=[bot]), robust=True)


def digest_due(bot, day, now):
    """The moment `bot`'s digest of `day` is due: the bot's digest hour that day (UTC)."""
    return datetime.datetime.combine(day, datetime.time(bot.digest_hour), tzinfo=datetime.UTC)


def digest_channels(bot, channels):
    """The active channels that hear about `bot`: its own and those of every bot."""
    return [c for c in channels if c.is_active and c.hears_about(bot.pk)]


def queue_daily_digests(now=None):
    """One digest per bot and channel for today, once the bot's digest hour has come. A digest
    is built only for a bot with a channel still without today's (the job runs every few
    minutes all day); the database's one-a-day constraint stays as the backstop against a
    concurrent run. Returns the digests queued by this call."""
    now = now or timezone.now()
    today = utc_day(now)
    channels = list(AlertChannel.objects.filter(is_active=True))
    queued_today = set(
        DigestMessage.objects.filter(day=today).values_list("bot_id", "channel_id").distinct()
    )
    queued = []
    for bot in Bot.objects.live().filter(is_active=True, created_at__lte=now):  # not shadows
        if digest_due(bot, today, now) > now:
            continue
        targets = [c for c in digest_channels(bot, channels) if (bot.pk, c.pk) not in queued_today]
        if not targets:
            continue
        title, body = digest_text(bot, today, now)
        for channel in targets:
            try:
                with transaction.atomic():
                    queued.append(
                        DigestMessage.objects.create(
                            channel=channel,
                            bot=bot,
                            day=today,
                            title=title,
                            body=body,
                            next_attempt_at=now,
                        )
                    )
            except IntegrityError:
                pass  # already queued for this day and channel
    return queued
