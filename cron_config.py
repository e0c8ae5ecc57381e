"""RQ cron schedule: `python manage.py rqcron cron_config.py` (run exactly one scheduler).

The scheduler only enqueues; RQ workers (`python manage.py rqworker default`) run the jobs.
Times are UTC. Each daily job records its run under the day it is for, so an extra enqueue of
the same day does nothing.
"""

from rq import cron

from experiments.jobs import evaluate_triggers_job
from integrity.jobs import dispatch_alerts, run_daily_integrity_checks, watch_schedules_job
from kpis.jobs import compute_daily_snapshots

# Shortly after midnight UTC, when the previous day's closes are in.
cron.register(compute_daily_snapshots, queue_name="default", cron="5 0 * * *")
cron.register(run_daily_integrity_checks, queue_name="default", cron="10 0 * * *")
# Alert repeats and retries; new incidents are also dispatched the moment they open.
cron.register(dispatch_alerts, queue_name="default", cron="* * * * *")
# The dead man's switch for the daily jobs (it also runs from the ingestion API).
cron.register(watch_schedules_job, queue_name="default", cron="*/10 * * * *")
# Hard rollback triggers of running experiments.
cron.register(evaluate_triggers_job, queue_name="default", cron="*/15 * * * *")
