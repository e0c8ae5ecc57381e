"""The schedule: the one list of periodic jobs, read by cron_config.py (the RQ scheduler), the
missed-schedule watches (integrity.schedules, cadence.schedules), `tradeops.scheduling` (queue,
timeout and fan-out of each run) and whatever runs the schedule in-process.

Entries name their functions by dotted path, so this core module imports no app; the system
checks (tradeops.checks) import every path, so a typo fails `manage.py check` and the tests.

Queues by urgency. A worker takes jobs from its queues in the order it lists them, but a worker
busy with a long job takes nothing: so production runs one worker on `minute` alone, and the
others on `default slow` (any number; they share each fanned-out run):

    manage.py rqworker minute                 # exactly one, or more: minute jobs only
    manage.py rqworker minute default slow    # 1..n: the rest, minute first when idle
    manage.py rqcron cron_config.py           # exactly one scheduler

Times are UTC (Django sets the process time zone to TIME_ZONE, which RQ's cron reads).
"""

import dataclasses
import datetime

from croniter import croniter

MINUTE, DEFAULT, SLOW = "minute", "default", "slow"
QUEUES = (MINUTE, DEFAULT, SLOW)  # by urgency, the order a worker should list them


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A periodic job.

    `func` is what cron enqueues (decorated with `recorded_job` or `fan_out_job` under `name`).
    With `units`, a run fans out: `units(when)` lists the run's units (a bot's or an
    experiment's key) and `unit_func(unit, when)` does one unit's work, as its own RQ job on the
    same queue and with the same timeout, whose id names job, unit and period (a second enqueue
    of that unit in that period does nothing).

    `daily` runs are for one UTC day (the function's argument) and recorded under it. `grace`
    makes the missed-schedule watch expect each day's run by its cron time plus grace.
    """

    name: str
    func: str
    cron: str
    queue: str
    timeout: int  # seconds, for each job of a run
    units: str = ""
    unit_func: str = ""
    daily: bool = False
    grace: datetime.timedelta | None = None

    @property
    def fans_out(self):
        return bool(self.units)

    @property
    def runs_at(self):
        """A daily job's time of day (UTC)."""
        minute, hour = self.cron.split()[:2]
        return datetime.time(int(hour), int(minute))

    def period_start(self, when):
        """The start of the cron period `when` falls in: the latest cron time at or before it."""
        minute = when.astimezone(datetime.UTC).replace(second=0, microsecond=0)
        return croniter(self.cron, minute + datetime.timedelta(minutes=1)).get_prev(
            datetime.datetime
        )

    def period_seconds(self, when):
        """How long the period `when` falls in lasts."""
        start = self.period_start(when)
        return int((croniter(self.cron, start).get_next(datetime.datetime) - start).total_seconds())

    def runs_between(self, since, until):
        """The cron times in (since, until]: what an in-process scheduler would run."""
        times, it = [], croniter(self.cron, since)
        while (at := it.get_next(datetime.datetime)) <= until:
            times.append(at)
        return times


HOUR = 3600
SCHEDULE = (
    # -- minute: the loop watch, alerts and pushes; nothing here may wait behind a long job.
    # Fleet-wide and cheap (a few queries a bot): one job each, as a job per bot would cost more
    # in forks and connections than the work.
    # Config drift and silent bots: their graces are minutes.
    Schedule("integrity.watch_bot_loop", "integrity.jobs.watch_bot_loop_job", "* * * * *",
             MINUTE, timeout=120),
    # The intraday circuit breaker: today's equity change, HALT and safety events; it stops
    # entries within the minute.
    Schedule("integrity.circuit_breakers", "integrity.breaker.check_circuit_breakers_job",
             "* * * * *", MINUTE, timeout=120),
    # Alert repeats and retries; new incidents are also dispatched the moment they open.
    Schedule("integrity.dispatch_alerts", "integrity.jobs.dispatch_alerts", "* * * * *",
             MINUTE, timeout=120),
    # Release pushes' retries (a change is pushed the moment it commits).
    Schedule("integrity.push_release_changes", "experiments.jobs.push_release_changes",
             "* * * * *", MINUTE, timeout=120),
    # -- default
    # The dead man's switch for the daily jobs and the abandoned-run sweep (both also run from
    # the ingestion API).
    Schedule("integrity.watch_schedules", "integrity.jobs.watch_schedules_job", "*/10 * * * *",
             DEFAULT, timeout=300),
    # Hard rollback triggers: one job per live experiment or holding scaling step.
    Schedule("experiments.evaluate_triggers", "experiments.jobs.evaluate_triggers_job",
             "*/15 * * * *", DEFAULT, timeout=600,
             units="experiments.jobs.live_subjects", unit_func="experiments.jobs.evaluate_subject"),
    # freqtrade bots' databases: one job per enabled source of an active bot. Every minute, so
    # not behind the daily runs' hundreds of units on `slow` (bench/fleet.py: a minute late).
    Schedule("ingestion.sync_freqtrade", "ingestion.jobs.sync_freqtrade_sources", "* * * * *",
             DEFAULT, timeout=300,
             units="ingestion.jobs.enabled_sources", unit_func="ingestion.jobs.sync_one_source"),
    # -- slow
    # The stored scorecards the experiment page shows: one job per experiment running or in
    # review (also refreshed on start and review).
    Schedule("experiments.refresh_scorecards", "experiments.jobs.refresh_scorecards",
             "*/15 * * * *", SLOW, timeout=900,
             units="experiments.jobs.scored_experiments",
             unit_func="experiments.jobs.refresh_experiment_scorecard"),
    # The trigger headroom the command center shows, as often as the triggers are evaluated.
    Schedule("cadence.trigger_headroom", "cadence.jobs.refresh_trigger_headroom_job",
             "*/15 * * * *", SLOW, timeout=900),
    # Each bot's daily digest at its digest hour (built once, when due), and the sends due.
    # The digest watch (cadence.schedules) expects each bot's by its hour plus grace.
    Schedule("cadence.daily_digests", "cadence.jobs.send_daily_digests", "*/5 * * * *",
             SLOW, timeout=600, grace=datetime.timedelta(minutes=30)),
    # The watched daily jobs, shortly after midnight UTC, when the previous day's closes are
    # in: one job per active bot.
    Schedule("kpis.daily_snapshots", "kpis.jobs.compute_daily_snapshots", "5 0 * * *",
             SLOW, timeout=HOUR, units="kpis.jobs.active_bots",
             unit_func="kpis.jobs.snapshot_bot", daily=True, grace=datetime.timedelta(hours=2)),
    Schedule("integrity.daily_checks", "integrity.jobs.run_daily_integrity_checks",
             "10 0 * * *", SLOW, timeout=HOUR, units="integrity.jobs.active_bots",
             unit_func="integrity.jobs.check_bot", daily=True,
             grace=datetime.timedelta(hours=2)),
    # JobRun rows of the frequent jobs older than a week (a fanned-out run writes one a unit).
    Schedule("tradeops.prune_job_runs", "tradeops.jobs.prune_job_runs", "30 1 * * *",
             SLOW, timeout=HOUR),
)  # fmt: skip

BY_NAME = {schedule.name: schedule for schedule in SCHEDULE}
BY_FUNC = {schedule.func: schedule for schedule in SCHEDULE}


def watched_daily():
    """The daily jobs the missed-schedule watch expects each day, by name."""
    return {s.name: s for s in SCHEDULE if s.daily and s.grace is not None}
