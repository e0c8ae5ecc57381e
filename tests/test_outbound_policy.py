"""The outbound policy (issue 20, item 8): a release webhook or an alert channel a Team lead
sets may not reach inside addresses, in any spelling, when saved (a form error on the field) or
when sent (the address connected to is checked: a name that resolves inside by then, or a
redirect, is refused too); a failed delivery keeps its status and a short reason, never the
receiver's body, and says the same for a closed port and a service of another protocol."""

import datetime
import socket
import threading
from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from werkzeug import Response

from experiments.releases.push import send_test_push, set_up_release_push
from integrity import outbound
from integrity.alerts import send_test_alerts
from integrity.delivery import NO_ANSWER
from integrity.models import AlertChannel, ReleaseWebhook
from tests.factories import change_form_data, log_in_as
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER

SECRET = "SECRET-INTERNAL-DATA root:x:0:0:root:/root:/bin/bash"


@contextmanager
def listener(host="127.0.0.1"):
    """A TCP port on `host` that counts the connections it gets (nothing should reach it)."""
    server = socket.socket()
    server.bind((host, 0))
    server.listen()
    server.settimeout(0.2)
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(connection)
            connection.close()

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        server.close()


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


INSIDE = [
    ("127.0.0.1", "loopback"),
    ("[::1]", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("[::]", "unspecified"),
    ("2130706433", "loopback"),  # 127.0.0.1 as one decimal number
    ("0177.0.0.1", "loopback"),  # octal
    ("0x7f.1", "loopback"),
    ("localhost", "loopback"),
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("[fe80::1]", "link-local"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("[fd00::1]", "private"),
    ("100.64.0.1", "non-public"),  # carrier-grade NAT
    ("[2002:7f00:1::1]", "loopback"),  # 6to4 of 127.0.0.1
]


@pytest.mark.parametrize("host, kind", INSIDE)
def test_every_spelling_of_an_inside_address_is_refused(host, kind):
    assert kind in outbound.refusal(f"http://{host}:6379/hook")
    assert kind in outbound.apprise_refusal(f"json://{host}:6379/hook")


def test_a_public_address_and_an_allowed_network_are_not_refused(settings):
    assert outbound.refusal("https://93.184.216.34/hook") == ""
    assert outbound.refusal("https://[2606:2800:220:1::1]/hook") == ""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.0.5.0/24"]
    assert outbound.refusal("http://10.0.5.20/hook") == ""
    assert "private" in outbound.refusal("http://10.0.6.20/hook")


@pytest.mark.parametrize("url", ["syslog://", "syslog://local5", "dbus://", "windows://"])
def test_apprise_schemes_that_deliver_on_this_machine_are_refused(url):
    assert "TradeOps machine" in outbound.apprise_refusal(url)


def test_a_release_webhook_inside_is_a_form_error_on_its_field(bot, db):
    lead = Client()
    log_in_as(lead, "lena", TEAM_LEAD)
    page = reverse("admin:tradeops_bot_change", args=[bot.pk])
    data = change_form_data(lead, page)
    data["release_webhook-0-url"] = "http://2130706433:6379/"
    data["release_webhook-0-is_active"] = "on"

    response = lead.post(page, data)

    assert response.status_code == 200
    [formset] = [
        f for f in response.context["inline_admin_formsets"] if f.opts.model is ReleaseWebhook
    ]
    assert "127.0.0.1 is a loopback address" in str(formset.formset.errors[0]["url"])
    assert not ReleaseWebhook.objects.exists()
    with pytest.raises(ValidationError, match="loopback"):
        set_up_release_push(bot, url="http://[::1]:5432/", by="test")


@pytest.mark.parametrize(
    "target, error", [("json://127.0.0.1:6379/x", "loopback"), ("syslog://", "TradeOps machine")]
)
def test_an_alert_channel_inside_is_a_form_error_on_its_target(db, target, error):
    lead = Client()
    log_in_as(lead, "lena", TEAM_LEAD)
    response = lead.post(
        reverse("admin:integrity_alertchannel_add"),
        {
            "name": "ops",
            "kind": "apprise",
            "target": target,
            "min_severity": "warning",
            "repeat_minutes": 60,
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert error in response.context["adminform"].form.errors["target"][0]
    assert not AlertChannel.objects.exists()


def stored_before(bot, url):
    """A webhook kept as it was before the policy (or whose name resolved elsewhere then)."""
    webhook, _ = set_up_release_push(bot, url="https://bot.example.com/push", by="test")
    ReleaseWebhook.objects.filter(pk=webhook.pk).update(url=url)
    webhook.refresh_from_db()
    return webhook


@pytest.mark.django_db
def test_a_push_to_an_inside_address_is_refused_when_sent_and_connects_nowhere(bot):
    with listener() as (port, accepted):
        push = send_test_push(stored_before(bot, f"http://127.0.0.1:{port}/"))
        alerts = send_test_alerts(
            AlertChannel.objects.create(
                name="ops", kind="apprise", target=f"json://127.0.0.1:{port}/hook"
            )
        )
    assert accepted == []
    for row in [push, *alerts]:
        assert (row.status, row.response_code) == ("pending", None)
        assert row.error == "refused: 127.0.0.1 is a loopback address"


@pytest.mark.django_db
def test_a_name_that_resolves_inside_when_sent_is_refused(bot, monkeypatch):
    """DNS rebinding: the name was public when saved; what is checked is what is connected."""
    webhook = set_up_release_push(bot, url="http://bot.example.com:8080/push", by="test")[0]
    real = socket.getaddrinfo

    def rebound(host, *args, **kwargs):
        return real("127.0.0.1" if host == "bot.example.com" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    with listener() as (port, accepted):
        ReleaseWebhook.objects.filter(pk=webhook.pk).update(
            url=f"http://bot.example.com:{port}/push"
        )
        webhook.refresh_from_db()
        push = send_test_push(webhook)
    assert accepted == []
    assert push.error == "refused: 127.0.0.1 is a loopback address"


@pytest.mark.django_db
def test_a_redirect_inside_is_not_followed(httpserver):
    """The receiver (allowed for the test) redirects to another loopback address: refused."""
    with listener("127.0.0.2") as (port, accepted):
        inside = f"http://127.0.0.2:{port}/"
        httpserver.expect_request("/hook").respond_with_response(
            Response(status=307, headers={"Location": inside})
        )
        channel = AlertChannel.objects.create(
            name="ops", kind="apprise", target=httpserver.url_for("/hook").replace("http", "json")
        )
        alerts = send_test_alerts(channel)
    assert accepted == []
    assert {alert.status for alert in alerts} == {"pending"}
    with outbound.guard() as refused, pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", port), timeout=1)
    assert refused == ["127.0.0.2 is a loopback address"]


def test_the_guard_refuses_local_side_effects_and_leaves_other_code_alone():
    with outbound.guard() as refused:
        for local in (
            lambda: socket.socket(socket.AF_UNIX).connect("/run/no-such.sock"),
            lambda: __import__("syslog").syslog("hello"),
            lambda: __import__("subprocess").run(["true"]),
        ):
            with pytest.raises(outbound.OutboundRefused):
                local()
    assert refused == ["a local socket", "a local syslog call", "a local subprocess call"]
    with listener() as (port, accepted):
        socket.create_connection(("127.0.0.1", port)).close()  # outside a guard: as ever
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=2)
        while not accepted and datetime.datetime.now() < deadline:
            pass
    assert len(accepted) == 1


@pytest.mark.django_db
def test_an_error_answer_keeps_its_status_never_its_body(bot, httpserver):
    httpserver.expect_request("/push").respond_with_data(SECRET, status=500)
    httpserver.expect_request("/hook").respond_with_data(SECRET, status=500)
    push = send_test_push(set_up_release_push(bot, url=httpserver.url_for("/push"), by="t")[0])
    channel = AlertChannel.objects.create(
        name="ops", kind="apprise", target=httpserver.url_for("/hook").replace("http", "json")
    )
    alerts = send_test_alerts(channel)
    for row in [push, *alerts]:
        assert (row.response_code, row.error) == (500, "HTTP 500 Internal Server Error")
        assert "SECRET" not in str(row.attempt_log)

    operator = Client()
    log_in_as(operator, "otto", OPERATOR)
    pages = [
        reverse("admin:integrity_releasepush_change", args=[push.pk]),
        reverse("admin:integrity_releasepush_changelist"),
        reverse("admin:integrity_alertdelivery_change", args=[alerts[0].pk]),
        reverse("admin:integrity_alertdelivery_changelist"),
    ]
    for page in pages:
        content = operator.get(page).content.decode()
        assert "SECRET" not in content and "root:x" not in content


@pytest.mark.django_db
def test_a_closed_port_and_other_services_fail_alike(bot, settings):
    """Even where an inside network is allowed, a test send is no port scanner: a closed port,
    Redis (6379) and PostgreSQL (5432) give one error; refused, they give one refusal."""
    ports = {"closed": closed_port(), "redis": 6379, "postgresql": 5432}
    webhook = stored_before(bot, "http://127.0.0.1/")
    channel = AlertChannel.objects.create(name="ops", kind="apprise", target="json://x")

    def errors():
        seen = {}
        for name, port in ports.items():
            ReleaseWebhook.objects.filter(pk=webhook.pk).update(url=f"http://127.0.0.1:{port}/")
            webhook.refresh_from_db()
            channel.target = f"json://127.0.0.1:{port}/hook"
            channel.save()
            push = send_test_push(webhook)
            alert = send_test_alerts(channel)[0]
            seen[name] = {(push.response_code, push.error), (alert.response_code, alert.error)}
        return seen

    refused = errors()
    assert all(
        seen == {(None, "refused: 127.0.0.1 is a loopback address")} for seen in refused.values()
    )

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1"]
    answered = errors()
    assert all(seen == {(None, NO_ANSWER)} for seen in answered.values()), answered


@pytest.mark.django_db
def test_where_a_delivery_went_is_shown_in_full_to_a_team_lead_only(bot, httpserver):
    httpserver.expect_request("/push").respond_with_data("ok")
    httpserver.expect_request("/hook").respond_with_data("ok")
    push_url = httpserver.url_for("/push?token=push-receiver-token")
    push = send_test_push(set_up_release_push(bot, url=push_url, by="test")[0])
    hook_url = httpserver.url_for("/hook/alert-receiver-token").replace("http", "json")
    alert = send_test_alerts(
        AlertChannel.objects.create(name="ops", kind="apprise", target=hook_url)
    )[0]
    pages = [
        reverse("admin:integrity_releasepush_change", args=[push.pk]),
        reverse("admin:integrity_alertdelivery_change", args=[alert.pk]),
    ]
    for name, role, sees in (
        ("lena", TEAM_LEAD, True),
        ("otto", OPERATOR, False),
        ("vic", VIEWER, False),
    ):
        client = Client()
        log_in_as(client, name, role)
        content = "".join(client.get(page).content.decode() for page in pages)
        assert ("push-receiver-token" in content) is sees, role
        assert ("alert-receiver-token" in content) is sees, role
        assert "Sent to" in content
