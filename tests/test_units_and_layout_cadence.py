"""Units and layout on the cadence pages and the alert pages (issue 23, section 5): money on the
command center card and the daily review carries the bot's quote currency, and a Viewer sees
the demo's email channel target masked wherever it appears."""

import datetime
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from integrity.alerts import send_test_alerts
from integrity.models import AlertChannel, AlertDelivery
from tests.factories import earlier_today, log_in_as, trade
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER

UTC = datetime.UTC


def test_the_command_center_card_shows_net_pnl_in_the_bots_currency(
    client, bot, baseline, monkeypatch
):
    bot.quote_currency = "EUR"
    bot.save(update_fields=["quote_currency"])
    now = timezone.now()
    trade(bot, "y", now - datetime.timedelta(days=1), "12.5", release=baseline)
    # Today's close, and the page's clock the test's: a close 5 minutes before now was
    # yesterday's from 00:00 to 00:05 UTC (and the page's own clock could pass midnight).
    trade(bot, "t", earlier_today(now), "-2", release=baseline)
    monkeypatch.setattr("cadence.views.timezone", SimpleNamespace(now=lambda: now))
    log_in_as(client, "vera", VIEWER)

    page = client.get(reverse("admin:index")).content.decode()

    assert "today UTC 1, net -2.00 EUR" in page
    assert "yesterday UTC 1, net 12.50 EUR" in page


def test_the_daily_review_shows_net_pnl_in_the_bots_currency(client, bot, baseline):
    day = timezone.now().astimezone(UTC).date() - datetime.timedelta(days=1)
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=UTC)
    trade(bot, "a", start + datetime.timedelta(hours=9), "10", release=baseline)
    log_in_as(client, "opal", OPERATOR)

    page = client.get(
        reverse("admin:cadence_daily_review", args=[bot.slug, day.isoformat()])
    ).content.decode()

    assert "net P&amp;L <strong>10.00 USDT</strong>" in page


def test_an_email_target_is_masked_to_its_domains():
    channel = AlertChannel(kind="email", target="ops@example.com, b@x.io")

    assert channel.masked_target == "…@example.com, …@x.io"


@pytest.mark.parametrize("role", [VIEWER, OPERATOR])
def test_a_viewer_never_sees_the_demo_email_target_in_full(client, bot, role):
    channel = AlertChannel.objects.create(name="Ops email", kind="email", target="ops@example.com")
    send_test_alerts(channel)
    delivery = AlertDelivery.objects.filter(channel=channel).first()
    log_in_as(client, "staff", role)

    pages = {
        url: client.get(url)
        for url in (
            reverse("admin:index"),
            reverse("admin:cadence_checklist"),
            reverse("admin:integrity_alertchannel_changelist"),
            reverse("admin:integrity_alertchannel_change", args=[channel.pk]),
            reverse("admin:integrity_alertdelivery_changelist"),
            reverse("admin:integrity_alertdelivery_change", args=[delivery.pk]),
            reverse("admin:tradeops_auditevent_changelist"),
        )
    }

    for url, response in pages.items():
        assert response.status_code == 200, url
        assert "ops@example.com" not in response.content.decode(), url
    listing = pages[reverse("admin:integrity_alertchannel_changelist")].content.decode()
    assert "…@example.com" in listing


def test_a_team_lead_still_sees_the_email_target_in_full(client, db):
    channel = AlertChannel.objects.create(name="Ops email", kind="email", target="ops@example.com")
    log_in_as(client, "lara", TEAM_LEAD)

    page = client.get(reverse("admin:integrity_alertchannel_change", args=[channel.pk]))

    assert 'value="ops@example.com"' in page.content.decode()
