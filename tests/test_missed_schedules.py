"""The dead man's switch: a daily job that stops succeeding raises a critical incident, even
when no scheduler or worker runs at all."""

import datetime
import json

import pytest
from django.utils import timezone

from integrity import schedules
from integrity.models import AlertChannel, IntegrityIncident
from integrity.schedules import watch_schedules
from tests.conftest import closed_trade
from tradeops.models import Bot, JobRun

Kind = IntegrityIncident.Kind


def ago(**delta):
    return timezone.now() - datetime.timedelta(**delta)


def succeeded(name, when):
    JobRun.objects.create(
        name=name, key=when.isoformat(), started_at=when, finished_at=when, outcome="succeeded"
    )


@pytest.fixture
def old_bot(bot):
    Bot.objects.filter(pk=bot.pk).update(created_at=ago(days=3))
    return bot


def missed(bot):
    return set(
        IntegrityIncident.objects.filter(bot=bot, kind=Kind.MISSED_SCHEDULE)
        .exclude(status="resolved")
        .values_list("key", flat=True)
    )


def test_jobs_within_their_period_plus_grace_are_fine(old_bot):
    succeeded("integrity.daily_checks", ago(hours=25))
    succeeded("kpis.daily_snapshots", ago(hours=25, minutes=59))
    watch_schedules()
    assert missed(old_bot) == set()


def test_a_job_past_its_period_plus_grace_opens_a_critical_incident(old_bot):
    succeeded("integrity.daily_checks", ago(hours=26, minutes=1))
    succeeded("kpis.daily_snapshots", ago(hours=1))

    watch_schedules()

    assert missed(old_bot) == {"integrity.daily_checks"}
    incident = IntegrityIncident.objects.get(kind=Kind.MISSED_SCHEDULE)
    assert incident.severity == "critical"
    assert "last succeeded" in incident.title


def test_a_job_that_never_ran_counts_from_the_first_bot(old_bot):
    watch_schedules()
    assert missed(old_bot) == {"integrity.daily_checks", "kpis.daily_snapshots"}
    assert "never succeeded" in IntegrityIncident.objects.first().title


def test_a_new_install_is_not_overdue(bot):
    watch_schedules()
    assert missed(bot) == set()


def test_incident_resolves_when_the_job_succeeds_again(old_bot):
    watch_schedules()
    succeeded("integrity.daily_checks", ago(minutes=5))
    succeeded("kpis.daily_snapshots", ago(minutes=5))
    watch_schedules()
    assert missed(old_bot) == set()
    assert (
        IntegrityIncident.objects.filter(kind=Kind.MISSED_SCHEDULE, status="resolved").count() == 2
    )


def test_ingestion_api_runs_the_switch_and_alerts_without_any_worker(
    client, old_bot, bot_and_token, httpserver, monkeypatch
):
    monkeypatch.setattr(schedules, "_last_watch", 0.0)
    httpserver.expect_request("/hook").respond_with_data("ok")
    AlertChannel.objects.create(
        name="hook", kind="apprise", target=httpserver.url_for("/hook").replace("http", "json")
    )
    _, token = bot_and_token

    response = client.post(
        "/api/v1/ingest/trades",
        data=json.dumps([closed_trade()]),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200
    assert missed(old_bot) == {"integrity.daily_checks", "kpis.daily_snapshots"}
    titles = [json.loads(request.data)["title"] for request, _ in httpserver.log]
    assert len(titles) == 2 and all("Missed schedule" in title for title in titles)
