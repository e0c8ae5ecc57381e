"""The daily digest: pushed at each bot's UTC hour through the alert channels, once a day per
channel, delivered at least once, and watched by the missed-schedule watch."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from cadence.digest import deliver_due_digests
from cadence.jobs import DAILY_DIGESTS, send_daily_digests
from cadence.models import DigestMessage
from cadence.schedules import DIGEST_JOB, missed_digests
from cadence.services import queue_daily_digests, sign_off_daily_review
from integrity.models import AlertChannel, IntegrityIncident
from integrity.schedules import watch_schedules
from tests.factories import ingest
from tests.queues import run_workers_burst
from tradeops.models import JobRun
from tradeops.services import create_bot

UTC = datetime.UTC


def at(hour, minute=0):
    """Tomorrow (UTC) at hour:minute: a day the test's bot, created now, existed all of."""
    day = datetime.datetime.now(UTC).date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=UTC)


@pytest.fixture
def channel(db):
    return AlertChannel.objects.create(name="Ops", kind="email", target="ops@example.com")


@pytest.fixture
def early_bot(bot):
    bot.digest_hour = 7
    bot.save()
    return bot


def test_no_digest_before_the_bots_hour_and_one_per_channel_and_day_after(early_bot, channel):
    assert queue_daily_digests(at(6, 59)) == []

    queued = queue_daily_digests(at(7, 0))
    again = queue_daily_digests(at(8, 0))

    assert [(d.bot, d.channel, d.day) for d in queued] == [(early_bot, channel, at(7).date())]
    assert again == []
    assert DigestMessage.objects.count() == 1


def test_the_digest_carries_the_five_items_and_a_link(early_bot, channel, people):
    ingest(
        early_bot,
        "health",
        {
            "ts": (timezone.now() - datetime.timedelta(minutes=5)).isoformat(),
            "kind": "state_change",
            "state": "DEGRADED",
            "detail": "lag",
        },
    )
    (digest,) = queue_daily_digests(at(7, 5))
    body = digest.body
    assert digest.title.startswith(f"[DIGEST] {early_bot.slug} ")
    assert "Health: DEGRADED, " in body
    assert "Closes in the last 24 h: 0" in body  # no review signed off before it
    assert "Unknown exit reasons: no closes in the last 24 h" in body
    assert "Integrity alerts: 0 opened" in body
    assert "Top rejection reasons today:" in body
    assert "Daily review: due by 10:00 UTC" in body
    assert f"/admin/review/daily/{early_bot.slug}/{at(7).date()}/" in body


def test_an_overdue_review_shows_in_the_digest(early_bot, channel, people):
    early_bot.digest_hour = 11
    early_bot.save()
    (digest,) = queue_daily_digests(at(11))
    assert "Daily review: overdue since 10:00 UTC" in digest.body

    DigestMessage.objects.all().delete()
    sign_off_daily_review(early_bot, at(11).date(), by=people["operator"], note="ok", now=at(11))
    (digest,) = queue_daily_digests(at(11, 30))
    assert "Daily review: signed off by otto at 11:00 UTC" in digest.body


def test_a_day_never_signed_off_shows_in_the_next_days_digest(channel, people):
    # The digest (07:00) goes out before the review's hour (10:00): a missed day was in none.
    early_bot, _ = create_bot(slug="alpha", now=at(0) - datetime.timedelta(days=3))
    early_bot.digest_hour = 7
    early_bot.save()
    yesterday = at(7).date() - datetime.timedelta(days=1)

    (digest,) = queue_daily_digests(at(7))

    assert f"Daily review: due by 10:00 UTC; {yesterday} was not signed off: http" in digest.body
    assert f"/admin/review/daily/{early_bot.slug}/{yesterday}/" in digest.body

    DigestMessage.objects.all().delete()
    sign_off_daily_review(early_bot, yesterday, by=people["operator"], note="ok", now=at(7))
    (digest,) = queue_daily_digests(at(7, 5))
    assert "not signed off" not in digest.body


def test_a_channel_of_another_bot_gets_no_digest(early_bot, channel):
    other, _ = create_bot(slug="other", name="Other")
    AlertChannel.objects.create(name="Other's", kind="email", target="o@example.com", bot=other)
    queued = queue_daily_digests(at(7))
    assert {(d.bot.slug, d.channel.name) for d in queued} == {
        ("alpha", "Ops"),
        ("other", "Ops"),
        ("other", "Other's"),
    }


def test_digests_are_sent_through_the_channel_and_recorded(early_bot, channel):
    queue_daily_digests(at(7))
    (sent,) = deliver_due_digests(at(7))
    assert sent.status == "sent" and sent.attempts == 1
    assert mail.outbox[0].subject.startswith(f"[DIGEST] {early_bot.slug}")
    assert mail.outbox[0].to == ["ops@example.com"]


def test_a_digest_not_queued_by_its_hour_is_a_missed_schedule_until_it_is(early_bot, channel):
    assert (early_bot, at(7).date()) not in missed_digests(at(7, 20))  # within the grace
    assert (early_bot, at(8).date()) in missed_digests(at(8))

    watch_schedules(at(8))
    incident = IntegrityIncident.objects.get(
        kind="missed_schedule", key=f"{DIGEST_JOB}:{at(8).date()}"
    )
    assert incident.severity == "critical" and incident.status == "open"

    queue_daily_digests(at(8, 5))
    watch_schedules(at(8, 10))
    incident.refresh_from_db()
    assert incident.status == "resolved"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_digest_job(bot, redis_queue):
    AlertChannel.objects.create(name="Ops", kind="email", target="ops@example.com")
    bot.digest_hour = 0  # due from midnight: whenever the test runs, the hour has come
    bot.save()
    job = redis_queue.enqueue(send_daily_digests)

    run_workers_burst()

    assert job.get_status(refresh=True) == "finished"
    assert JobRun.objects.get(name=DAILY_DIGESTS).outcome == "succeeded"
    (digest,) = DigestMessage.objects.all()
    assert digest.status == "sent"
