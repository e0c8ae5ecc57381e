"""The dead man's switch: each day a daily job did not succeed by its due time plus grace is a
critical incident, even when later days succeeded and even when no scheduler or worker runs at
all.

The watch looks per day (the day each run is recorded under), not at the last success of any
day: a killed or failed day used to hide behind the next day's success. So the incidents are
keyed "job:day" and a bot 3 days old with nothing run has one per job and missed day."""

import datetime
import json

import pytest
from django.utils import timezone

from cadence.schedules import DIGEST_JOB
from integrity import schedules
from integrity.models import AlertChannel, IntegrityIncident
from integrity.schedules import LOOKBACK_DAYS, WATCHED, Throttle, watch_schedules
from kpis.jobs import DAILY_SNAPSHOTS, compute_daily_snapshots
from tests.factories import closed_trade
from tradeops.models import JobRun
from tradeops.services import create_bot

Kind = IntegrityIncident.Kind
CHECKS, SNAPSHOTS = "integrity.daily_checks", "kpis.daily_snapshots"
NOW = datetime.datetime(2026, 11, 20, 15, 0, tzinfo=datetime.UTC)
DAYS = [datetime.date(2026, 11, day) for day in (18, 19, 20)]  # due since the bot was created


def run(name, day, outcome="succeeded", **fields):
    at = datetime.datetime.combine(day, WATCHED[name].runs_at, tzinfo=datetime.UTC)
    finished = None if outcome == "running" else at
    fields.setdefault("key", day.isoformat())
    return JobRun.objects.create(
        name=name, started_at=at, finished_at=finished, outcome=outcome, **fields
    )


def created(slug, name, at):
    """A bot registered at `at` (create_bot on its clock), and its token."""
    return create_bot(slug=slug, name=name, now=at)


@pytest.fixture
def old_bot(db):
    return created("alpha", "Alpha perps", NOW - datetime.timedelta(days=3))[0]


def missed(bot):
    return set(
        IntegrityIncident.objects.filter(bot=bot, kind=Kind.MISSED_SCHEDULE)
        .exclude(status="resolved")
        .values_list("key", flat=True)
    )


def keys(name, *days):
    return {f"{name}:{day}" for day in days}


def test_every_day_that_ran_is_fine(old_bot):
    for day in DAYS:
        run(CHECKS, day)
        run(SNAPSHOTS, day)
    watch_schedules(NOW)
    assert missed(old_bot) == set()


def test_a_days_run_is_due_at_its_time_plus_two_hours_grace(old_bot):
    for day in DAYS[:2]:
        run(CHECKS, day)
        run(SNAPSHOTS, day)
    # Snapshots are due at 00:05 and checks at 00:10 UTC; at 02:07 only the snapshots are late.
    watch_schedules(datetime.datetime(2026, 11, 20, 2, 7, tzinfo=datetime.UTC))

    assert missed(old_bot) == keys(SNAPSHOTS, "2026-11-20")
    incident = IntegrityIncident.objects.get(kind=Kind.MISSED_SCHEDULE)
    assert incident.severity == "critical"
    assert incident.title == "Missed schedule: kpis.daily_snapshots for 2026-11-20 (never ran)"
    assert incident.detail["rerun"] == (
        "python manage.py rqenqueue kpis.jobs.compute_daily_snapshots 2026-11-20"
    )


def test_a_failed_or_dead_day_is_an_incident_even_after_later_days_succeeded(old_bot):
    run(CHECKS, DAYS[0], "failed", error="Traceback ...\nValueError: boom")
    run(CHECKS, DAYS[2])
    for day in DAYS:
        run(SNAPSHOTS, day, "running" if day == DAYS[1] else "succeeded")  # its worker died

    watch_schedules(NOW)

    assert missed(old_bot) == keys(CHECKS, "2026-11-18", "2026-11-19") | keys(
        SNAPSHOTS, "2026-11-19"
    )
    titles = dict(IntegrityIncident.objects.values_list("key", "title"))
    assert titles["integrity.daily_checks:2026-11-18"].endswith("(failed)")
    assert titles["integrity.daily_checks:2026-11-19"].endswith("(never ran)")
    dead = IntegrityIncident.objects.get(key="kpis.daily_snapshots:2026-11-19")
    assert dead.detail["last_error"] == "abandoned: worker died or timed out"


def test_a_job_that_never_ran_counts_from_the_first_bot(old_bot):
    watch_schedules(NOW)
    assert missed(old_bot) == keys(CHECKS, *DAYS) | keys(SNAPSHOTS, *DAYS)
    assert all(
        "(never ran)" in title
        for title in IntegrityIncident.objects.values_list("title", flat=True)
    )


def test_a_new_install_is_not_overdue(bot):
    watch_schedules()
    assert missed(bot) == set()


def test_the_watch_looks_back_a_week_and_a_dead_day_stays_open_after_it(db):
    bot, _ = created("alpha", "Alpha perps", NOW - datetime.timedelta(days=30))
    watch_schedules(NOW)
    week = [NOW.date() - datetime.timedelta(days=n) for n in range(LOOKBACK_DAYS)]
    assert missed(bot) == keys(CHECKS, *week) | keys(SNAPSHOTS, *week)

    watch_schedules(NOW + datetime.timedelta(days=1))
    assert keys(CHECKS, week[-1]) <= missed(bot)  # out of the window, still never ran


def test_incident_resolves_when_that_days_run_succeeds(old_bot, embedded):
    watch_schedules(NOW)
    compute_daily_snapshots("2026-11-18")  # a missed day run late, as the incident says
    run(CHECKS, DAYS[0])
    watch_schedules(NOW)

    assert missed(old_bot) == keys(CHECKS, *DAYS[1:]) | keys(SNAPSHOTS, *DAYS[1:])
    resolved = IntegrityIncident.objects.filter(kind=Kind.MISSED_SCHEDULE, status="resolved")
    assert set(resolved.values_list("key", flat=True)) == keys(CHECKS, DAYS[0]) | keys(
        SNAPSHOTS, DAYS[0]
    )
    assert JobRun.objects.get(name=DAILY_SNAPSHOTS, key="2026-11-18").outcome == "succeeded"


def test_an_incident_keyed_by_job_alone_from_before_the_per_day_watch_is_resolved(old_bot):
    IntegrityIncident.objects.create(
        bot=old_bot, kind=Kind.MISSED_SCHEDULE, key=CHECKS, severity="critical", title="old",
        opened_at=NOW, last_seen_at=NOW,
    )  # fmt: skip
    watch_schedules(NOW)
    assert IntegrityIncident.objects.get(key=CHECKS).status == "resolved"


def test_cron_runs_the_watched_jobs_when_the_watch_expects_them():
    assert WATCHED[SNAPSHOTS].cron == "5 0 * * *"
    assert WATCHED[CHECKS].cron == "10 0 * * *"


def test_the_throttle_lets_a_task_through_at_once_then_once_per_interval():
    clock = [3.0]  # a monotonic clock a few seconds after boot
    throttle = Throttle(clock=lambda: clock[0])
    assert throttle.due("watch", 600)
    clock[0] += 599
    assert not throttle.due("watch", 600)
    assert throttle.due("alerts", 60)
    clock[0] += 1
    assert throttle.due("watch", 600)


@pytest.fixture
def just_booted(monkeypatch):
    """This process's monotonic clock reads 480 s: a machine up 8 minutes."""
    monkeypatch.setattr(schedules, "ingestion_throttle", Throttle(clock=lambda: 480.0))


def test_ingestion_api_runs_the_switch_and_alerts_without_any_worker(
    client, httpserver, just_booted, sweep_from_ingestion
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    AlertChannel.objects.create(
        name="hook", kind="apprise", target=httpserver.url_for("/hook").replace("http", "json")
    )
    old_bot, token = created("alpha", "Alpha perps", timezone.now() - datetime.timedelta(days=3))

    response = client.post(
        "/api/v1/ingest/trades",
        data=json.dumps([closed_trade()]),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    sweep_from_ingestion()

    assert response.status_code == 200
    found = missed(old_bot)
    # The old bot's daily digest was never queued either (the channel hears about every bot).
    assert {key.partition(":")[0] for key in found} == {CHECKS, SNAPSHOTS, DIGEST_JOB}
    titles = [json.loads(request.data)["title"] for request, _ in httpserver.log]
    assert len(titles) == len(found) and all("Missed schedule" in title for title in titles)


def test_a_day_that_fanned_out_is_missed_for_the_bot_whose_own_job_failed(old_bot):
    other, _ = created("other", "Other", NOW - datetime.timedelta(days=3))
    for day in DAYS:
        run(CHECKS, day)
        run(SNAPSHOTS, day, detail={"units": [str(old_bot.pk), str(other.pk)]})
        run(SNAPSHOTS, day, key=f"{day}:{other.pk}")
        if day != DAYS[1]:
            run(SNAPSHOTS, day, key=f"{day}:{old_bot.pk}")
    run(SNAPSHOTS, DAYS[1], "failed", key=f"{DAYS[1]}:{old_bot.pk}", error="Tb\nValueError: x")

    watch_schedules(NOW)

    assert missed(old_bot) == keys(SNAPSHOTS, DAYS[1]) and missed(other) == set()
    incident = IntegrityIncident.objects.get(bot=old_bot)
    assert (
        incident.title
        == "Missed schedule: kpis.daily_snapshots for 2026-11-19 (failed for this bot)"
    )
    assert incident.detail["last_error"] == "ValueError: x"

    run(SNAPSHOTS, DAYS[1], key=f"{DAYS[1]}:{old_bot.pk}")  # the day's rerun ran it
    watch_schedules(NOW)
    assert missed(old_bot) == set()
