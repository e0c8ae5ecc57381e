"""RQ entry points for the integrity checks (thin: the work is in integrity.services)."""

import logging

from django.utils import timezone

from integrity.alerts import deliver_due_alerts, queue_repeats
from integrity.schedules import watch_schedules
from integrity.services import run_all_integrity_checks
from tradeops.scheduling import AlreadyDone, job_day, recorded_run

logger = logging.getLogger(__name__)

DAILY_CHECKS = "integrity.daily_checks"


def run_daily_integrity_checks(day=None):
    """The plan's daily integrity check for every active bot, once per UTC day: recorded under
    the day it runs on (default today), or a missed day (a date or its ISO text) run late."""
    day = job_day(day, timezone.now().date())
    try:
        with recorded_run(DAILY_CHECKS, day.isoformat()) as run:
            runs = run_all_integrity_checks(triggered_by="daily job")
            run.detail = {"check_runs": [check_run.pk for check_run in runs]}
    except AlreadyDone:
        logger.info("integrity checks for %s already ran", day)


DISPATCH_ALERTS = "integrity.dispatch_alerts"


def dispatch_alerts():
    """Queue due repeats, then send every due alert (each minute, and right after an incident)."""
    now = timezone.now()
    try:
        with recorded_run(DISPATCH_ALERTS, now.isoformat(timespec="microseconds")) as run:
            repeats = queue_repeats(now)
            sent = deliver_due_alerts(now)
            run.detail = {
                "repeats": len(repeats),
                "attempted": len(sent),
                "sent": sum(d.status == "sent" for d in sent),
            }
    except AlreadyDone:
        pass


WATCH_SCHEDULES = "integrity.watch_schedules"


def watch_schedules_job():
    """The dead man's switch on its own schedule (it also runs from the ingestion API)."""
    now = timezone.now()
    try:
        with recorded_run(WATCH_SCHEDULES, now.isoformat(timespec="microseconds")) as run:
            run.detail = {"missed": [i.key for i in watch_schedules(now)]}
    except AlreadyDone:
        pass
