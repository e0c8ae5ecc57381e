"""Running jobs: on RQ workers when REDIS_URL is set, in-process otherwise; every run recorded.

Jobs (the functions in each app's jobs.py) are decorated with `recorded_job`, so a JobRun row
says when each ran, how it ended, why it failed and what it did, whoever ran it: a worker, the
in-process fallback, or a test. A run whose worker died (kill -9, out of memory, a lost machine)
cannot record its own end: `sweep_abandoned_runs` marks it failed, so the next run for its key
retries.

A scheduled job whose entry in the schedule (tradeops.schedule) has units fans out
(`fan_out_job`): its run enqueues one RQ job per unit (a bot, an experiment, a source) on the
entry's queue, with the entry's timeout, under an id naming job, unit and period, so any number
of workers share a run, one slow or failing unit costs only its own job, a killed job loses only
its own unit's work, and a second enqueue of a unit in the same period does nothing. Each unit
records its own JobRun under "<period>:<unit>".

A daily fan-out job (the watched ones) counts for a bot once both the day's run (the fan-out,
recorded under the day when every unit was handed to a worker) and that bot's unit succeeded:
the missed-schedule watch checks both, so a day whose units failed for some bots is an incident
for those bots. Rerunning the day (`manage.py rqenqueue <job> <day>`) enqueues again the units
that have not succeeded, replacing their failed RQ jobs.
"""

import contextlib
import datetime
import functools
import logging
import re
import traceback
from contextlib import contextmanager

import django_rq
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus

from tradeops.models import JobRun
from tradeops.schedule import BY_FUNC, BY_NAME, DEFAULT

logger = logging.getLogger(__name__)

ABANDONED = "abandoned: worker died or timed out"
# RQ's own margin past a job's timeout before it declares the job abandoned (heartbeat + 60 s).
TIMEOUT_MARGIN = datetime.timedelta(seconds=60)
# A failed unit's RQ job stays this long in the failed jobs (its JobRun keeps the traceback).
FAILED_KEPT = 86400
IN_FLIGHT = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)
ENDED_UNDONE = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


def _path(func):
    return func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"


def enqueue(func, *args, **kwargs):
    """Fire and forget: run `func` (a function or its dotted path) once the current transaction
    commits (at once outside one), on an RQ worker, or right here when no Redis is configured
    (the embedded mode). A scheduled job goes to its schedule's queue with its timeout.

    A periodic fan-out job enqueued this way (a refresh asked for now) runs as a period of its
    own, so it is not taken for a second enqueue of the scheduled period.

    The caller's data is committed by then, so nothing here may fail the caller: if Redis cannot
    take the job, or the in-process run fails, that is logged and the work waits for its next
    schedule or sweep (pending alerts: the dispatch job, and the ingestion API's sweep, which
    needs no Redis).
    """
    schedule = BY_FUNC.get(_path(func))
    if schedule is not None and schedule.fans_out and not schedule.daily and not args:
        kwargs.setdefault("period", timezone.now().isoformat())
    transaction.on_commit(lambda: _start(func, args, kwargs))


def _start(func, args, kwargs):
    try:
        if settings.REDIS_URL:
            schedule = BY_FUNC.get(_path(func))
            options = {"job_timeout": schedule.timeout} if schedule else {}
            # "auto": this already runs after the commit. django-rq's own on_commit hook
            # (COMMIT_MODE on_db_commit) would let a Redis error escape into the request.
            queue = django_rq.get_queue(schedule.queue if schedule else DEFAULT, commit_mode="auto")
            queue.enqueue(func, args=args, kwargs=kwargs, **options)
        else:
            (import_string(func) if isinstance(func, str) else func)(*args, **kwargs)
    except Exception:
        logger.exception("could not start %s; left for its next schedule or sweep", _path(func))


def job_day(day, today):
    """The day a daily job runs for: a date, its ISO text (as `manage.py rqenqueue` passes it),
    or by default `today`."""
    if isinstance(day, str):
        return datetime.date.fromisoformat(day)
    return day or today


class AlreadyDone(Exception):
    """The job already ran successfully for this key."""


@contextmanager
def recorded_run(name, key):
    """Record a run of job `name` for `key`; raises AlreadyDone if that key already succeeded.

    A failing run is recorded with its traceback and the exception goes on (RQ marks the job
    failed too); a run whose worker died is marked failed by `sweep_abandoned_runs`. Either way
    the next run for the same key tries again.
    """
    if JobRun.objects.filter(name=name, key=key, outcome=JobRun.Outcome.SUCCEEDED).exists():
        raise AlreadyDone(f"{name} already succeeded for {key}")
    rq_job = get_current_job()
    run = JobRun.objects.create(
        name=name, key=key, started_at=timezone.now(), rq_job_id=rq_job.id if rq_job else ""
    )
    try:
        yield run
    except Exception:
        run.outcome = JobRun.Outcome.FAILED
        run.error = traceback.format_exc()
        run.finished_at = timezone.now()
        run.save(update_fields=["outcome", "error", "finished_at"])
        logger.exception("job %s [%s] failed", name, key)
        raise
    run.outcome = JobRun.Outcome.SUCCEEDED
    run.finished_at = timezone.now()
    try:
        with transaction.atomic():
            run.save(update_fields=["outcome", "finished_at", "detail"])
    except IntegrityError:
        # Two runs for one key raced and the other finished first: its result stands.
        JobRun.objects.filter(pk=run.pk).update(
            outcome=JobRun.Outcome.FAILED,
            finished_at=run.finished_at,
            error=f"another run of {name} for {key} succeeded first",
        )


def recorded_job(name, *, daily=False):
    """Make the decorated function a job whose runs are recorded (`recorded_run`) as `name`; what
    it returns is its run's detail.

    A daily job runs for one UTC day: the job's only argument is that day (see `job_day`), the
    function is called with it as a date, and the run is recorded under it, so a day that already
    succeeded is not run again (a double enqueue does nothing) while a failed or missed day can be
    rerun. Any other job is called with the time the run starts (or `now`, the embedded
    scheduler's clock: tradeops.embedded), which is its key, so every run is recorded.

    The job keeps the function's dotted path, the name RQ, cron and `rqenqueue` know it by.
    """

    def decorate(work):
        if daily:

            def job(day=None):
                day = job_day(day, timezone.now().date())
                _run(name, day.isoformat(), work, day)

        else:

            def job(now=None):
                now = now or timezone.now()
                _run(name, now.isoformat(timespec="microseconds"), work, now)

        job = functools.wraps(work)(job)
        job.schedule_name = name
        return job

    return decorate


def _run(name, key, work, when):
    try:
        with recorded_run(name, key) as run:
            run.detail = work(when) or {}
    except AlreadyDone:
        logger.info("%s already succeeded for %s", name, key)


# -- fan-out -------------------------------------------------------------------------------------


def fan_out_job(name):
    """Make the decorated function (its docstring says what a run does; its body is not run)
    the job that fans out the run of schedule `name`: one job per unit of `units(when)`, each
    running `unit_func(unit, when)`.

    A daily job takes its day like a `recorded_job` and records the day's fan-out under it; a
    rerun of a day that fanned out already enqueues again the units not yet succeeded. Any
    other job records each run under the time it starts (or `now`, as `recorded_job`) and fans
    out for its cron period, or for `period` (an ISO time) when one is given (a refresh asked for
    now).
    """

    def decorate(declared):
        def job(day=None, period=None, now=None):
            schedule = BY_NAME[name]
            now = now or timezone.now()
            if schedule.daily:
                when = job_day(day, now.date())
                key = period = when.isoformat()
            else:
                when = now
                key = now.isoformat(timespec="microseconds")
                period = period or schedule.period_start(now).isoformat()
            try:
                with recorded_run(name, key) as run:
                    run.detail = fan_out(schedule, when, period)
            except AlreadyDone:
                logger.info("%s already fanned out for %s: its units not done", name, key)
                fan_out(schedule, when, period)

        job = functools.wraps(declared)(job)
        job.schedule_name = name
        return job

    return decorate


def unit_key(period, unit):
    """The JobRun key of one unit's run in a period."""
    return f"{period}:{unit}"


def unit_job_id(name, unit, period):
    """The RQ job id of one unit's run in a period (RQ allows letters, digits, _ and -)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{name}--{unit}--{period}")


def fan_out(schedule, when, period):
    """Start one job per unit of `schedule`'s run for `period`; its detail: the units the run
    covers and those started (a daily run leaves out units that already succeeded that day; any
    run leaves out a unit whose job for the period exists, or whose previous period's job is
    still queued or running, so a slow unit never piles up jobs)."""
    units = [str(unit) for unit in import_string(schedule.units)(when)]
    todo = units
    if schedule.daily:
        done = set(
            JobRun.objects.filter(
                name=schedule.name,
                key__in=[unit_key(period, unit) for unit in units],
                outcome=JobRun.Outcome.SUCCEEDED,
            ).values_list("key", flat=True)
        )
        todo = [unit for unit in units if unit_key(period, unit) not in done]
    if not settings.REDIS_URL:
        for unit in todo:
            # A failure is recorded and logged by its run; the other units go on.
            with contextlib.suppress(Exception):
                run_unit(schedule.name, unit, period, now=None if schedule.daily else when)
        return {"period": period, "units": units, "started": todo}
    queue = django_rq.get_queue(schedule.queue, commit_mode="auto")
    if not schedule.daily:
        todo = _not_in_flight(queue, schedule, todo, period)
    started = [unit for unit in todo if _enqueue_unit(queue, schedule, unit, period)]
    return {"period": period, "units": units, "started": started}


def _not_in_flight(queue, schedule, units, period):
    """Those of `units` whose job of the previous period is not still queued or running."""
    try:
        previous = schedule.period_start(
            datetime.datetime.fromisoformat(period) - datetime.timedelta(minutes=1)
        ).isoformat()
    except ValueError:
        return units
    ids = [unit_job_id(schedule.name, unit, previous) for unit in units]
    jobs = Job.fetch_many(ids, connection=queue.connection)
    return [
        unit
        for unit, job in zip(units, jobs, strict=True)
        if job is None or job.get_status(refresh=False) not in IN_FLIGHT
    ]


def _enqueue_unit(queue, schedule, unit, period):
    """Enqueue one unit's job unless one of its id exists (a daily unit's failed or stopped
    job is replaced: the day is being rerun); whether it was enqueued."""
    job_id = unit_job_id(schedule.name, unit, period)
    # Kept as long as its period, so a second enqueue in the period finds it.
    kept = max(schedule.period_seconds(timezone.now()), 500)
    for _ in range(2):
        try:
            queue.enqueue(
                run_unit,
                args=(schedule.name, unit, period),
                job_id=job_id,
                unique=True,
                job_timeout=schedule.timeout,
                result_ttl=kept,
                failure_ttl=max(kept, FAILED_KEPT),
                description=f"{schedule.name} [{unit_key(period, unit)}]",
            )
            return True
        except DuplicateJobError:
            existing = queue.fetch_job(job_id)
            if existing is None:
                continue  # it expired in between
            if not (schedule.daily and existing.get_status() in ENDED_UNDONE):
                return False
            existing.delete()
    return False


def run_unit(name, unit, period, now=None):
    """One unit's work in a run of schedule `name`, recorded under "<period>:<unit>" (so it is
    done once a period), as of its day for a daily job and as of `now` (by default the time it
    runs) for any other."""
    schedule = BY_NAME[name]
    work = import_string(schedule.unit_func)
    when = datetime.date.fromisoformat(period) if schedule.daily else now or timezone.now()
    try:
        with recorded_run(name, unit_key(period, unit)) as run:
            run.detail = work(unit, when) or {}
    except AlreadyDone:
        logger.info("%s already succeeded for %s", name, unit_key(period, unit))


# -- abandoned runs ------------------------------------------------------------------------------


def _timeout(name):
    """The job timeout of runs named `name`: their schedule's, else the default queue's."""
    schedule = BY_NAME.get(name)
    if schedule is not None:
        return datetime.timedelta(seconds=schedule.timeout)
    return datetime.timedelta(seconds=settings.RQ_QUEUES[DEFAULT]["DEFAULT_TIMEOUT"])


def sweep_abandoned_runs(now=None):
    """Mark failed every run whose worker died or timed out; returns how many.

    A run is abandoned once it has been running past its job timeout (RQ stops a job then, so
    it cannot still be working), or, when Redis answers, as soon as RQ no longer has its job
    started: failed, stopped, gone, or its worker stopped sending heartbeats (RQ's own check,
    about 90 s after the last one). A run that ends after all still records its outcome.
    """
    now = now or timezone.now()
    running = JobRun.objects.filter(outcome=JobRun.Outcome.RUNNING)
    abandoned = {
        pk
        for pk, name, started_at in running.values_list("pk", "name", "started_at")
        if started_at < now - _timeout(name) - TIMEOUT_MARGIN
    }
    abandoned |= _given_up_by_rq(running.exclude(rq_job_id="").exclude(pk__in=abandoned), now)
    return JobRun.objects.filter(pk__in=abandoned, outcome=JobRun.Outcome.RUNNING).update(
        outcome=JobRun.Outcome.FAILED, finished_at=now, error=ABANDONED
    )


def _given_up_by_rq(runs, now):
    """The runs among `runs` whose RQ job is no longer started; none if Redis does not answer."""
    runs = list(runs)
    if not runs or not settings.REDIS_URL:
        return set()
    try:
        for name in settings.RQ_QUEUES:
            django_rq.get_queue(name).started_job_registry.cleanup(timestamp=now.timestamp())
        connection = django_rq.get_connection(DEFAULT)
        given_up = set()
        for run in runs:
            job = Job.fetch_many([run.rq_job_id], connection=connection)[0]
            if job is None or job.get_status() != JobStatus.STARTED:
                given_up.add(run.pk)
        return given_up
    except RedisError:
        logger.warning(
            "Redis unreachable: running jobs judged by their timeout only", exc_info=True
        )
        return set()
