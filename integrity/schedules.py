"""The dead man's switch: each day's run of a daily job that has not succeeded in time is itself
an incident.

Each watched job records its run under the UTC day it is for, the day it is scheduled on
(`WATCHED`, also the cron times in cron_config.py). `watch_schedules` looks at every such day in
the last `LOOKBACK_DAYS` days (today included) whose run was due after the first active bot was
created: a day with no successful run by its due time plus `GRACE` is a critical incident per
bot, keyed by job and day, so a dead day stays visible even after later days succeed. It is
resolved when that day's run succeeds (`manage.py rqenqueue <job> <day>` reruns a day); a day
that leaves the window without ever succeeding stays open for a person to close.

The watch first sweeps abandoned runs (their worker died) so they count as failed. It runs on
its own schedule and also from the ingestion API, throttled per process and on a thread of its
own after the bot has its answer, which delivers due alerts too: a dead scheduler, dead workers
or a dead Redis are noticed and reported while the bot is still pushing data, and no alert
endpoint ever slows a bot's request.
"""

import dataclasses
import datetime
import logging
import threading
import time

from django.conf import settings
from django.db import connections
from django.db.models import Min
from django.utils import timezone
from django.utils.module_loading import import_string

from integrity.alerts import deliver_due_alerts
from integrity.models import IntegrityIncident
from integrity.services import open_or_bump_incident, resolve_incident
from tradeops.models import Bot, JobRun
from tradeops.scheduling import sweep_abandoned_runs

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DailyJob:
    func: str  # dotted path of the job function
    runs_at: datetime.time  # UTC; each day's run is due then

    @property
    def cron(self):
        return f"{self.runs_at.minute} {self.runs_at.hour} * * *"


# The jobs whose silence matters. Shortly after midnight UTC, when the previous day's closes are in.
WATCHED = {
    "kpis.daily_snapshots": DailyJob("kpis.jobs.compute_daily_snapshots", datetime.time(0, 5)),
    "integrity.daily_checks": DailyJob(
        "integrity.jobs.run_daily_integrity_checks", datetime.time(0, 10)
    ),
}
GRACE = datetime.timedelta(hours=2)
LOOKBACK_DAYS = 7
WATCH_FROM_INGESTION_EVERY = 600  # seconds, per process
SWEEP_ALERTS_EVERY = 60  # seconds, per process: as often as the dispatch job

Kind = IntegrityIncident.Kind
Outcome = JobRun.Outcome


def _incident_key(name, day):
    return f"{name}:{day}"


def missed_runs(now=None):
    """[(job name, day)] for each watched job's day in the lookback window that was due after the
    first active bot was created and has no successful run by its due time plus grace."""
    now = now or timezone.now()
    first_bot = Bot.objects.filter(is_active=True).aggregate(first=Min("created_at"))["first"]
    if first_bot is None:
        return []
    today = now.astimezone(datetime.UTC).date()
    days = [today - datetime.timedelta(days=n) for n in reversed(range(LOOKBACK_DAYS))]
    succeeded = _succeeded({_incident_key(name, day) for name in WATCHED for day in days})
    missed = []
    for name, job in WATCHED.items():
        for day in days:
            due = datetime.datetime.combine(day, job.runs_at, tzinfo=datetime.UTC)
            if first_bot <= due and due + GRACE < now and _incident_key(name, day) not in succeeded:
                missed.append((name, day))
    return missed


def _succeeded(keys):
    """Those of `keys` (job:day) whose day has a successful run."""
    names, days = set(), set()
    for key in keys:
        name, _, day = key.partition(":")
        names.add(name)
        days.add(day)
    runs = JobRun.objects.filter(name__in=names, key__in=days, outcome=Outcome.SUCCEEDED)
    return {_incident_key(name, day) for name, day in runs.values_list("name", "key")} & set(keys)


def _why(name, day):
    """What became of that day's run, from its latest attempt."""
    last = JobRun.objects.filter(name=name, key=day.isoformat()).order_by("-started_at").first()
    if last is None:
        return "never ran", ""
    return last.outcome, (last.error.strip().splitlines() or [""])[-1]


def watch_schedules(now=None):
    """Open a critical incident per bot for each missed day of a watched job; resolve it once
    that day's run has succeeded. Returns the incidents opened or still open."""
    now = now or timezone.now()
    sweep_abandoned_runs(now)
    missed = missed_runs(now)
    bots = list(Bot.objects.filter(is_active=True))
    incidents = []
    for name, day in missed:
        outcome, error = _why(name, day)
        detail = {
            "job": name,
            "day": day.isoformat(),
            "last_outcome": outcome,
            "last_error": error,
            "rerun": f"python manage.py rqenqueue {WATCHED[name].func} {day.isoformat()}",
        }
        for bot in bots:
            incidents.append(
                open_or_bump_incident(
                    bot=bot,
                    kind=Kind.MISSED_SCHEDULE,
                    key=_incident_key(name, day),
                    severity=IntegrityIncident.Severity.CRITICAL,
                    title=f"Missed schedule: {name} for {day} ({outcome})",
                    detail=detail,
                    occurrences=0,
                )
            )
    missing = {_incident_key(name, day) for name, day in missed}
    unresolved = (
        IntegrityIncident.objects.filter(bot__in=bots, kind=Kind.MISSED_SCHEDULE)
        .exclude(status=IntegrityIncident.Status.RESOLVED)
        .exclude(key__in=missing)
    )
    done = _succeeded({incident.key for incident in unresolved})
    for incident in unresolved:
        # Keyed by job alone: from before the watch looked per day, superseded by the day keys.
        if incident.key in done or ":" not in incident.key:
            resolve_incident(incident)
    # The watches of schedules kept by apps above this one (the daily digest), named in the
    # settings so this app imports none of them.
    for watch in settings.SCHEDULE_WATCHES:
        import_string(watch)(now)
    return incidents


class Throttle:
    """Lets each named task through at most once per its interval of `clock`, in this process.

    A task that never ran is due at once: never is None, not 0.0, since a monotonic clock may
    start near zero at boot (the first 10 minutes of a machine's uptime would be skipped).
    """

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.last_run = {}

    def due(self, task, every):
        now = self.clock()
        last = self.last_run.get(task)
        if last is not None and now - last < every:
            return False
        self.last_run[task] = now
        return True


class Sweeper:
    """Runs the sweep the ingestion API starts on a thread of its own, one at a time per process,
    so that no alert endpoint or other outbound call is ever inside a bot's request."""

    def __init__(self):
        self._lock = threading.Lock()
        self._thread = None

    def start(self, sweep):
        """Start `sweep()` unless one is still running; False if one was."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            self._thread = threading.Thread(
                target=self._run, args=(sweep,), name="tradeops-sweep", daemon=True
            )
            self._thread.start()
            return True

    def wait(self, timeout=None):
        """Until the running sweep (if any) is done: for callers that must see its effect."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    @staticmethod
    def _run(sweep):
        try:
            sweep()
        except Exception:  # the watchdog must never cost the bot its ingestion
            logger.exception("schedule watch from ingestion failed")
        finally:
            connections.close_all()  # this thread's own connections


ingestion_throttle = Throttle()
sweeper = Sweeper()


def watch_schedules_from_ingestion(now=None):
    """Called by the ingestion API once the batch is stored: the watch and the alerts run even if
    no scheduler, worker or Redis does.

    Due alerts are delivered by this sweep too (also those a Redis outage left pending), since
    the workers that would send them may be the thing that is down. The request only decides,
    from this process's throttle, whether a sweep is due; the sweep itself (the watch, its
    enqueues and every send) runs on the sweeper's thread after the request has its answer.
    """
    if not settings.SWEEP_FROM_INGESTION:
        return
    watch = ingestion_throttle.due("watch", WATCH_FROM_INGESTION_EVERY)
    alerts = ingestion_throttle.due("alerts", SWEEP_ALERTS_EVERY)
    if watch or alerts:
        sweeper.start(lambda: _sweep(watch, now))


def _sweep(watch, now):
    if watch:
        watch_schedules(now)
    # After the watch, which may just have opened incidents that alert.
    deliver_due_alerts(now)
