"""The missed-schedule watch over the daily digest: a bot whose digest of a day was not queued
by its digest hour plus the schedule's grace (tradeops.schedule) is a critical "missed
schedule" incident, like a missed daily job (integrity.schedules, which calls `watch_digests`
through settings.SCHEDULE_WATCHES), and is resolved once that day's digest is queued (the
digest job, every few minutes, catches up on a missed hour)."""

import datetime

from django.utils import timezone

from cadence.jobs import DAILY_DIGESTS
from cadence.models import DigestMessage
from cadence.services import digest_channels, digest_due
from integrity.models import AlertChannel, IntegrityIncident
from integrity.services import open_or_bump_incident, resolve_incident
from kpis.queries import utc_day
from tradeops.models import Bot
from tradeops.schedule import BY_NAME

DIGEST_JOB = "cadence.daily_digest"  # the incidents' key
SCHEDULE = BY_NAME[DAILY_DIGESTS]
GRACE = SCHEDULE.grace
LOOKBACK_DAYS = 2
Kind = IntegrityIncident.Kind


def _key(day):
    return f"{DIGEST_JOB}:{day}"


def missed_digests(now=None):
    """[(bot, day)] of the last LOOKBACK_DAYS days (today included) whose digest was due (the bot
    existed and a channel hears about it) more than GRACE ago and was never queued."""
    now = now or timezone.now()
    today = utc_day(now)
    days = [today - datetime.timedelta(days=n) for n in range(LOOKBACK_DAYS)]
    channels = list(AlertChannel.objects.filter(is_active=True))
    queued = set(DigestMessage.objects.filter(day__in=days).values_list("bot", "day").distinct())
    missed = []
    for bot in Bot.objects.live().filter(is_active=True):  # a shadow has no digest
        if not digest_channels(bot, channels):
            continue
        for day in days:
            due = digest_due(bot, day, now)
            if bot.created_at <= due and due + GRACE < now and (bot.pk, day) not in queued:
                missed.append((bot, day))
    return missed


def watch_digests(now=None):
    now = now or timezone.now()
    missed = missed_digests(now)
    for bot, day in missed:
        open_or_bump_incident(
            bot=bot,
            kind=Kind.MISSED_SCHEDULE,
            key=_key(day),
            severity=IntegrityIncident.Severity.CRITICAL,
            title=f"Missed schedule: {DIGEST_JOB} for {day} (not queued by "
            f"{bot.digest_hour:02d}:00 UTC)",
            detail={
                "job": DIGEST_JOB,
                "day": day.isoformat(),
                "rerun": f"the digest job ({SCHEDULE.func}, cron {SCHEDULE.cron})",
            },
            occurrences=0,
        )
    still = {(bot.pk, _key(day)) for bot, day in missed}
    for incident in IntegrityIncident.objects.filter(
        kind=Kind.MISSED_SCHEDULE, key__startswith=f"{DIGEST_JOB}:"
    ).exclude(status=IntegrityIncident.Status.RESOLVED):
        if (incident.bot_id, incident.key) not in still:
            day = datetime.date.fromisoformat(incident.key.partition(":")[2])
            if DigestMessage.objects.filter(bot=incident.bot_id, day=day).exists():
                resolve_incident(incident)
    return missed
