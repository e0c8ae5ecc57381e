"""The embedded default's scheduler: without Redis, the schedule (tradeops.schedule, the list
rqcron enqueues for the workers) runs inside the web server's process (`manage.py run_embedded`,
which `make demo` starts), so the drift and silence watches, alerts, pushes, triggers, scorecards,
digests, KPI snapshots and integrity checks all run with nothing else started.

One thread keeps the time. At an entry's cron time it hands the entry to its queue's lane: a
thread per queue, as production gives the minute queue a worker of its own, so a minute job never
waits behind a scorecard or a day's snapshots. A lane runs its entries one after the other,
in-process, as a worker runs what rqcron enqueues (a fanned-out run's units one after the other,
as `tradeops.scheduling` runs them without Redis); each run is a JobRun as on a worker. An entry
waits in its lane at most once: due again while it waits, it is not queued twice. Cron times
missed while the machine slept or a job ran long run once when the time comes back, not once
each.

A thread cannot be stopped as a worker's work horse is, so the entries' timeouts do not apply:
a stuck job holds its own lane only.
"""

import datetime
import logging
import threading
import time

from django.db import connections
from django.utils import timezone
from django.utils.module_loading import import_string

from tradeops.schedule import SCHEDULE

logger = logging.getLogger(__name__)


def run_entry(entry, now):
    """Run a schedule entry's job in-process as of `now`, as a worker runs it when rqcron
    enqueues it (a daily job for `now`'s day). A failure is recorded in its JobRun and logged."""
    job = import_string(entry.func)
    try:
        if entry.daily:
            job(now.date())
        else:
            job(now=now)
    except Exception:
        logger.exception("scheduled job %s failed", entry.name)
    finally:
        # This thread's connections: a lane holds none between runs.
        connections.close_all()


class Lane:
    """One queue's thread: runs the entries handed to it, in order, one at a time."""

    def __init__(self, queue, stopping):
        self.queue = queue
        self._stopping = stopping
        self._waiting = {}  # entry name -> (entry, now), in the order handed
        self._running = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._work, name=f"schedule-{queue}", daemon=True)

    def start(self):
        self._thread.start()

    def put(self, entry, now):
        """Queue `entry` to run as of `now`, unless it is already waiting; whether it was."""
        with self._changed:
            if entry.name in self._waiting:
                return False
            self._waiting[entry.name] = (entry, now)
            self._changed.notify_all()
            return True

    def waiting(self):
        """The names of the entries waiting their turn."""
        with self._changed:
            return list(self._waiting)

    def idle(self):
        with self._changed:
            return not self._waiting and self._running is None

    def join(self, timeout=None):
        with self._changed:
            self._changed.notify_all()
        self._thread.join(timeout)

    def _work(self):
        while True:
            with self._changed:
                while not self._waiting and not self._stopping.is_set():
                    self._changed.wait(timeout=1)
                if self._stopping.is_set():
                    return
                name = next(iter(self._waiting))
                entry, now = self._waiting.pop(name)
                self._running = name
            try:
                run_entry(entry, now)
            finally:
                with self._changed:
                    self._running = None
                    self._changed.notify_all()


class Scheduler:
    """Runs `entries` (the schedule) in-process at their cron times by `clock` (a callable
    returning an aware datetime; the wall clock by default), looking at it every `poll` seconds.
    """

    def __init__(self, entries=SCHEDULE, clock=timezone.now, poll=1.0):
        self.entries, self.clock, self.poll = entries, clock, poll
        self.last = None
        self._stopping = threading.Event()
        self.lanes = {}
        for entry in entries:
            if entry.queue not in self.lanes:
                self.lanes[entry.queue] = Lane(entry.queue, self._stopping)
        self._thread = threading.Thread(target=self._keep_time, name="schedule", daemon=True)

    def start(self):
        self.last = self.clock()
        for lane in self.lanes.values():
            lane.start()
        self._thread.start()
        return self

    def tick(self, now):
        """Hand every entry with a cron time in (last tick, `now`] to its lane, once however
        many of its times passed; returns their names."""
        if self.last is None or now < self.last:
            # First look, or the clock went back (set by hand): count from here.
            self.last = now
            return []
        due = [entry for entry in self.entries if entry.runs_between(self.last, now)]
        self.last = now
        return [entry.name for entry in due if self.lanes[entry.queue].put(entry, now)]

    def idle(self):
        """Whether no entry is waiting or running."""
        return all(lane.idle() for lane in self.lanes.values())

    def stop(self, timeout=None):
        """Stop handing out entries; wait for the running ones to end (up to `timeout` each)."""
        self._stopping.set()
        self._thread.join(timeout)
        for lane in self.lanes.values():
            lane.join(timeout)

    def _keep_time(self):
        while not self._stopping.is_set():
            try:
                self.tick(self.clock())
            except Exception:
                logger.exception("the embedded scheduler could not hand out its due jobs")
            self._stopping.wait(self.poll)


def sped_up_clock(speed):
    """A clock that starts at the wall clock's now and runs `speed` times faster: tests see
    minutes of schedule in seconds."""
    started, wall = timezone.now(), time.time()
    return lambda: started + datetime.timedelta(seconds=(time.time() - wall) * speed)
