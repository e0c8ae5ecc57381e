"""The dead man's switch: a daily job that has not succeeded in time is itself an incident.

`watch_schedules` compares each watched job's last success with its period plus a grace time.
It runs on its own schedule and also from the ingestion API (at most every few minutes per
process), so a dead scheduler or dead workers are noticed while the bot is still pushing data.
"""

import datetime
import logging
import time

from django.db.models import Max, Min
from django.utils import timezone

from integrity.alerts import deliver_due_alerts
from integrity.models import IntegrityIncident
from integrity.services import open_or_bump_incident, resolve_incident
from tradeops.models import Bot, JobRun

logger = logging.getLogger(__name__)

DAILY = datetime.timedelta(hours=24)
GRACE = datetime.timedelta(hours=2)
# The jobs whose silence matters, and how often each must succeed.
WATCHED = {"integrity.daily_checks": DAILY, "kpis.daily_snapshots": DAILY}
WATCH_FROM_INGESTION_EVERY = 600  # seconds, per process

Kind = IntegrityIncident.Kind


def overdue_jobs(now=None):
    """{job name: last success or None} for every watched job past its period plus grace.

    A job that never succeeded is measured from when the first active bot was created.
    """
    now = now or timezone.now()
    active = Bot.objects.filter(is_active=True)
    first_bot = active.aggregate(first=Min("created_at"))["first"]
    if first_bot is None:
        return {}
    last_success = dict(
        JobRun.objects.filter(name__in=WATCHED, outcome=JobRun.Outcome.SUCCEEDED)
        .values_list("name")
        .annotate(last=Max("finished_at"))
    )
    overdue = {}
    for name, period in WATCHED.items():
        last = last_success.get(name)
        if now - (last or first_bot) > period + GRACE:
            overdue[name] = last
    return overdue


def watch_schedules(now=None):
    """Open a critical incident per bot for each overdue job; resolve it once the job is back.

    Returns the incidents opened or still open.
    """
    overdue = overdue_jobs(now)
    incidents = []
    for bot in Bot.objects.filter(is_active=True):
        for name, period in WATCHED.items():
            if name in overdue:
                last = overdue[name]
                seen = f"last succeeded {last:%Y-%m-%d %H:%M} UTC" if last else "never succeeded"
                incidents.append(
                    open_or_bump_incident(
                        bot=bot,
                        kind=Kind.MISSED_SCHEDULE,
                        key=name,
                        severity=IntegrityIncident.Severity.CRITICAL,
                        title=f"Missed schedule: {name} {seen}",
                        detail={"job": name, "period_hours": period / datetime.timedelta(hours=1)},
                        occurrences=0,
                    )
                )
            else:
                stale = IntegrityIncident.objects.filter(
                    bot=bot, kind=Kind.MISSED_SCHEDULE, key=name
                ).exclude(status=IntegrityIncident.Status.RESOLVED)
                for incident in stale:
                    resolve_incident(incident)
    return incidents


_last_watch = 0.0


def watch_schedules_from_ingestion():
    """Called by the ingestion API: the watch runs even if no scheduler or worker does.

    Alerts are delivered right here, since the workers that would send them may be the thing
    that is down.
    """
    global _last_watch
    if time.monotonic() - _last_watch < WATCH_FROM_INGESTION_EVERY:
        return
    _last_watch = time.monotonic()
    try:
        if watch_schedules():
            deliver_due_alerts()
    except Exception:  # the watchdog must never cost the bot its ingestion
        logger.exception("schedule watch from ingestion failed")
