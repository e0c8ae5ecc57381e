"""Running jobs: on RQ workers when REDIS_URL is set, in-process otherwise; every run recorded.

Jobs (the functions in each app's jobs.py) are decorated with `recorded_job`, so a JobRun row
says when each ran, how it ended, why it failed and what it did, whoever ran it: a worker, the
in-process fallback, or a test. A run whose worker died (kill -9, out of memory, a lost machine)
cannot record its own end: `sweep_abandoned_runs` marks it failed, so the next run for its key
retries.
"""

import datetime
import functools
import logging
import traceback
from contextlib import contextmanager

import django_rq
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from redis.exceptions import RedisError
from rq import get_current_job
from rq.job import JobStatus

from tradeops.models import JobRun

logger = logging.getLogger(__name__)

ABANDONED = "abandoned: worker died or timed out"
# RQ's own margin past a job's timeout before it declares the job abandoned (heartbeat + 60 s).
TIMEOUT_MARGIN = datetime.timedelta(seconds=60)


def enqueue(func, *args, **kwargs):
    """Fire and forget: run `func` (a function or its dotted path) once the current transaction
    commits (at once outside one), on an RQ worker, or right here when no Redis is configured
    (the embedded mode).

    The caller's data is committed by then, so nothing here may fail the caller: if Redis cannot
    take the job, or the in-process run fails, that is logged and the work waits for its next
    schedule or sweep (pending alerts: the dispatch job, and the ingestion API's sweep, which
    needs no Redis).
    """
    transaction.on_commit(lambda: _start(func, args, kwargs))


def _start(func, args, kwargs):
    try:
        if settings.REDIS_URL:
            # "auto": this already runs after the commit. django-rq's own on_commit hook
            # (COMMIT_MODE on_db_commit) would let a Redis error escape into the request.
            django_rq.get_queue("default", commit_mode="auto").enqueue(func, *args, **kwargs)
        else:
            (import_string(func) if isinstance(func, str) else func)(*args, **kwargs)
    except Exception:
        name = func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"
        logger.exception("could not start %s; left for its next schedule or sweep", name)


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
    rerun. Any other job takes no argument: the function is called with the time the run starts,
    which is its key, so every run is recorded.

    The job keeps the function's dotted path, the name RQ, cron and `rqenqueue` know it by.
    """

    def decorate(work):
        if daily:

            def job(day=None):
                day = job_day(day, timezone.now().date())
                _run(name, day.isoformat(), work, day)

        else:

            def job():
                now = timezone.now()
                _run(name, now.isoformat(timespec="microseconds"), work, now)

        return functools.wraps(work)(job)

    return decorate


def _run(name, key, work, when):
    try:
        with recorded_run(name, key) as run:
            run.detail = work(when) or {}
    except AlreadyDone:
        logger.info("%s already succeeded for %s", name, key)


def sweep_abandoned_runs(now=None):
    """Mark failed every run whose worker died or timed out; returns how many.

    A run is abandoned once it has been running past the queue's job timeout (RQ stops a job
    then, so it cannot still be working), or, when Redis answers, as soon as RQ no longer has
    its job started: failed, stopped, gone, or its worker stopped sending heartbeats (RQ's own
    check, about 90 s after the last one). A run that ends after all still records its outcome.
    """
    now = now or timezone.now()
    running = JobRun.objects.filter(outcome=JobRun.Outcome.RUNNING)
    timeout = datetime.timedelta(seconds=settings.RQ_QUEUES["default"]["DEFAULT_TIMEOUT"])
    abandoned = set(
        running.filter(started_at__lt=now - timeout - TIMEOUT_MARGIN).values_list("pk", flat=True)
    )
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
        queue = django_rq.get_queue("default")
        queue.started_job_registry.cleanup(timestamp=now.timestamp())
        given_up = set()
        for run in runs:
            job = queue.fetch_job(run.rq_job_id)
            if job is None or job.get_status() != JobStatus.STARTED:
                given_up.add(run.pk)
        return given_up
    except RedisError:
        logger.warning(
            "Redis unreachable: running jobs judged by their timeout only", exc_info=True
        )
        return set()
