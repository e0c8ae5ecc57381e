"""Snapshots are stored with their inputs, idempotent, and kept current by the daily job."""

import datetime
import json

import pytest
from django.core.management import CommandError, call_command

from kpis.jobs import DAILY_SNAPSHOTS, compute_daily_snapshots
from kpis.models import BaselineReport, KPISnapshot
from kpis.services import FIGURE_KEYS, capture_baseline, capture_snapshot
from tests.factories import AS_OF, at, trade
from tests.queues import run_workers_burst
from tradeops.models import ConfigRelease, JobRun
from tradeops.services import create_bot


def test_recomputing_the_same_inputs_changes_nothing(bot):
    trade(bot, "a", at(8), 10)
    first = capture_snapshot(bot, 3, AS_OF)
    again = capture_snapshot(bot, 3, AS_OF)

    assert again.pk == first.pk
    assert again.computed_at == first.computed_at
    assert first.inputs["closed_trades"] == 1
    assert len(first.fingerprint) == 64

    trade(bot, "b", at(9), -4)
    updated = capture_snapshot(bot, 3, AS_OF)
    assert updated.pk == first.pk
    assert updated.fingerprint != first.fingerprint
    assert updated.figures["trades"] == 2
    assert KPISnapshot.objects.count() == 1


def test_baseline_report_captures_7d_and_30d_for_the_release(bot, admin_user):
    release = ConfigRelease.objects.create(bot=bot, version=1, tag="v1", approved_at=at(1))
    trade(bot, "a", at(8), 10, release=release)
    trade(bot, "b", at(1), 5, release=release)  # in the 30d window only

    report = capture_baseline(release, captured_by=admin_user, as_of=AS_OF)

    assert (report.snapshot_7d.window_days, report.snapshot_30d.window_days) == (7, 30)
    assert report.snapshot_7d.figures["trades"] == 1
    assert report.snapshot_30d.figures["trades"] == 2
    assert report.snapshot_7d.release == release
    assert release.baseline_reports.get() == report
    capture_baseline(release, captured_by=admin_user, as_of=AS_OF)
    assert BaselineReport.objects.count() == 1


def test_compute_kpis_command_json_uses_the_documented_keys(bot, capsys):
    trade(bot, "a", at(8), 10)
    call_command(
        "compute_kpis",
        "--bot",
        bot.slug,
        "--days",
        "3",
        "--as-of",
        "2026-11-10",
        "--format",
        "json",
    )
    figures = json.loads(capsys.readouterr().out)
    assert list(figures)[: len(FIGURE_KEYS)] == list(FIGURE_KEYS)
    assert figures["net_pnl"] == "10.00000000"


def test_compute_kpis_command_table_and_errors(bot, capsys):
    trade(bot, "a", at(8), 10)
    call_command("compute_kpis", "--bot", bot.slug, "--days", "3", "--as-of", "2026-11-10")
    out = capsys.readouterr().out
    assert "profit factor" in out and "∞" in out
    with pytest.raises(CommandError, match="no release 'nope'"):
        call_command("compute_kpis", "--bot", bot.slug, "--days", "3", "--release", "nope")
    with pytest.raises(CommandError, match="no bot"):
        call_command("compute_kpis", "--bot", "ghost", "--days", "3")


def test_daily_job_in_process_records_its_run_and_runs_once_per_day(bot, embedded):
    compute_daily_snapshots(AS_OF)
    compute_daily_snapshots(AS_OF)  # a double enqueue for the same day does nothing

    day = JobRun.objects.get(name=DAILY_SNAPSHOTS, key="2026-11-10")
    assert day.outcome == "succeeded" and day.finished_at >= day.started_at
    assert day.detail["units"] == [str(bot.pk)]
    unit = JobRun.objects.get(name=DAILY_SNAPSHOTS, key=f"2026-11-10:{bot.pk}")
    assert unit.outcome == "succeeded" and len(unit.detail["snapshots"]) == 2
    assert JobRun.objects.count() == 2
    assert set(KPISnapshot.objects.values_list("window_days", flat=True)) == {7, 30}


@pytest.mark.django_db(transaction=True)
def test_real_worker_computes_the_daily_snapshots(bot, redis_queue):
    trade(bot, "a", at(8), 10)
    job = redis_queue.enqueue(compute_daily_snapshots, AS_OF)

    run_workers_burst()

    assert job.get_status(refresh=True) == "finished"
    day = JobRun.objects.get(name=DAILY_SNAPSHOTS, key="2026-11-10")
    assert day.outcome == "succeeded" and day.rq_job_id == job.id
    unit = JobRun.objects.get(name=DAILY_SNAPSHOTS, key=f"2026-11-10:{bot.pk}")
    assert unit.outcome == "succeeded" and unit.rq_job_id not in ("", job.id)
    assert KPISnapshot.objects.get(bot=bot, window_days=7).figures["trades"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_bots_failed_job_is_recorded_and_the_days_rerun_runs_it_alone(bot, redis_queue):
    other, _ = create_bot(slug="other", name="Other")
    bot.known_exit_reasons = 5  # a broken vocabulary: the KPI query fails inside the job
    bot.save()
    redis_queue.enqueue(compute_daily_snapshots, AS_OF)
    run_workers_burst()

    def unit_outcomes(of):
        runs = JobRun.objects.filter(key=f"2026-11-10:{of.pk}").order_by("started_at")
        return list(runs.values_list("outcome", flat=True))

    assert JobRun.objects.get(key="2026-11-10").outcome == "succeeded"  # the day fanned out
    assert unit_outcomes(bot) == ["failed"] and unit_outcomes(other) == ["succeeded"]
    failed = JobRun.objects.get(key=f"2026-11-10:{bot.pk}")
    assert failed.finished_at is not None and "Traceback" in failed.error
    assert KPISnapshot.objects.filter(bot=other).count() == 2  # the other bot's day is done

    bot.known_exit_reasons = ["take_profit"]
    bot.save()
    redis_queue.enqueue(compute_daily_snapshots, AS_OF)  # the rerun the incident names
    run_workers_burst()

    assert unit_outcomes(bot) == ["failed", "succeeded"]  # its failed RQ job replaced
    assert unit_outcomes(other) == ["succeeded"]  # not run again
    assert JobRun.objects.filter(key="2026-11-10").count() == 1


def test_snapshot_as_of_is_a_utc_day_boundary(bot):
    trade(bot, "late", datetime.datetime(2026, 11, 9, 23, 30, tzinfo=datetime.UTC), 1)
    assert capture_snapshot(bot, 1, AS_OF).figures["trades"] == 1
    assert capture_snapshot(bot, 1, datetime.date(2026, 11, 9)).figures["trades"] == 0
