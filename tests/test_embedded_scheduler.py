"""The embedded default's scheduler (tradeops.embedded): the schedule's entries run in-process at
their cron times, by a clock the tests drive, each recorded as on a worker."""

import datetime
import threading
import time

import pytest
from django.utils import timezone

from tradeops.embedded import Scheduler
from tradeops.models import JobRun
from tradeops.schedule import BY_NAME, MINUTE, SLOW, Schedule

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime.datetime(2026, 12, 1, 12, 0, 30, tzinfo=datetime.UTC)
WATCH = BY_NAME["integrity.watch_bot_loop"]
held = threading.Event()
ran = []


def slow_job(now=None):
    """A long job: holds its lane until the test lets go."""
    ran.append(("slow", now))
    assert held.wait(timeout=30)


def quick_job(now=None):
    ran.append(("quick", now))


SLOW_ENTRY = Schedule("test.slow", f"{__name__}.slow_job", "* * * * *", SLOW, timeout=60)
QUICK_ENTRY = Schedule("test.quick", f"{__name__}.quick_job", "* * * * *", MINUTE, timeout=60)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def until(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def scheduler():
    started = []

    def start(entries, clock):
        started.append(Scheduler(entries, clock=clock, poll=0.01).start())
        return started[-1]

    yield start
    held.set()
    for each in started:
        each.stop(timeout=30)
    held.clear()
    ran.clear()


def test_an_entry_runs_at_its_cron_time_as_of_the_schedulers_clock_and_is_recorded(scheduler):
    clock = Clock(T0)
    running = scheduler([WATCH], clock)
    time.sleep(0.1)
    assert not JobRun.objects.exists()  # 12:00:30: the next minute is not there yet

    clock.now = T0 + datetime.timedelta(seconds=40)  # 12:01:10
    until(lambda: JobRun.objects.filter(outcome=JobRun.Outcome.SUCCEEDED).exists())
    until(running.idle)

    run = JobRun.objects.get()
    assert (run.name, run.key) == (WATCH.name, "2026-12-01T12:01:10.000000+00:00")


def test_missed_cron_times_run_once_when_the_clock_comes_back(scheduler):
    """A laptop asleep for three hours: the minute watch's 180 missed times run once."""
    clock = Clock(T0)
    running = scheduler([WATCH], clock)
    time.sleep(0.1)

    clock.now = T0 + datetime.timedelta(hours=3)
    until(lambda: JobRun.objects.exists())
    time.sleep(0.3)
    until(running.idle)

    assert JobRun.objects.filter(name=WATCH.name).count() == 1


def test_a_minute_job_does_not_wait_behind_a_long_one_which_waits_once(scheduler):
    clock = Clock(T0)
    running = scheduler([SLOW_ENTRY, QUICK_ENTRY], clock)
    for minute in range(1, 4):
        clock.now = T0 + datetime.timedelta(minutes=minute)
        until(lambda m=minute: sum(name == "quick" for name, _ in ran) == m)

    # Three minutes passed: the quick job ran each; the slow one still runs its first and
    # waits once, not twice.
    assert [name for name, _ in ran].count("slow") == 1
    assert running.lanes[SLOW].waiting() == ["test.slow"]
    held.set()
    until(running.idle)
    assert [name for name, _ in ran].count("slow") == 2


def test_the_clock_going_back_loses_no_run(scheduler):
    clock = Clock(T0)
    running = scheduler([QUICK_ENTRY], clock)
    time.sleep(0.1)
    clock.now = T0 - datetime.timedelta(hours=1)  # set back by hand
    time.sleep(0.1)
    clock.now = T0 - datetime.timedelta(hours=1) + datetime.timedelta(minutes=1)
    until(lambda: len(ran) == 1)
    until(running.idle)
    assert ran == [("quick", clock.now)]


def test_a_scheduled_job_runs_as_of_the_time_it_is_given(transactional_db):
    """The job the scheduler calls takes its clock; by default the run starts now."""
    from integrity.jobs import watch_bot_loop_job

    watch_bot_loop_job(now=T0)
    watch_bot_loop_job()

    keys = sorted(JobRun.objects.values_list("key", flat=True))
    assert keys[0] == T0.isoformat(timespec="microseconds")
    assert datetime.datetime.fromisoformat(keys[1]) > timezone.now() - datetime.timedelta(minutes=1)
