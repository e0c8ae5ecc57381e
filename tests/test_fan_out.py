"""A periodic run fans out one RQ job per unit (a bot's source, an experiment, a bot's day), on
its schedule's queue with its schedule's timeout, so workers share a run: one bot's slow or
failing job does not hold up another's, a second enqueue in the same period does nothing, and
a minute job runs while a long job holds another worker. Real Redis, real worker processes."""

import contextlib
import dataclasses
import datetime
import os
import socket
import subprocess
import sys
import threading
import time

import django_rq
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django_rq.cron import DjangoCronScheduler
from rq import Worker

from cadence.services import queue_daily_digests
from ingestion.freqtrade import configure_source
from ingestion.jobs import SYNC_FREQTRADE, sync_freqtrade_sources
from ingestion.models import FreqtradeSource
from integrity.jobs import WATCH_BOT_LOOP, watch_bot_loop_job
from integrity.models import AlertChannel
from kpis.jobs import DAILY_SNAPSHOTS, compute_daily_snapshots
from tests.factories import FREQTRADE_DATABASE
from tests.queues import run_workers_burst
from tradeops import schedule
from tradeops.models import Bot, JobRun, Trade
from tradeops.schedule import BY_NAME, MINUTE, SLOW
from tradeops.scheduling import unit_job_id, unit_key
from tradeops.services import create_bot

LIVE = datetime.datetime(2026, 11, 20, 9, 30, tzinfo=datetime.UTC)
PERIOD = "2026-11-20T09:30:00+00:00"
SYNC_QUEUE = BY_NAME[SYNC_FREQTRADE].queue
HANG = 6  # seconds a hanging freqtrade database holds its sync (its connect_timeout)


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


@pytest.fixture
def hanging_database():
    """A TCP server that accepts and never answers: a freqtrade database on PostgreSQL whose
    sync waits out its connect_timeout, then fails. Its URL."""
    server = socket.create_server(("127.0.0.1", 0))
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"postgresql+psycopg2://u@127.0.0.1:{server.getsockname()[1]}/ft?connect_timeout={HANG}"
    stop.set()
    thread.join()
    for sock in held:
        sock.close()
    server.close()


@pytest.fixture
def workers(tmp_path, redis_queue):
    """Starts real `manage.py rqworker <queues>` processes on this test's database and Redis;
    `workers(*queues)` starts one and waits until it listens."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    started = []

    def start(*queues):
        log = (tmp_path / f"worker{len(started)}.log").open("w")
        started.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "rqworker", *queues],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        connection = django_rq.get_connection("default")
        wait_for(lambda: len(Worker.all(connection=connection)) == len(started))

    yield start
    for process in started:
        process.terminate()
    for process in started:
        process.wait(timeout=30)


def source_of(slug, url):
    """An active bot with an enabled freqtrade source at `url`."""
    bot, _ = create_bot(slug=slug, name=slug)
    source = configure_source(bot, f"sqlite:///{FREQTRADE_DATABASE}", now=LIVE)
    FreqtradeSource.objects.filter(pk=source.pk).update(db_url=url)
    return bot, source


def unit_run(source):
    return JobRun.objects.filter(name=SYNC_FREQTRADE, key=unit_key(PERIOD, source.pk)).first()


@pytest.mark.django_db(transaction=True)
def test_one_bots_slow_failing_job_does_not_delay_another_bots(workers, hanging_database):
    # The hanging bot comes first in every order the fleet was walked in (slug, pk).
    slow_bot, slow = source_of("aaa-hanging", hanging_database)
    fast_bot, fast = source_of("zzz-fast", f"sqlite:///{FREQTRADE_DATABASE}")
    workers(SYNC_QUEUE)
    workers(SYNC_QUEUE)

    started = time.monotonic()
    django_rq.get_queue(SYNC_QUEUE).enqueue(sync_freqtrade_sources, kwargs={"period": PERIOD})

    done = wait_for(lambda: (run := unit_run(fast)) and run.outcome == "succeeded" and run)
    took = time.monotonic() - started
    assert took < HANG, f"the fast bot waited {took:.1f} s"
    assert Trade.objects.filter(bot=fast_bot).count() == 11
    assert unit_run(slow).outcome == "running"  # still waiting on its database

    failed = wait_for(lambda: (run := unit_run(slow)) and run.outcome == "failed" and run)
    assert failed.finished_at > done.finished_at
    assert "freqtrade database" in failed.error.lower() or "timeout" in failed.error.lower()
    assert not Trade.objects.filter(bot=slow_bot).exists()
    # The run itself succeeded: it handed each source its own job.
    (fan_out,) = JobRun.objects.filter(name=SYNC_FREQTRADE, detail__period=PERIOD)
    assert fan_out.outcome == "succeeded"
    assert fan_out.detail["started"] == [str(slow.pk), str(fast.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_double_enqueue_in_a_period_does_nothing(redis_queue):
    sources = [source_of(slug, f"sqlite:///{FREQTRADE_DATABASE}")[1] for slug in ("a", "b")]
    queue = django_rq.get_queue(SYNC_QUEUE)
    queue.empty()
    # Twice for one period, as two schedulers (or a restarted one) would.
    for _ in range(2):
        queue.enqueue(sync_freqtrade_sources, kwargs={"period": PERIOD})

    run_workers_burst()

    fan_outs = JobRun.objects.filter(name=SYNC_FREQTRADE, detail__period=PERIOD)
    started = sorted((run.detail["started"] for run in fan_outs), key=len)
    assert started == [[], [str(source.pk) for source in sources]]
    for source in sources:
        assert JobRun.objects.filter(key=unit_key(PERIOD, source.pk)).count() == 1
        job = queue.fetch_job(unit_job_id(SYNC_FREQTRADE, source.pk, PERIOD))
        # Each unit's job carries its schedule's timeout, not RQ's 180 s.
        assert (job.get_status(), job.timeout) == ("finished", BY_NAME[SYNC_FREQTRADE].timeout)

    # Once more after they ran: the period's jobs are kept for the period, still nothing.
    queue.enqueue(sync_freqtrade_sources, kwargs={"period": PERIOD})
    run_workers_burst()
    assert JobRun.objects.filter(key__startswith=f"{PERIOD}:").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_unit_still_queued_from_the_last_period_is_not_queued_again(redis_queue):
    (source,) = [source_of("a", f"sqlite:///{FREQTRADE_DATABASE}")[1]]
    queue = django_rq.get_queue(SYNC_QUEUE)
    queue.empty()
    next_period = "2026-11-20T09:31:00+00:00"
    sync_freqtrade_sources(period=PERIOD)  # no worker yet: its job waits
    sync_freqtrade_sources(period=next_period)  # the next minute's run finds it waiting

    assert queue.job_ids == [unit_job_id(SYNC_FREQTRADE, source.pk, PERIOD)]
    latest = JobRun.objects.filter(detail__period=next_period).get()
    assert latest.detail == {"period": next_period, "units": [str(source.pk)], "started": []}


@pytest.mark.django_db(transaction=True)
def test_the_minutely_sync_does_not_wait_behind_the_daily_runs_units(redis_queue):
    """At 00:05 and 00:10 the daily runs queue a job per bot; the freqtrade sync, due every
    minute, goes ahead of them on a worker that takes every queue (bench/fleet.py found it a
    minute late behind 1,050 daily units when both shared `slow`)."""
    _, source = source_of("a", f"sqlite:///{FREQTRADE_DATABASE}")
    for n in range(5):
        create_bot(slug=f"bot-{n}")
    compute_daily_snapshots("2026-11-20")  # its units wait on their queue
    django_rq.get_queue(SYNC_QUEUE).enqueue(sync_freqtrade_sources, kwargs={"period": PERIOD})

    run_workers_burst()

    snapshots = JobRun.objects.filter(name=DAILY_SNAPSHOTS).exclude(key="2026-11-20")
    assert snapshots.count() == 6 and {run.outcome for run in snapshots} == {"succeeded"}
    assert unit_run(source).started_at < min(run.started_at for run in snapshots)


@pytest.mark.django_db(transaction=True)
def test_a_minute_job_runs_while_a_long_job_holds_another_worker(workers, hanging_database):
    # The recommended set-up: one worker on the minute queue alone, one on every queue.
    workers(MINUTE)
    workers(MINUTE, "default", SLOW)
    _, slow = source_of("hanging", hanging_database)
    django_rq.get_queue(SYNC_QUEUE).enqueue(sync_freqtrade_sources, kwargs={"period": PERIOD})
    wait_for(lambda: (run := unit_run(slow)) and run.outcome == "running")

    entry = BY_NAME[WATCH_BOT_LOOP]
    asked = time.monotonic()
    job = django_rq.get_queue(entry.queue).enqueue(watch_bot_loop_job, job_timeout=entry.timeout)

    wait_for(lambda: job.get_status(refresh=True) == "finished", seconds=HANG)
    assert time.monotonic() - asked < HANG / 2
    assert JobRun.objects.get(name=WATCH_BOT_LOOP).outcome == "succeeded"
    assert unit_run(slow).outcome == "running"  # the long job still holds the other worker


def test_cron_jobs_carry_their_schedules_queue_and_timeout(redis_queue):
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file(str(settings.BASE_DIR / "cron_config.py"))
    connection = django_rq.get_connection("default")

    jobs = {cron_job.name: cron_job.enqueue(connection) for cron_job in scheduler.get_jobs()}

    assert set(jobs) == set(BY_NAME)
    for name, job in jobs.items():
        assert (job.origin, job.timeout) == (BY_NAME[name].queue, BY_NAME[name].timeout), name
    assert jobs["experiments.refresh_scorecards"].timeout == 900  # was RQ's 180 s
    for queue in settings.RQ_QUEUES:
        django_rq.get_queue(queue).empty()


@pytest.mark.parametrize("field", ["func", "units", "unit_func"])
def test_the_system_check_fails_on_a_mistyped_dotted_path(monkeypatch, field):
    call_command("check")  # the schedule as it is passes
    entry = BY_NAME["kpis.daily_snapshots"]
    typo = dataclasses.replace(entry, **{field: getattr(entry, field) + "x"})
    monkeypatch.setattr(
        schedule, "SCHEDULE", tuple(typo if e is entry else e for e in schedule.SCHEDULE)
    )

    with pytest.raises(SystemCheckError, match=f"{field} 'kpis.jobs.[a-z_]+x' does not import"):
        call_command("check")


def test_the_system_check_fails_on_a_queue_no_worker_knows(monkeypatch):
    entry = BY_NAME["integrity.watch_bot_loop"]
    monkeypatch.setattr(schedule, "SCHEDULE", (dataclasses.replace(entry, queue="urgent"),))
    with pytest.raises(SystemCheckError, match="queue 'urgent' is not in RQ_QUEUES"):
        call_command("check")


@pytest.mark.django_db
def test_a_digest_is_built_only_when_due_and_not_yet_queued(
    django_assert_max_num_queries, embedded
):
    AlertChannel.objects.create(name="Ops", kind="email", target="ops@example.com")
    for n in range(5):
        bot, _ = create_bot(slug=f"bot{n}", name=f"Bot {n}")
        Bot.objects.filter(pk=bot.pk).update(digest_hour=0)
    now = datetime.datetime.now(datetime.UTC)
    assert len(queue_daily_digests(now)) == 5

    # Every few minutes until midnight: nothing is built again (it cost a digest a bot).
    with django_assert_max_num_queries(3):
        assert queue_daily_digests(now + datetime.timedelta(minutes=5)) == []
