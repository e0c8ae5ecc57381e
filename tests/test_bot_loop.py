"""The bot reports what it runs: heartbeats kept on the bot's pulse (a health event only when
the running release changes, every record still accounted for), and the config drift and
bot-silent incidents, opened after their grace and resolved when the bot is right again."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from experiments.services import make_baseline
from integrity.alerts import deliver_due_alerts
from integrity.jobs import watch_bot_loop_job
from integrity.loop import watch_bot_loop
from integrity.models import AlertChannel, IntegrityIncident
from tests.factories import draft, ingest, run_through
from tradeops.models import Bot, BotPulse, HealthEvent, JobRun, QuarantinedRecord

MINUTE = datetime.timedelta(minutes=1)


def beat(bot, *moments, release="v1.4.0"):
    return ingest(
        bot,
        "health",
        *[{"ts": m.isoformat(), "kind": "heartbeat", "running_release": release} for m in moments],
    )


def incidents(kind):
    return IntegrityIncident.objects.filter(kind=kind)


@pytest.fixture
def live(baseline, people):
    """v1.4.0 current since an hour ago."""
    start = timezone.now() - 60 * MINUTE
    return make_baseline(baseline, by=people["lead"], note="Phase 1 winner", now=start)


def test_heartbeats_are_kept_on_the_pulse_and_stored_only_when_the_release_changes(bot):
    start = timezone.now() - 30 * MINUTE
    first = beat(bot, *[start + n * MINUTE for n in range(10)])
    retried = beat(bot, start + 9 * MINUTE)
    swapped = beat(bot, start + 10 * MINUTE, start + 11 * MINUTE, release="v1.5.0")

    assert (first.accepted, first.unchanged) == (10, 0)
    assert (retried.accepted, retried.unchanged) == (0, 1)
    assert (swapped.accepted, swapped.unchanged) == (2, 0)
    stored = HealthEvent.objects.filter(bot=bot, kind="heartbeat").order_by("ts")
    assert [(e.ts, e.running_release) for e in stored] == [
        (start, "v1.4.0"),
        (start + 10 * MINUTE, "v1.5.0"),
    ]
    pulse = BotPulse.objects.get(bot=bot)
    assert pulse.last_heartbeat_at == start + 11 * MINUTE
    assert (pulse.running_release, pulse.running_since) == ("v1.5.0", start + 10 * MINUTE)


def test_heartbeats_and_other_health_events_in_one_batch(bot):
    now = timezone.now() - MINUTE
    result = ingest(
        bot,
        "health",
        {"ts": now.isoformat(), "kind": "heartbeat", "running_release": "v1.4.0"},
        {"ts": now.isoformat(), "kind": "state_change", "state": "NORMAL"},
        {
            "ts": (now + 1 * MINUTE / 2).isoformat(),
            "kind": "heartbeat",
            "running_release": "v1.4.0",
        },
    )

    assert (result.accepted, result.quarantined) == (3, 0)
    assert HealthEvent.objects.filter(bot=bot).count() == 2


@pytest.mark.parametrize(
    "record, field",
    [
        ({"kind": "heartbeat"}, "running_release"),
        ({"kind": "state_change", "state": "HALT", "running_release": "v1"}, "running_release"),
    ],
)
def test_only_a_heartbeat_reports_a_release_and_it_must(bot, record, field):
    result = ingest(bot, "health", {"ts": "2026-11-20T10:00:00Z", **record})

    assert result.quarantined == 1 and field in result.errors[0]["errors"]


def test_a_running_release_that_would_read_as_another_is_refused(bot):
    record = {"ts": "2026-11-20T10:00:00Z", "kind": "heartbeat"}

    result = ingest(bot, "health", {**record, "running_release": "v1.4.0\u202e0.5.1v"})

    assert result.quarantined == 1
    assert "printable" in result.errors[0]["errors"]["running_release"]


@pytest.mark.parametrize("field, value", [("state", "HALT"), ("detail", "all good")])
def test_a_heartbeat_carries_nothing_it_would_lose(bot, field, value):
    record = {"ts": "2026-11-20T10:00:00Z", "kind": "heartbeat", "running_release": "v1"}

    result = ingest(bot, "health", {**record, field: value})

    assert result.quarantined == 1 and field in result.errors[0]["errors"]
    assert not BotPulse.objects.filter(bot=bot).exists()


def test_another_release_for_a_moment_already_heard_is_a_conflict_kept_whole(bot):
    moment = timezone.now() - MINUTE
    beat(bot, moment)

    again = beat(bot, moment, moment + MINUTE / 2, release="v1.5.0")
    later = (moment + MINUTE).isoformat()
    one_batch = ingest(
        bot,
        "health",
        {"ts": later, "kind": "heartbeat", "running_release": "v2"},
        {"ts": later, "kind": "heartbeat", "running_release": "v3"},
    )

    assert (again.accepted, again.quarantined) == (1, 1)  # the later one moves the pulse
    assert "already reported v1.4.0" in again.errors[0]["errors"]["_conflict"]
    assert (one_batch.accepted, one_batch.quarantined) == (1, 1)
    assert "already reported v2" in one_batch.errors[0]["errors"]["_conflict"]
    assert QuarantinedRecord.objects.filter(bot=bot, reason="conflict").count() == 2
    assert BotPulse.objects.get(bot=bot).running_release == "v2"


def test_a_heartbeat_through_the_api_is_accounted_for(client, bot_and_token):
    bot, token = bot_and_token
    body = (
        f'[{{"ts": "{timezone.now().isoformat()}", "kind": "heartbeat", "running_release": "v1"}}]'
    )

    response = client.post(
        "/api/v1/ingest/health",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.json()["accepted"] == 1
    assert BotPulse.objects.get(bot=bot).running_release == "v1"


def test_drift_opens_after_the_grace_and_resolves_when_the_bot_runs_the_right_one(live, people):
    bot = live.bot
    AlertChannel.objects.create(name="ops mail", kind="email", target="ops@example.com")
    beat(bot, timezone.now() - 2 * MINUTE)
    experiment = run_through(draft(live, people), people)  # the candidate is current from now
    changed_at = experiment.started_at
    beat(bot, timezone.now())  # still v1.4.0

    assert watch_bot_loop(changed_at + 5 * MINUTE) == []
    found = watch_bot_loop(changed_at + 6 * MINUTE)

    drift = incidents("config_drift").get()
    assert [f.kind for _, f in found] == ["config_drift"]
    assert drift.severity == "critical" and drift.status == "open"
    assert f"runs v1.4.0, not its current release {experiment.candidate_release.tag}" in drift.title
    assert drift.detail["since"] == changed_at.isoformat()
    watch_bot_loop(changed_at + 7 * MINUTE)  # still drifting: one incident, refreshed
    assert incidents("config_drift").get().occurrences == 1

    beat(bot, timezone.now() + MINUTE / 60, release=experiment.candidate_release.tag)
    watch_bot_loop(changed_at + 8 * MINUTE)

    assert incidents("config_drift").get().status == "resolved"
    deliver_due_alerts()
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[CRITICAL] alpha",
        "[CRITICAL] RESOLVED alpha",
    ]


def test_a_bot_that_swaps_to_a_wrong_release_on_its_own_gets_the_grace_too(live):
    bot = live.bot
    swapped_at = timezone.now() - MINUTE
    beat(bot, swapped_at - MINUTE)
    beat(bot, swapped_at, release="v0.9-hotfix")

    assert watch_bot_loop(swapped_at + 4 * MINUTE) == []
    watch_bot_loop(swapped_at + 6 * MINUTE)

    assert incidents("config_drift").get().detail["running_release"] == "v0.9-hotfix"


def test_silence_opens_after_the_bots_limit_and_resolves_when_it_speaks(live):
    bot = live.bot
    beat(bot, timezone.now() - 20 * MINUTE)  # an old heartbeat, but its batch came now
    heard = timezone.now()
    Bot.objects.filter(pk=bot.pk).update(silent_after_minutes=30)

    assert watch_bot_loop(heard + 29 * MINUTE) == []
    watch_bot_loop(heard + 31 * MINUTE)
    silent = incidents("bot_silent").get()
    assert silent.severity == "critical" and "silent for 31 min" in silent.title

    ingest(bot, "equity", {"ts": timezone.now().isoformat(), "equity": "10000"})  # any record
    watch_bot_loop(timezone.now() + MINUTE)  # the watch's clock; the batch came in now

    assert incidents("bot_silent").get().status == "resolved"


def test_a_bot_with_no_current_release_is_not_watched(bot):
    assert watch_bot_loop(timezone.now() + 60 * MINUTE) == []


def test_the_watch_runs_as_a_recorded_job(live):
    watch_bot_loop_job()

    assert JobRun.objects.get(name="integrity.watch_bot_loop").outcome == "succeeded"


def test_the_bot_page_shows_its_heartbeat_and_loop_incidents(client, live, people):
    bot = live.bot
    beat(bot, timezone.now() - 30 * MINUTE)
    watch_bot_loop(timezone.now() + 30 * MINUTE + MINUTE / 6)
    client.force_login(people["operator"])

    page = client.get(f"/admin/tradeops/bot/{bot.pk}/change/").content.decode()

    assert "runs v1.4.0 since" in page
    assert "silent for 30 min" in page
