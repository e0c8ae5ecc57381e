"""A firing path counts as tested only when a test alert down it is confirmed as received
(issue 20, item 10): by the recipient opening the signed, single-use link the alert carries
(GET shows a button, POST records who and when), or by a webhook receiver's 2xx answer. A
channel that delivers to nobody (syslog://, rsyslog:// to nothing) never counts. A switched-off
channel or webhook is sent nothing (item 2)."""

import re
import time

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from cadence.checklist import checklists
from experiments.releases.push import deliver_due_pushes, send_test_push, set_up_release_push
from experiments.services import make_baseline
from integrity.alerts import (
    CRITICAL_PATHS,
    deliver_due_alerts,
    firing_paths,
    send_test_alerts,
)
from integrity.models import AlertChannel, AlertDelivery, ReleasePush, ReleaseWebhook
from integrity.selectors import integrity_gate
from integrity.services import open_or_bump_incident
from tests.factories import log_in_as
from tradeops.audit import history
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER

LINK = re.compile(r"https?://\S+/admin/integrity/alertdelivery/confirm/[^/\s]+/")


@pytest.fixture
def email_channel(db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return AlertChannel.objects.create(name="Ops email", kind="email", target="ops@example.com")


def client_as(name, role):
    client = Client()
    user = log_in_as(client, name, role)
    return client, user


def path_of(link):
    return link.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["syslog://", "rsyslog://127.0.0.1:8698"])
def test_a_channel_that_delivers_to_nobody_never_counts_as_tested(bot, settings, target):
    # As the hostile run stored them (created before the save-time check), and even with the
    # loopback allowed, where the UDP datagrams leave for a port nobody listens on.
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1"]
    channel = AlertChannel.objects.create(name="nobody", kind="apprise", target=target)

    send_test_alerts(channel)

    assert set(firing_paths(bot).values()) == {None}
    assert integrity_gate(bot).tested == 0
    assert not AlertDelivery.objects.filter(confirmed_at__isnull=False).exists()


def test_an_email_test_alert_counts_once_its_recipient_confirms_it(bot, email_channel):
    operator, otto = client_as("otto", OPERATOR)
    alerts = send_test_alerts(email_channel, user=otto)

    assert [alert.status for alert in alerts] == ["sent"] * 3
    assert set(firing_paths(bot).values()) == {None}  # sent is not received
    links = [LINK.search(message.body).group(0) for message in mail.outbox]
    assert len(set(links)) == 3
    # The link is in the message only: not in the stored text every admin user can read.
    page = operator.get(reverse("admin:integrity_alertdelivery_change", args=[alerts[0].pk]))
    assert "confirm/" not in page.content.decode() and "confirm/" not in alerts[0].body

    # Opening the link (a person, or a mail scanner) only shows the alert and a button.
    viewer, vic = client_as("vic", VIEWER)
    shown = viewer.get(path_of(links[0]))
    assert shown.status_code == 200
    assert "Confirm: it reached me" in shown.content.decode()
    assert shown.headers["Cache-Control"].startswith("max-age=0")
    assert set(firing_paths(bot).values()) == {None}

    confirmed = viewer.post(path_of(links[0]))
    assert "Confirmed received by vic" in confirmed.content.decode()
    first = AlertDelivery.objects.get(pk=alerts[0].pk)
    assert (first.confirmed_by, first.confirmed_via) == (vic, "link")
    assert list(history(first).values_list("action", "actor")) == [("confirmed received", vic.pk)]
    paths = firing_paths(bot)
    assert paths[CRITICAL_PATHS[0]].channel == "Ops email"
    assert paths[CRITICAL_PATHS[0]].at == first.confirmed_at
    assert paths[CRITICAL_PATHS[1]] is None

    # Single use: a second confirmation records nothing more.
    again = operator.post(path_of(links[0]))
    assert "already confirmed" in again.content.decode()
    assert AlertDelivery.objects.get(pk=first.pk).confirmed_by == vic

    for link in links[1:]:
        operator.post(path_of(link))
    assert integrity_gate(bot).tested == 3
    evidence = checklists([bot])[bot.pk].items[2]
    assert evidence.done
    assert "3 of 3 firing paths confirmed" in evidence.evidence
    assert "Ops email" in evidence.evidence


def test_a_link_altered_expired_or_opened_logged_out_confirms_nothing(
    bot, email_channel, monkeypatch
):
    [alert, *_] = send_test_alerts(email_channel)
    link = path_of(LINK.search(mail.outbox[0].body).group(0))
    lead, _ = client_as("lena", TEAM_LEAD)

    altered = lead.post(link.replace("confirm/", "confirm/x"))
    assert "not valid" in altered.content.decode()
    assert Client().post(link).status_code == 302  # to the login page
    # A week and a minute later the link has expired.
    later = time.time() + 7 * 24 * 3600 + 60
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert "expired" in lead.post(link).content.decode()
    assert AlertDelivery.objects.get(pk=alert.pk).confirmed_at is None


@pytest.mark.django_db
def test_a_webhook_receiver_confirms_with_its_2xx_answer_only(bot, httpserver):
    httpserver.expect_request("/ok").respond_with_data("", status=204)
    httpserver.expect_request("/down").respond_with_data("down", status=503)
    answering = AlertChannel.objects.create(
        name="answers", kind="apprise", target=httpserver.url_for("/ok").replace("http", "json")
    )
    failing = AlertChannel.objects.create(
        name="fails", kind="apprise", target=httpserver.url_for("/down").replace("http", "json")
    )

    assert {a.confirmed_via for a in send_test_alerts(answering)} == {"answer"}
    assert {a.confirmed_at for a in send_test_alerts(failing)} == {None}
    assert all(firing.channel == "answers" for firing in firing_paths(bot).values())


@pytest.mark.django_db
def test_a_switched_off_channel_is_sent_nothing(bot, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    channel = AlertChannel.objects.create(
        name="ops", kind="apprise", target=httpserver.url_for("/hook").replace("http", "json")
    )
    open_or_bump_incident(bot=bot, kind="orphan_fills", severity="warning", title="Orphans")
    AlertChannel.objects.filter(pk=channel.pk).update(is_active=False)

    assert deliver_due_alerts() == []
    assert httpserver.log == []
    with pytest.raises(ValueError, match="switched off"):
        send_test_alerts(AlertChannel.objects.get(pk=channel.pk))

    AlertChannel.objects.filter(pk=channel.pk).update(is_active=True)
    assert [alert.status for alert in deliver_due_alerts()] == ["sent"]
    assert len(httpserver.log) == 1


@pytest.mark.django_db
def test_a_switched_off_release_webhook_is_sent_nothing(bot, httpserver, baseline, people):
    httpserver.expect_request("/push").respond_with_data("ok")
    webhook, _ = set_up_release_push(bot, url=httpserver.url_for("/push"), by=people["lead"])
    make_baseline(baseline, by=people["lead"], note="Phase 1 winner")  # queues a push
    ReleaseWebhook.objects.filter(pk=webhook.pk).update(is_active=False)

    assert deliver_due_pushes() == []
    assert httpserver.log == []
    assert ReleasePush.objects.get().status == "pending"
    with pytest.raises(ValueError, match="switched off"):
        send_test_push(ReleaseWebhook.objects.get(pk=webhook.pk))
