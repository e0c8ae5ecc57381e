"""RQ entry points for the KPI engine (thin: the work is in kpis.services)."""

import logging

from kpis.services import capture_daily_snapshots, today
from tradeops.scheduling import AlreadyDone, job_day, recorded_run

logger = logging.getLogger(__name__)

DAILY_SNAPSHOTS = "kpis.daily_snapshots"


def compute_daily_snapshots(as_of=None):
    """7d and 30d snapshots of every active bot as of `as_of` (a date or its ISO text; default:
    today, UTC), recorded under that day."""
    as_of = job_day(as_of, today())
    try:
        with recorded_run(DAILY_SNAPSHOTS, as_of.isoformat()) as run:
            snapshots = capture_daily_snapshots(as_of)
            run.detail = {"snapshots": [snapshot.pk for snapshot in snapshots]}
    except AlreadyDone:
        logger.info("daily KPI snapshots for %s already computed", as_of)
