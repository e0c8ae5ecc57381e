"""RQ entry points for the KPI engine (thin: the work is in kpis.services)."""

from kpis.services import capture_daily_snapshots
from tradeops.scheduling import recorded_job

DAILY_SNAPSHOTS = "kpis.daily_snapshots"


@recorded_job(DAILY_SNAPSHOTS, daily=True)
def compute_daily_snapshots(as_of):
    """7d and 30d snapshots of every active bot as of the day the job runs for."""
    return {"snapshots": [snapshot.pk for snapshot in capture_daily_snapshots(as_of)]}
