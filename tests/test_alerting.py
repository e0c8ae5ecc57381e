"""Alerts reach real endpoints, failing channels are retried without blocking the others, and
every attempt is recorded."""

import datetime
import json
import threading

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from werkzeug import Response

from integrity.alerts import (
    deliver_due_alerts,
    firing_paths,
    queue_repeats,
    send_test_alerts,
)
from integrity.delivery import MAX_ATTEMPTS
from integrity.models import AlertChannel, AlertDelivery, IntegrityIncident
from integrity.services import acknowledge_incident, open_or_bump_incident, resolve_incident

Kind = IntegrityIncident.Kind


@pytest.fixture
def settings_for_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


def webhook(httpserver, name="webhook", path="/hook", **extra):
    url = httpserver.url_for(path).replace("http://", "json://")
    return AlertChannel.objects.create(name=name, kind="apprise", target=url, **extra)


def blocked_trade_incident(bot):
    return open_or_bump_incident(
        bot=bot,
        kind=Kind.BLOCKED_MALFORMED_TRADE,
        severity="critical",
        title="Blocked malformed trade persistence",
    )


def test_incident_opening_is_delivered_to_a_real_webhook(bot, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    webhook(httpserver)

    blocked_trade_incident(bot)
    delivered = deliver_due_alerts()

    assert [d.status for d in delivered] == ["sent"]
    assert delivered[0].response_code == 200
    request, _ = httpserver.log[0]
    payload = json.loads(request.data)
    assert "[CRITICAL] alpha: Blocked malformed trade persistence" in payload["title"]
    assert "/admin/integrity/integrityincident/" in payload["message"]


def test_email_channel_uses_djangos_mail(bot, settings_for_email):
    AlertChannel.objects.create(name="ops mail", kind="email", target="ops@example.com, b@x.io")
    blocked_trade_incident(bot)
    deliver_due_alerts()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com", "b@x.io"]
    assert mail.outbox[0].subject.startswith("[CRITICAL]")


def test_failing_channel_is_retried_with_backoff_and_does_not_block_another(
    bot, httpserver, settings_for_email
):
    httpserver.expect_request("/broken").respond_with_data("down", status=500)
    broken = webhook(httpserver, "broken", "/broken")
    AlertChannel.objects.create(name="mail", kind="email", target="ops@example.com")

    blocked_trade_incident(bot)
    moment = timezone.now()  # the clock the delivery takes: the waits are exact, however slow
    first = {d.channel.name: d for d in deliver_due_alerts(now=moment)}

    assert first["mail"].status == "sent" and len(mail.outbox) == 1
    failed = first["broken"]
    assert (failed.status, failed.attempts, failed.response_code) == ("pending", 1, 500)
    assert failed.error == "HTTP 500 Internal Server Error"
    wait = failed.next_attempt_at - moment
    assert datetime.timedelta(seconds=50) < wait <= datetime.timedelta(minutes=1)

    assert deliver_due_alerts(now=moment + datetime.timedelta(seconds=59)) == []  # not due yet
    moment += datetime.timedelta(minutes=2)
    later = deliver_due_alerts(now=moment)
    assert [(d.channel, d.attempts) for d in later] == [(broken, 2)]
    second_wait = later[0].next_attempt_at - moment
    assert second_wait > datetime.timedelta(minutes=1, seconds=50)  # doubled


def test_a_channel_gives_up_after_its_last_attempt(bot, httpserver):
    httpserver.expect_request("/broken").respond_with_data("down", status=503)
    webhook(httpserver, "broken", "/broken")
    blocked_trade_incident(bot)

    moment = timezone.now()
    for _ in range(MAX_ATTEMPTS):
        deliver_due_alerts(now=moment)
        moment += datetime.timedelta(hours=2)

    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)


def test_a_timing_out_channel_costs_only_its_own_timeout(bot, httpserver, settings_for_email):
    # The receiver answers only when the test lets it, after the delivery is over: by events,
    # not by a sleep and a stopwatch, so a slow machine cannot fail it.
    let_answer, answered = threading.Event(), threading.Event()

    def slow(request):
        let_answer.wait(60)
        answered.set()
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    webhook(httpserver, "slow", "/slow")
    AlertChannel.objects.create(name="mail", kind="email", target="ops@example.com")

    blocked_trade_incident(bot)
    try:
        outcome = {d.channel.name: d.status for d in deliver_due_alerts()}
        # Delivered and given up on while the receiver still held the request: the slow channel
        # cost its own timeout, not the receiver's answer, and the mail went out all the same.
        assert not answered.is_set()
    finally:
        let_answer.set()

    assert outcome == {"slow": "pending", "mail": "sent"}


def test_one_notice_per_channel_per_incident_however_often_it_is_bumped(bot, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    webhook(httpserver)
    for _ in range(3):
        blocked_trade_incident(bot)
    assert AlertDelivery.objects.filter(event="opened").count() == 1


def test_repeats_while_unacknowledged_then_stop(bot, people, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    webhook(httpserver, repeat_minutes=30)
    incident = blocked_trade_incident(bot)
    deliver_due_alerts()

    assert queue_repeats(now=timezone.now() + datetime.timedelta(minutes=20)) == []
    repeats = queue_repeats(now=timezone.now() + datetime.timedelta(minutes=31))
    assert [d.event for d in repeats] == ["repeat"]
    assert "STILL OPEN" in repeats[0].title

    acknowledge_incident(incident, user=people["operator"], note="looking into it")
    assert queue_repeats(now=timezone.now() + datetime.timedelta(hours=3)) == []


def test_resolving_sends_a_resolved_notice(bot, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    webhook(httpserver)
    incident = blocked_trade_incident(bot)
    resolve_incident(incident)

    events = sorted(d.event for d in deliver_due_alerts())
    assert events == ["opened", "resolved"]
    assert "RESOLVED" in AlertDelivery.objects.get(event="resolved").title


def test_channel_filters_by_bot_and_severity(bot, httpserver):
    from tradeops.services import create_bot

    other, _ = create_bot(slug="other")
    webhook(httpserver, "critical only", min_severity="critical")
    webhook(httpserver, "other bot", "/other", bot=other)
    open_or_bump_incident(bot=bot, kind=Kind.ORPHAN_FILLS, severity="warning", title="Orphans")
    blocked_trade_incident(bot)

    assert list(AlertDelivery.objects.values_list("channel__name", "path")) == [
        ("critical only", Kind.BLOCKED_MALFORMED_TRADE)
    ]


def test_two_dispatchers_never_send_the_same_alert_twice(bot, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    webhook(httpserver)
    blocked_trade_incident(bot)
    delivery = AlertDelivery.objects.get()

    from integrity.alerts import deliver

    deliver(delivery)
    deliver(delivery)  # a second worker holding a stale copy of the same row
    assert len(httpserver.log) == 1
    assert AlertDelivery.objects.get().attempts == 1


def test_test_alerts_confirm_each_critical_firing_path(bot, httpserver, admin_client):
    httpserver.expect_request("/hook").respond_with_data("ok")
    channel = webhook(httpserver)
    assert set(firing_paths(bot).values()) == {None}

    response = admin_client.post(
        reverse("admin:integrity_alertchannel_changelist"),
        {"action": "send_test_alert", "_selected_action": [channel.pk]},
        follow=True,
    )

    assert "3 test alerts delivered" in response.content.decode()
    assert len(httpserver.log) == 3
    paths = firing_paths(bot)
    assert set(paths) == {
        Kind.BLOCKED_MALFORMED_TRADE,
        Kind.UNKNOWN_EXIT_RATE,
        Kind.MISSED_SCHEDULE,
    }
    assert all(paths.values())
    listing = admin_client.get(reverse("admin:integrity_alertchannel_changelist")).content
    assert b"never" not in listing


def test_failed_test_alert_is_recorded(bot, httpserver):
    httpserver.expect_request("/hook").respond_with_data("no", status=404)
    results = send_test_alerts(webhook(httpserver))
    assert {(d.status, d.response_code) for d in results} == {("pending", 404)}
    assert set(firing_paths(bot).values()) == {None}
