"""Running jobs: on RQ workers when REDIS_URL is set, in-process otherwise; every run recorded.

Jobs (the functions in each app's jobs.py) wrap their work in `recorded_run`, so a JobRun row
says when each ran, how it ended and why it failed, whoever ran it: a worker, the in-process
fallback, or a test.
"""

import logging
import traceback
from contextlib import contextmanager

import django_rq
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from rq import get_current_job

from tradeops.models import JobRun

logger = logging.getLogger(__name__)


def enqueue(func, *args, job_id=None, **kwargs):
    """Run `func` (a function or its dotted path) on an RQ worker, or right here when no Redis
    is configured (the embedded mode).

    With Redis, django-rq enqueues once the surrounding transaction commits (COMMIT_MODE).
    """
    if not settings.REDIS_URL:
        return (import_string(func) if isinstance(func, str) else func)(*args, **kwargs)
    return django_rq.get_queue("default").enqueue(func, *args, job_id=job_id, **kwargs)


class AlreadyDone(Exception):
    """The job already ran successfully for this key."""


@contextmanager
def recorded_run(name, key):
    """Record a run of job `name` for `key`; raises AlreadyDone if that key already succeeded.

    A failing run is recorded with its traceback and the exception goes on (RQ marks the job
    failed too); the next run for the same key tries again.
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
