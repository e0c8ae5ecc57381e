"""The job runner: a job is a plain function decorated with `recorded_job`, which records each
run as a JobRun (its outcome, traceback, and the function's return value as its detail).

A daily job runs once per UTC day, for the day it is given (a date or its ISO text, as
`manage.py rqenqueue` passes it) or today, so a double enqueue is harmless and a failed day can
be rerun; any other job runs each time it is called, with the time it starts."""

import datetime
from types import SimpleNamespace

import django_rq
import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from django.utils.module_loading import import_string
from django_rq.cron import DjangoCronScheduler
from rq.job import Job

from cadence.jobs import refresh_trigger_headroom_job, send_daily_digests
from experiments.jobs import evaluate_triggers_job, push_release_changes, refresh_scorecards
from ingestion.jobs import sync_freqtrade_sources
from integrity.breaker import check_circuit_breakers_job
from integrity.jobs import (
    dispatch_alerts,
    run_daily_integrity_checks,
    watch_bot_loop_job,
    watch_schedules_job,
)
from integrity.schedules import WATCHED
from kpis.jobs import DAILY_SNAPSHOTS, compute_daily_snapshots
from tests.queues import run_workers_burst
from tradeops.jobs import prune_job_runs
from tradeops.models import JobRun
from tradeops.schedule import SCHEDULE
from tradeops.scheduling import recorded_job

DAILY, EVERY = "tests.daily_job", "tests.every_run_job"
calls, failing_days = [], set()


@pytest.fixture(autouse=True)
def no_calls_yet():
    calls.clear()
    failing_days.clear()


@recorded_job(DAILY, daily=True)
def daily_job(day):
    """A daily job: says which day it ran for, or fails on a failing day."""
    calls.append(day)
    if day in failing_days:
        raise ValueError("boom")
    return {"day": day.isoformat()}


@recorded_job(EVERY)
def every_run_job(now):
    calls.append(now)


def outcomes(name):
    return list(JobRun.objects.filter(name=name).order_by("started_at").values_list("outcome"))


@pytest.mark.django_db
def test_a_daily_job_runs_once_for_the_day_it_is_given(caplog):
    daily_job("2026-11-20")
    daily_job(datetime.date(2026, 11, 20))  # a double enqueue for the same day does nothing

    assert calls == [datetime.date(2026, 11, 20)]
    run = JobRun.objects.get(name=DAILY)
    assert (run.key, run.outcome, run.detail) == ("2026-11-20", "succeeded", {"day": "2026-11-20"})
    assert run.started_at <= run.finished_at and run.rq_job_id == ""
    assert "tests.daily_job already succeeded for 2026-11-20" in caplog.text


@pytest.mark.django_db
def test_a_daily_job_runs_for_today_utc_by_default(monkeypatch):
    # The runner's clock a microsecond before midnight UTC: its day, not the next one (the
    # test read the day after the run, and raced midnight).
    last_moment = datetime.datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=datetime.UTC)
    monkeypatch.setattr("tradeops.scheduling.timezone", SimpleNamespace(now=lambda: last_moment))
    daily_job()
    assert JobRun.objects.get(name=DAILY).key == last_moment.date().isoformat()


@pytest.mark.django_db
def test_a_failed_day_is_recorded_with_its_traceback_and_its_rerun_succeeds():
    failing_days.add(datetime.date(2026, 11, 19))
    with pytest.raises(ValueError, match="boom"):
        daily_job("2026-11-19")

    failed = JobRun.objects.get(name=DAILY)
    assert (failed.key, failed.outcome, failed.detail) == ("2026-11-19", "failed", {})
    assert failed.error.startswith("Traceback") and "ValueError: boom" in failed.error
    assert failed.finished_at is not None

    failing_days.clear()
    daily_job("2026-11-19")
    assert outcomes(DAILY) == [("failed",), ("succeeded",)]


@pytest.mark.django_db
def test_any_other_job_runs_each_time_with_the_time_it_starts():
    before = timezone.now()
    every_run_job()
    every_run_job()

    assert before <= calls[0] < calls[1] <= timezone.now()
    runs = JobRun.objects.filter(name=EVERY).order_by("started_at")
    assert [run.key for run in runs] == [now.isoformat(timespec="microseconds") for now in calls]
    assert [(run.outcome, run.detail) for run in runs] == [("succeeded", {})] * 2


JOBS = {
    "kpis.jobs.compute_daily_snapshots": compute_daily_snapshots,
    "integrity.jobs.run_daily_integrity_checks": run_daily_integrity_checks,
    "integrity.jobs.dispatch_alerts": dispatch_alerts,
    "experiments.jobs.push_release_changes": push_release_changes,
    "integrity.jobs.watch_schedules_job": watch_schedules_job,
    "integrity.jobs.watch_bot_loop_job": watch_bot_loop_job,
    "integrity.breaker.check_circuit_breakers_job": check_circuit_breakers_job,
    "experiments.jobs.evaluate_triggers_job": evaluate_triggers_job,
    "experiments.jobs.refresh_scorecards": refresh_scorecards,
    "ingestion.jobs.sync_freqtrade_sources": sync_freqtrade_sources,
    "cadence.jobs.send_daily_digests": send_daily_digests,
    "cadence.jobs.refresh_trigger_headroom_job": refresh_trigger_headroom_job,
    "tradeops.jobs.prune_job_runs": prune_job_runs,
}


def test_jobs_keep_the_dotted_paths_rq_and_the_watch_know_them_by():
    for path, job in JOBS.items():
        assert import_string(path) is job
        assert Job.create(job, connection=django_rq.get_connection("default")).func_name == path
    assert {daily.func for daily in WATCHED.values()} <= set(JOBS)
    assert {entry.func for entry in SCHEDULE} == set(JOBS)


def test_the_cron_config_schedules_every_job_of_the_schedule_on_its_queue_with_its_timeout():
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file(str(settings.BASE_DIR / "cron_config.py"))

    schedule = {
        job.func_name: (job.cron, job.queue_name, job.job_options["job_timeout"])
        for job in scheduler.get_jobs()
    }
    assert schedule == {
        "integrity.jobs.watch_bot_loop_job": ("* * * * *", "minute", 120),
        "integrity.breaker.check_circuit_breakers_job": ("* * * * *", "minute", 120),
        "integrity.jobs.dispatch_alerts": ("* * * * *", "minute", 120),
        "experiments.jobs.push_release_changes": ("* * * * *", "minute", 120),
        "integrity.jobs.watch_schedules_job": ("*/10 * * * *", "default", 300),
        "experiments.jobs.evaluate_triggers_job": ("*/15 * * * *", "default", 600),
        "ingestion.jobs.sync_freqtrade_sources": ("* * * * *", "default", 300),
        "experiments.jobs.refresh_scorecards": ("*/15 * * * *", "slow", 900),
        "cadence.jobs.refresh_trigger_headroom_job": ("*/15 * * * *", "slow", 900),
        "cadence.jobs.send_daily_digests": ("*/5 * * * *", "slow", 600),
        "kpis.jobs.compute_daily_snapshots": ("5 0 * * *", "slow", 3600),
        "integrity.jobs.run_daily_integrity_checks": ("10 0 * * *", "slow", 3600),
        "tradeops.jobs.prune_job_runs": ("30 1 * * *", "slow", 3600),
    }


@pytest.mark.django_db(transaction=True)
def test_a_missed_day_rerun_with_rqenqueue_is_recorded_under_that_day(bot, redis_queue):
    call_command("rqenqueue", "kpis.jobs.compute_daily_snapshots", "2026-11-20")

    run_workers_burst()

    run = JobRun.objects.get(name=DAILY_SNAPSHOTS, key="2026-11-20")
    assert run.outcome == "succeeded" and run.rq_job_id
    unit = JobRun.objects.get(name=DAILY_SNAPSHOTS, key=f"2026-11-20:{bot.pk}")
    assert unit.outcome == "succeeded"
    assert len(unit.detail["snapshots"]) == 2  # 7d and 30d of the one bot
