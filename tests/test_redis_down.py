"""Redis down: a batch the bot sent is stored once and answered 200 even when the alert it raises
cannot be queued; the alert stays pending and the sweep that needs no Redis delivers it."""

import json
import logging

import django_rq
import pytest

from integrity import schedules
from integrity.models import AlertChannel, AlertDelivery, IntegrityIncident
from integrity.schedules import Throttle, watch_schedules_from_ingestion
from tests.factories import closed_trade
from tradeops.models import IngestBatch, Trade

CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings):
    settings.REDIS_URL = CLOSED_PORT
    settings.RQ_QUEUES = {"default": {"URL": CLOSED_PORT, "DEFAULT_TIMEOUT": 600}}


@pytest.fixture
def process_clock(monkeypatch):
    """This process's monotonic clock, as a list to move by hand: it starts just after boot."""
    clock = [5.0]
    monkeypatch.setattr(schedules, "ingestion_throttle", Throttle(clock=lambda: clock[0]))
    return clock


def post_trades(client, token, *records):
    return client.post(
        "/api/v1/ingest/trades",
        data=json.dumps(list(records)),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.django_db(transaction=True)
def test_an_incident_opened_while_redis_is_down_is_answered_200_and_swept_out(
    client, bot_and_token, httpserver, redis_down, process_clock, caplog, sweep_from_ingestion
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    AlertChannel.objects.create(
        name="hook", kind="apprise", target=httpserver.url_for("/hook").replace("http", "json")
    )
    _, token = bot_and_token
    watch_schedules_from_ingestion()  # the sweep ran a moment ago in this process
    sweep_from_ingestion()

    with caplog.at_level(logging.ERROR, logger="tradeops.scheduling"):
        response = post_trades(
            client, token, closed_trade(), closed_trade(external_id="T-2", qty="0")
        )

    assert response.status_code == 200
    assert response.json()["accepted"] == 1 and response.json()["quarantined"] == 1
    assert IngestBatch.objects.count() == 1 and Trade.objects.count() == 1
    incident = IntegrityIncident.objects.get(kind=IntegrityIncident.Kind.BLOCKED_MALFORMED_TRADE)
    assert "integrity.jobs.dispatch_alerts" in caplog.text  # the queue failure is logged
    delivery = AlertDelivery.objects.get(incident=incident)
    assert delivery.status == "pending" and httpserver.log == []

    process_clock[0] += schedules.SWEEP_ALERTS_EVERY
    assert post_trades(client, token, closed_trade()).status_code == 200
    sweep_from_ingestion()

    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert len(httpserver.log) == 1
    assert "Blocked malformed trade" in json.loads(httpserver.log[0][0].data)["title"]
    assert IngestBatch.objects.count() == 2 and Trade.objects.count() == 1


def test_the_queue_connection_gives_up_connecting_after_two_seconds():
    connection = django_rq.get_connection("default")

    assert connection.connection_pool.connection_kwargs["socket_connect_timeout"] == 2
