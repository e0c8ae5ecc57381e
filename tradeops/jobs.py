"""RQ entry points of the core (thin)."""

import datetime

from tradeops.models import JobRun
from tradeops.schedule import SCHEDULE
from tradeops.scheduling import recorded_job

PRUNE_JOB_RUNS = "tradeops.prune_job_runs"
# The frequent jobs' runs are kept this long; a daily job's runs are kept (the missed-schedule
# watch and the checklist read them).
KEEP_RUNS = datetime.timedelta(days=7)


@recorded_job(PRUNE_JOB_RUNS)
def prune_job_runs(now):
    """Delete the finished runs of every non-daily scheduled job older than KEEP_RUNS: a fanned
    out run writes one row per unit (a minute's sync of 500 sources, 500 rows)."""
    frequent = [schedule.name for schedule in SCHEDULE if not schedule.daily]
    deleted, _ = (
        JobRun.objects.filter(name__in=frequent, started_at__lt=now - KEEP_RUNS)
        .exclude(outcome=JobRun.Outcome.RUNNING)
        .delete()
    )
    return {"deleted": deleted}
