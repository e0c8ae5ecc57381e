"""Nothing slows or starves a bot's request: no alert endpoint inside it, bodies and batches of
bounded cost, heartbeats that touch only the pulse, and a bad-token throttle that never refuses
a valid token."""

import datetime
import gzip
import json
import threading

import pytest
import requests
from django.utils import timezone
from werkzeug import Response

from ingestion.heartbeats import TooManyHeartbeats, count_heartbeat_batch
from ingestion.models import HeartbeatCount
from integrity.models import AlertChannel, AlertDelivery, IntegrityIncident
from tests.factories import closed_trade
from tradeops.models import BotPulse, HealthEvent, IngestBatch, QuarantinedRecord
from tradeops.services import create_bot

URL = "/api/v1/ingest/{kind}"
BAD_TOKENS = 20  # ingestion.services.TOKEN_FAILURES_ALLOWED


def post(client, token, body, kind="trades", content_type="application/json", **extra):
    return client.post(
        URL.format(kind=kind),
        data=body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {token}"},
        **extra,
    )


# -- no outbound call inside a bot's request ---------------------------------------------------


@pytest.fixture
def stalled_receiver(httpserver, settings):
    """An alert endpoint that holds every request until the test lets it go."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    called, release = threading.Event(), threading.Event()

    def handler(request):
        called.set()
        release.wait(timeout=30)
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(handler)
    AlertChannel.objects.create(
        name="slow hook", kind="apprise", target=httpserver.url_for("/hook").replace("http", "json")
    )
    yield called, release
    release.set()


def test_a_batch_is_answered_while_its_alert_endpoint_still_hangs(
    client, bot_and_token, stalled_receiver, sweep_from_ingestion
):
    called, release = stalled_receiver
    _, token = bot_and_token

    body = json.dumps([closed_trade(), closed_trade(external_id="T-2", qty="0")])
    response = post(client, token, body)

    # The malformed trade's alert is due; the bot has its answer before anyone sent it.
    assert response.status_code == 200 and response.json()["quarantined"] == 1
    delivery = AlertDelivery.objects.get(
        incident__kind=IntegrityIncident.Kind.BLOCKED_MALFORMED_TRADE
    )
    assert delivery.status in ("pending", "sending")
    # The sweep the batch started sends it on its own thread, also while nothing else runs.
    assert called.wait(timeout=30)
    release.set()
    sweep_from_ingestion()
    delivery.refresh_from_db()
    assert delivery.status == "sent"


# -- gzip members, records per batch, errors listed --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_half_a_million_gzip_members_are_read_in_linear_time(gunicorn_url):
    """471,859 empty members then one trade (9 MiB): answered in well under a second here; read
    quadratically it took 31 s and timed the worker out, so the client's 20 s limit catches it."""
    _, token = create_bot(slug="gzip-members")
    body = gzip.compress(b"") * 471_859 + gzip.compress(json.dumps([closed_trade()]).encode())

    response = requests.post(
        f"{gunicorn_url}/api/v1/ingest/trades",
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
        timeout=20,
    )

    assert response.status_code == 200 and response.json()["accepted"] == 1


def test_a_body_of_more_records_than_a_batch_may_hold_is_refused_before_any_work(
    client, bot_and_token, settings
):
    _, token = bot_and_token
    body = "{}\n" * 1_000_000

    response = post(client, token, body, content_type="application/x-ndjson")

    assert response.status_code == 413
    assert response.json()["max_records"] == settings.INGEST_MAX_RECORDS == 50_000
    assert "more than 50000 records" in response.json()["error"]
    assert not (QuarantinedRecord.objects.exists() or IngestBatch.objects.exists())


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson", "text/csv"])
def test_the_record_limit_counts_records_in_every_format(
    client, bot_and_token, settings, content_type
):
    settings.INGEST_MAX_RECORDS = 3
    _, token = bot_and_token
    records = [closed_trade(external_id=f"T-{n}") for n in range(4)]
    bodies = {
        "application/json": json.dumps(records),
        "application/x-ndjson": "\n".join(json.dumps(r) for r in records) + "\n\n",
        "text/csv": ",".join(records[0])
        + "\n"
        + "\n".join(",".join(str(v) for v in r.values()) for r in records),
    }

    refused = post(client, token, bodies[content_type], content_type=content_type)
    settings.INGEST_MAX_RECORDS = 4
    taken = post(client, token, bodies[content_type], content_type=content_type)

    assert refused.status_code == 413 and refused.json()["max_records"] == 3
    assert taken.status_code == 200 and taken.json()["accepted"] == 4


def test_a_response_lists_the_first_errors_and_counts_the_rest_every_record_kept(
    client, bot_and_token
):
    _, token = bot_and_token
    body = "\n".join(json.dumps(closed_trade(external_id=f"B-{n}", qty="0")) for n in range(150))

    counts = post(client, token, body, content_type="application/x-ndjson").json()

    assert counts["quarantined"] == 150
    assert len(counts["errors"]) == 100 and counts["errors_not_listed"] == 50
    assert [e["external_id"] for e in counts["errors"][:2]] == ["B-0", "B-1"]
    assert QuarantinedRecord.objects.count() == 150


# -- heartbeats --------------------------------------------------------------------------------


def heartbeats(*moments, release="v1.4.0"):
    return json.dumps(
        [{"ts": m.isoformat(), "kind": "heartbeat", "running_release": release} for m in moments]
    )


def test_a_heartbeat_touches_the_pulse_only(client, bot_and_token):
    bot, token = bot_and_token
    moment = timezone.now() - datetime.timedelta(seconds=5)

    first = post(client, token, heartbeats(moment), kind="health")
    again = post(client, token, heartbeats(moment + datetime.timedelta(seconds=1)), kind="health")

    assert first.json()["accepted"] == 1 and again.json()["accepted"] == 1
    assert BotPulse.objects.get(bot=bot).last_heartbeat_at == moment + datetime.timedelta(seconds=1)
    assert not IngestBatch.objects.exists()
    # The first heartbeat of a release is a health event (the pulse's history); no other is.
    assert HealthEvent.objects.filter(bot=bot).count() == 1


def test_a_bot_sending_heartbeats_too_often_gets_429_but_never_for_a_halt(
    client, bot_and_token, settings
):
    bot, token = bot_and_token
    _, other_token = create_bot(slug="other")
    settings.HEARTBEATS_PER_MINUTE = 0  # any heartbeat-only batch is one too many
    moment = timezone.now() - datetime.timedelta(seconds=30)
    halt = [{"ts": moment.isoformat(), "kind": "state_change", "state": "HALT"}]

    refused = post(client, token, heartbeats(moment), kind="health")
    halted = post(client, token, json.dumps(halt), kind="health")
    both = post(client, token, json.dumps(halt + json.loads(heartbeats(moment))), kind="health")

    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 61
    assert "heartbeat" in refused.json()["error"]
    assert halted.status_code == 200 and halted.json()["accepted"] == 1
    assert both.status_code == 200
    assert HealthEvent.objects.filter(bot=bot, state="HALT").exists()
    assert not BotPulse.objects.filter(bot=bot, last_heartbeat_at__gt=moment).exists()
    settings.HEARTBEATS_PER_MINUTE = 1
    assert post(client, other_token, heartbeats(moment), kind="health").status_code == 200


def test_heartbeat_batches_are_counted_per_bot_and_minute(bot_and_token):
    bot, _ = bot_and_token
    other, _ = create_bot(slug="other")
    minute = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=datetime.UTC)

    for second in range(12):
        count_heartbeat_batch(bot, 12, minute + datetime.timedelta(seconds=second))
    with pytest.raises(TooManyHeartbeats) as thirteenth:
        count_heartbeat_batch(bot, 12, minute + datetime.timedelta(seconds=40, milliseconds=500))
    count_heartbeat_batch(other, 12, minute + datetime.timedelta(seconds=41))
    count_heartbeat_batch(bot, 12, minute + datetime.timedelta(minutes=1))

    assert thirteenth.value.retry_after == 20
    # Only each bot's latest minute is kept.
    assert HeartbeatCount.objects.filter(bot=bot).get().batches == 1


# -- the bad-token throttle behind a proxy -----------------------------------------------------


def guess(client, token="guess", **meta):
    return post(client, token, json.dumps([closed_trade()]), **meta)


def test_behind_a_trusted_proxy_each_client_has_its_own_throttle(client, bot_and_token, settings):
    settings.TRUSTED_PROXIES = ["10.9.0.0/16"]
    _, token = bot_and_token
    proxy = {"REMOTE_ADDR": "10.9.0.2"}
    # The client wrote a left part of its own; the proxy appended who it heard from.
    guesser = {**proxy, "HTTP_X_FORWARDED_FOR": "203.0.113.50, 198.51.100.7"}
    neighbour = {**proxy, "HTTP_X_FORWARDED_FOR": "198.51.100.8"}

    statuses = [guess(client, **guesser).status_code for _ in range(BAD_TOKENS + 1)]

    assert statuses[-1] == 429 and statuses[:BAD_TOKENS] == [401] * BAD_TOKENS
    assert guess(client, **neighbour).status_code == 401
    assert guess(client, token, **guesser).status_code == 200
    # The address it claimed in the left part is not the one counted.
    spoofed = {**proxy, "HTTP_X_FORWARDED_FOR": "198.51.100.7, 198.51.100.9"}
    assert guess(client, **spoofed).status_code == 401


def test_an_untrusted_peer_cannot_pick_its_address_with_x_forwarded_for(
    client, bot_and_token, settings
):
    settings.TRUSTED_PROXIES = ["10.9.0.0/16"]
    for n in range(BAD_TOKENS):
        guess(client, REMOTE_ADDR="192.0.2.66", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    rotated = guess(client, REMOTE_ADDR="192.0.2.66", HTTP_X_FORWARDED_FOR="198.51.100.99")

    assert rotated.status_code == 429
