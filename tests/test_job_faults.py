"""A worker killed mid-job (kill -9) cannot record its run's end: the sweep marks the run failed,
from RQ's view of the job or from the job timeout, and the next run for that key succeeds."""

import datetime
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.utils import timezone
from redis import exceptions as redis_exceptions

from tests import servers
from tradeops.models import JobRun
from tradeops.scheduling import ABANDONED, recorded_run, sweep_abandoned_runs

BLOCKING = "tests.blocking_job"
DAY = "2026-11-20"


def blocking_job(key, pid_file=""):
    """Records its run, then, given a pid file, writes its process id there and blocks."""
    with recorded_run(BLOCKING, key):
        if pid_file:
            Path(pid_file).write_text(str(os.getpid()))
            time.sleep(300)


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def own_redis(tmp_path, settings):
    """A Redis server of this test's own, nothing else shares it: a killed worker's leftovers
    (its registration, the failed job) go with the server, so nothing is flushed anywhere (the
    fixture flushed the configured database before, which other runs or a developer's Redis may
    share). The test and the worker both use it."""
    port = servers.free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(tmp_path)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    settings.REDIS_URL = url
    settings.RQ_QUEUES = {name: {**queue, "URL": url} for name, queue in settings.RQ_QUEUES.items()}
    wait_for(lambda: _answers(django_rq.get_connection("default")))
    yield url
    server.terminate()
    server.wait(timeout=10)


def _answers(redis):
    try:
        return redis.ping()
    except redis_exceptions.ConnectionError:
        return False


@pytest.fixture
def worker(tmp_path, own_redis):
    """A real `manage.py rqworker default` process on this test's database and its own Redis."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": own_redis,
    }
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    log.close()


def start_blocking_job(tmp_path):
    """Enqueue the blocking job; returns it and its work horse's pid once it is running."""
    pid_file = tmp_path / "horse.pid"
    job = django_rq.get_queue("default").enqueue(blocking_job, DAY, str(pid_file))
    wait_for(lambda: pid_file.exists() and pid_file.read_text())
    run = JobRun.objects.get(name=BLOCKING)
    assert (run.outcome, run.rq_job_id) == ("running", job.id)
    return job, int(pid_file.read_text())


def assert_abandoned_then_retried():
    dead = JobRun.objects.get(name=BLOCKING)
    assert (dead.outcome, dead.error) == ("failed", ABANDONED) and dead.finished_at

    blocking_job(DAY)  # the next run for the same key

    outcomes = JobRun.objects.filter(key=DAY).order_by("started_at").values_list("outcome")
    assert [outcome for (outcome,) in outcomes] == ["failed", "succeeded"]


@pytest.mark.django_db(transaction=True)
def test_work_horse_killed_mid_job_is_failed_by_the_sweep_and_the_next_run_succeeds(
    worker, tmp_path
):
    job, horse = start_blocking_job(tmp_path)

    os.kill(horse, signal.SIGKILL)
    wait_for(lambda: job.get_status(refresh=True) == "failed")  # the worker saw its horse die
    assert JobRun.objects.get(name=BLOCKING).outcome == "running"  # nobody told the row

    assert sweep_abandoned_runs() == 1
    assert_abandoned_then_retried()


@pytest.mark.django_db(transaction=True)
def test_whole_worker_killed_mid_job_is_failed_once_its_heartbeats_stop(worker, tmp_path):
    job, horse = start_blocking_job(tmp_path)

    os.kill(worker.pid, signal.SIGKILL)  # the machine is gone: worker and work horse
    os.kill(horse, signal.SIGKILL)
    worker.wait(timeout=10)

    assert sweep_abandoned_runs() == 0  # RQ still counts it started: heartbeats are recent
    # Two minutes on, RQ's heartbeat (90 s) has lapsed, long before the job timeout would.
    assert sweep_abandoned_runs(timezone.now() + datetime.timedelta(minutes=2)) == 1
    assert job.get_status(refresh=True) == "failed"
    assert_abandoned_then_retried()


@pytest.mark.django_db
def test_a_run_stuck_past_the_job_timeout_is_failed_without_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.RQ_QUEUES = {"default": {"URL": settings.REDIS_URL, "DEFAULT_TIMEOUT": 600}}
    started = timezone.now() - datetime.timedelta(minutes=30)
    stuck = JobRun.objects.create(name=BLOCKING, key=DAY, started_at=started, rq_job_id="gone")
    in_process = JobRun.objects.create(name=BLOCKING, key="other", started_at=started)
    recent = JobRun.objects.create(name=BLOCKING, key="recent", started_at=timezone.now())

    assert sweep_abandoned_runs() == 2

    outcomes = dict(JobRun.objects.values_list("pk", "outcome"))
    assert outcomes == {stuck.pk: "failed", in_process.pk: "failed", recent.pk: "running"}


@pytest.mark.django_db
def test_a_run_the_sweep_gave_up_on_still_records_how_it_ended():
    with recorded_run(BLOCKING, DAY) as run:
        sweep_abandoned_runs(timezone.now() + datetime.timedelta(hours=1))
        assert JobRun.objects.get(pk=run.pk).outcome == "failed"
    assert JobRun.objects.get(pk=run.pk).outcome == "succeeded"
