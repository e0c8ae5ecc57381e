"""RQ cron schedule: `python manage.py rqcron cron_config.py` (run exactly one scheduler).

Every entry of the schedule (tradeops.schedule, the one list of periodic jobs) on its queue,
with its own timeout: RQ's cron would otherwise give each job RQ's 180 s default, whatever
RQ_QUEUES says. The scheduler only enqueues; the workers that run each queue are in
tradeops.schedule's docstring. Times are UTC.
"""

from django.utils.module_loading import import_string
from rq import cron

from tradeops.schedule import SCHEDULE

for entry in SCHEDULE:
    cron.register(
        import_string(entry.func),
        queue_name=entry.queue,
        cron=entry.cron,
        job_timeout=entry.timeout,
        name=entry.name,
    )
