"""The integrity lists read what their columns need once per page: the number of queries a list
runs does not grow with its rows (3 bots or channels cost what 30 do)."""

import datetime

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrity.alerts import CRITICAL_PATHS
from integrity.models import AlertChannel, AlertDelivery
from integrity.services import run_integrity_checks
from tradeops.services import create_bot

BOTS = reverse("admin:tradeops_bot_changelist")
CHANNELS = reverse("admin:integrity_alertchannel_changelist")
TESTED_AT = datetime.datetime(2025, 1, 2, 3, 4, tzinfo=datetime.UTC)


@pytest.fixture
def superuser(client, db):
    client.force_login(User.objects.create_superuser("root", password="pw"))


def checked_for_3_days(bot):
    """The daily integrity checks ran on each of the last 3 days and found nothing."""
    for days_ago in (1, 2, 3):
        run_integrity_checks(
            bot, triggered_by="test", now=timezone.now() - datetime.timedelta(days=days_ago)
        )


def channel_with_tests(name, bot=None):
    """A channel (of every bot, or of one) on which a test of each critical path got through."""
    channel = AlertChannel.objects.create(
        name=name, kind="apprise", target="json://ops.example.com/hook", bot=bot
    )
    for path in CRITICAL_PATHS:
        AlertDelivery.objects.create(
            channel=channel,
            event="test",
            path=path,
            title="test",
            body="test",
            status="sent",
            sent_at=TESTED_AT,
            next_attempt_at=TESTED_AT,
            confirmed_at=TESTED_AT,
            confirmed_via="answer",
        )
    return channel


def add_bots(first, last):
    for n in range(first, last):
        bot, _ = create_bot(slug=f"bot-{n:02}")
        checked_for_3_days(bot)
        channel_with_tests(f"ops-{n:02}", bot=bot)


def queries_for(client, url):
    client.get(url)  # the first request warms the session and caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_bot_list_runs_as_many_queries_for_30_bots_as_for_3(
    client, superuser, django_assert_max_num_queries
):
    add_bots(0, 3)
    three, page = queries_for(client, BOTS)
    assert page.count("passed: 3 of 3 clean days, 3 of 3 alert paths confirmed firing") == 3

    add_bots(3, 30)
    client.get(BOTS)
    with django_assert_max_num_queries(three):
        page = client.get(BOTS).content.decode()
    assert page.count("passed: 3 of 3 clean days, 3 of 3 alert paths confirmed firing") == 30


def test_channel_list_runs_as_many_queries_for_30_channels_as_for_3(
    client, superuser, django_assert_max_num_queries
):
    for n in range(3):
        channel_with_tests(f"ops-{n:02}")
    three, page = queries_for(client, CHANNELS)
    assert "never" not in page

    for n in range(3, 30):
        channel_with_tests(f"ops-{n:02}")
    AlertChannel.objects.create(name="untested", kind="email", target="ops@example.com")
    client.get(CHANNELS)
    with django_assert_max_num_queries(three):
        page = client.get(CHANNELS).content.decode()
    assert page.count("2025-01-02 03:04 UTC") == 30 * len(CRITICAL_PATHS)
    assert page.count("never") == len(CRITICAL_PATHS)
