"""`manage.py rqenqueue`, the docs' fix for a missed schedule: with Redis, a scheduled job is
queued on its schedule's queue with its timeout; without (the embedded default), where no worker
would ever take it, it runs right there."""

import django_rq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kpis.jobs import DAILY_SNAPSHOTS
from tradeops.models import JobRun
from tradeops.schedule import QUEUES

pytestmark = pytest.mark.django_db(transaction=True)


def test_without_redis_a_missed_day_runs_in_process(bot, embedded, redis_queue, capsys):
    call_command("rqenqueue", "kpis.jobs.compute_daily_snapshots", "2026-11-20")

    out = capsys.readouterr().out
    assert "No REDIS_URL (the embedded default): running kpis.jobs.compute_daily_snapshots" in out
    assert f"{DAILY_SNAPSHOTS}: 2 run(s) recorded, 0 failed." in out
    runs = JobRun.objects.filter(name=DAILY_SNAPSHOTS).order_by("key")
    assert [(r.key, r.outcome, r.rq_job_id) for r in runs] == [
        ("2026-11-20", "succeeded", ""),
        (f"2026-11-20:{bot.pk}", "succeeded", ""),
    ]
    assert [django_rq.get_queue(name).count for name in QUEUES] == [0, 0, 0]  # none for a worker

    call_command("rqenqueue", "kpis.jobs.compute_daily_snapshots", "2026-11-20")
    assert "nothing to do, it already succeeded" in capsys.readouterr().out


def test_without_redis_a_failing_job_or_a_wrong_name_fails_the_command(embedded):
    with pytest.raises(CommandError, match="no job 'kpis.jobs.nope'"):
        call_command("rqenqueue", "kpis.jobs.nope")
    with pytest.raises(CommandError, match="failed"):
        call_command("rqenqueue", "kpis.jobs.compute_daily_snapshots", "not-a-day")


def test_with_redis_a_scheduled_job_goes_to_its_queue_with_its_timeout(redis_queue):
    call_command("rqenqueue", "tradeops.jobs.prune_job_runs")
    call_command("rqenqueue", "--queue", "default", "tradeops.jobs.prune_job_runs")

    (job,) = django_rq.get_queue("slow").jobs
    assert (job.func_name, job.timeout) == ("tradeops.jobs.prune_job_runs", 3600)
    (asked,) = django_rq.get_queue("default").jobs
    assert asked.func_name == "tradeops.jobs.prune_job_runs"
    assert not JobRun.objects.exists()
