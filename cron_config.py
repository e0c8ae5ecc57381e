"""RQ cron schedule: `python manage.py rqcron cron_config.py` (run exactly one scheduler).

The scheduler only enqueues; RQ workers (`python manage.py rqworker default`) run the jobs.
Times are UTC. Each daily job records its run under the day it is for, so an extra enqueue of
the same day does nothing.
"""

from rq import cron

from cadence.jobs import refresh_trigger_headroom_job, send_daily_digests
from experiments.jobs import evaluate_triggers_job, refresh_scorecards
from ingestion.jobs import sync_freqtrade_sources
from integrity.jobs import (
    DAILY_CHECKS,
    dispatch_alerts,
    push_release_changes,
    run_daily_integrity_checks,
    watch_bot_loop_job,
    watch_schedules_job,
)
from integrity.schedules import WATCHED
from kpis.jobs import DAILY_SNAPSHOTS, compute_daily_snapshots

# The watched daily jobs, at the times the missed-schedule watch expects them.
cron.register(compute_daily_snapshots, queue_name="default", cron=WATCHED[DAILY_SNAPSHOTS].cron)
cron.register(run_daily_integrity_checks, queue_name="default", cron=WATCHED[DAILY_CHECKS].cron)
# Alert repeats and retries; new incidents are also dispatched the moment they open.
cron.register(dispatch_alerts, queue_name="default", cron="* * * * *")
# Release pushes to bots' webhooks: retries (a change is pushed the moment it commits). Apart from
# the alerts, so a slow bot endpoint never delays an alert.
cron.register(push_release_changes, queue_name="default", cron="* * * * *")
# The dead man's switch for the daily jobs and the abandoned-run sweep (both also run from the
# ingestion API).
cron.register(watch_schedules_job, queue_name="default", cron="*/10 * * * *")
# Config drift and silent bots: their graces are minutes. Not in the missed-schedule watch, which
# watches daily jobs; a dead scheduler shows there first.
cron.register(watch_bot_loop_job, queue_name="default", cron="* * * * *")
# Hard rollback triggers of running experiments.
cron.register(evaluate_triggers_job, queue_name="default", cron="*/15 * * * *")
# The stored experiment scorecards the experiment page shows (also refreshed on start and review).
cron.register(refresh_scorecards, queue_name="default", cron="*/15 * * * *")
# freqtrade bots' databases (their enabled freqtrade sources): new and still-open trades.
cron.register(sync_freqtrade_sources, queue_name="default", cron="* * * * *")
# The operating cadence: each bot's daily digest at its digest hour (queued once a day per
# channel; this also retries), covered by the missed-schedule watch; and the trigger headroom the
# command center shows, as often as the triggers are evaluated.
cron.register(send_daily_digests, queue_name="default", cron="*/5 * * * *")
cron.register(refresh_trigger_headroom_job, queue_name="default", cron="*/15 * * * *")
