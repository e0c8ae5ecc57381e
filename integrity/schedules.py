"""The dead man's switch: each day's run of a daily job that has not succeeded in time is itself
an incident.

The watched jobs are the schedule's daily entries with a grace (tradeops.schedule, also what
cron_config.py runs). Each records its run under the UTC day it is for, and fans out one job per
bot, each recorded under "day:bot" (tradeops.scheduling). `watch_schedules` looks at every day
in the last `LOOKBACK_DAYS` days (today included) whose run was due after the first active bot
was created: a day whose run (the fan-out) has not succeeded by its due time plus grace is a
critical incident for every bot; a day that fanned out but whose job for a bot has not succeeded
by then is one for that bot. Either is keyed by job and day, so a dead day stays visible even
after later days succeed, and is resolved when that day's run and the bot's job have succeeded
(`manage.py rqenqueue <job> <day>` reruns a day, and only its units not done); a day that leaves
the window without ever succeeding stays open for a person to close.

The watch first sweeps abandoned runs (their worker died) so they count as failed. It runs on
its own schedule and also from the ingestion API, throttled per process and on a thread of its
own after the bot has its answer, which delivers due alerts too: a dead scheduler, dead workers
or a dead Redis are noticed and reported while the bot is still pushing data, and no alert
endpoint ever slows a bot's request.
"""

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
from tradeops.schedule import watched_daily
from tradeops.scheduling import sweep_abandoned_runs, unit_key

logger = logging.getLogger(__name__)

# The jobs whose silence matters, by name: each has its func, runs_at (UTC), cron and grace.
WATCHED = watched_daily()
LOOKBACK_DAYS = 7
WATCH_FROM_INGESTION_EVERY = 600  # seconds, per process
SWEEP_ALERTS_EVERY = 60  # seconds, per process: as often as the dispatch job

Kind = IntegrityIncident.Kind
Outcome = JobRun.Outcome
EVERY_BOT = None


def date(text):
    return datetime.date.fromisoformat(text)


def _incident_key(name, day):
    return f"{name}:{day}"


def _due(name, day):
    return datetime.datetime.combine(day, WATCHED[name].runs_at, tzinfo=datetime.UTC)


def missed_runs(now=None):
    """[(job name, day, bots)] for each watched job's day in the lookback window that was due
    after the first active bot was created and is not done by its due time plus grace: bots is
    EVERY_BOT when the day's run has not succeeded, else the pks of the bots whose own job of
    that day has not."""
    now = now or timezone.now()
    first_bot = Bot.objects.filter(is_active=True).aggregate(first=Min("created_at"))["first"]
    if first_bot is None:
        return []
    today = now.astimezone(datetime.UTC).date()
    days = [today - datetime.timedelta(days=n) for n in reversed(range(LOOKBACK_DAYS))]
    runs = _day_runs(WATCHED, days)
    missed = []
    for name, job in WATCHED.items():
        for day in days:
            due = _due(name, day)
            if not (first_bot <= due and due + job.grace < now):
                continue
            if (name, day.isoformat()) not in runs:
                missed.append((name, day, EVERY_BOT))
            elif undone := _undone_units(name, day, runs[name, day.isoformat()]):
                missed.append((name, day, undone))
    return missed


def _day_runs(names, days):
    """{(name, day): the units it fanned out} of the days' successful runs of `names`."""
    runs = JobRun.objects.filter(
        name__in=names, key__in=[day.isoformat() for day in days], outcome=Outcome.SUCCEEDED
    )
    return {(name, key): detail.get("units", []) for name, key, detail in
            runs.values_list("name", "key", "detail")}  # fmt: skip


def _undone_units(name, day, units):
    """The bots (pks) among `units` whose job of that day has no successful run."""
    keys = {unit_key(day.isoformat(), unit): unit for unit in units}
    done = set(
        JobRun.objects.filter(name=name, key__in=keys, outcome=Outcome.SUCCEEDED).values_list(
            "key", flat=True
        )
    )
    return {int(unit) for key, unit in keys.items() if key not in done}


def _why(name, key):
    """What became of the run of `name` for `key`, from its latest attempt."""
    last = JobRun.objects.filter(name=name, key=key).order_by("-started_at").first()
    if last is None:
        return "never ran", ""
    return last.outcome, (last.error.strip().splitlines() or [""])[-1]


def _done_for(name, day, bot_id):
    """Whether that day's run of `name` succeeded, and with it the job for the bot if it had one."""
    units = _day_runs([name], [day]).get((name, day.isoformat()))
    return units is not None and bot_id not in _undone_units(name, day, units)


def watch_schedules(now=None):
    """Open a critical incident per bot for each missed day of a watched job (every bot when
    the day's run did not succeed, a bot alone when its own job did not); resolve it once that
    day's run and the bot's job have succeeded. Returns the incidents opened or still open."""
    now = now or timezone.now()
    sweep_abandoned_runs(now)
    missed = missed_runs(now)
    bots = list(Bot.objects.filter(is_active=True))
    incidents, missing = [], set()
    for name, day, undone in missed:
        rerun = f"python manage.py rqenqueue {WATCHED[name].func} {day.isoformat()}"
        for bot in bots:
            if undone is EVERY_BOT:
                outcome, error = _why(name, day.isoformat())
                what = outcome
            elif bot.pk in undone:
                outcome, error = _why(name, unit_key(day.isoformat(), bot.pk))
                what = f"{outcome} for this bot"
            else:
                continue
            missing.add((bot.pk, _incident_key(name, day)))
            incidents.append(
                open_or_bump_incident(
                    bot=bot,
                    kind=Kind.MISSED_SCHEDULE,
                    key=_incident_key(name, day),
                    severity=IntegrityIncident.Severity.CRITICAL,
                    title=f"Missed schedule: {name} for {day} ({what})",
                    detail={
                        "job": name,
                        "day": day.isoformat(),
                        "last_outcome": outcome,
                        "last_error": error,
                        "rerun": rerun,
                    },
                    occurrences=0,
                )
            )
    unresolved = IntegrityIncident.objects.filter(bot__in=bots, kind=Kind.MISSED_SCHEDULE).exclude(
        status=IntegrityIncident.Status.RESOLVED
    )
    for incident in unresolved:
        if (incident.bot_id, incident.key) in missing:
            continue
        name, _, day = incident.key.partition(":")
        # Keyed by job alone: from before the watch looked per day, superseded by the day keys.
        legacy = not day
        if legacy or name in WATCHED and _done_for(name, date(day), incident.bot_id):
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
