"""POST /api/v1/ingest/<kind>: bearer-token auth, size limit, JSON and NDJSON bodies."""

import datetime
import json
import os
import subprocess
import sys

import pytest

from ingestion.services import (
    TOKEN_FAILURE_WINDOW,
    TOKEN_FAILURES_ALLOWED,
    client_throttled_for,
    record_failed_token,
)
from tests.factories import closed_trade
from tradeops.models import IngestBatch, QuarantinedRecord, Trade
from tradeops.services import create_bot, issue_api_token, revoke_api_tokens

URL = "/api/v1/ingest/trades"


def post(client, body, token=None, content_type="application/json", url=URL):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(url, data=body, content_type=content_type, headers=headers)


def nothing_written():
    return not (
        Trade.objects.exists() or QuarantinedRecord.objects.exists() or IngestBatch.objects.exists()
    )


def test_json_array_is_ingested_and_counted(client, bot_and_token):
    _, token = bot_and_token
    body = json.dumps([closed_trade(), closed_trade(external_id="T-2", qty="0")])

    response = post(client, body, token)

    assert response.status_code == 200
    assert response.json() == {
        "accepted": 1,
        "updated": 0,
        "unchanged": 0,
        "quarantined": 1,
        "errors": [
            {"index": 1, "external_id": "T-2", "errors": {"qty": "must be greater than 0, got '0'"}}
        ],
    }


def test_ndjson_body_with_one_broken_line(client, bot_and_token):
    _, token = bot_and_token
    body = (
        json.dumps(closed_trade()) + "\n{not json\n\n" + json.dumps(closed_trade(external_id="2"))
    )

    response = post(client, body, token, content_type="application/x-ndjson")

    assert response.json()["accepted"] == 2
    assert response.json()["quarantined"] == 1
    assert QuarantinedRecord.objects.get().raw == "{not json"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer wrong-token", "Token abc", "Basic dXNlcjpwYXNz"],
    ids=["no header", "empty bearer", "wrong token", "other scheme", "basic auth"],
)
def test_missing_or_invalid_token_is_401_and_nothing_is_written(client, bot, header):
    headers = {"Authorization": header} if header else {}
    response = client.post(
        URL, data=json.dumps([closed_trade()]), content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    assert nothing_written()


def test_revoked_token_is_refused_while_another_token_still_works(client, bot_and_token):
    bot, token = bot_and_token
    second = issue_api_token(bot, label="backup")
    revoke_api_tokens(bot.api_tokens.filter(prefix=token[:12]))

    assert post(client, json.dumps([closed_trade()]), token).status_code == 401
    assert nothing_written()
    assert post(client, json.dumps([closed_trade()]), second).status_code == 200


def test_a_token_writes_only_to_its_own_bot(client, bot_and_token):
    alpha, _ = bot_and_token
    beta, beta_token = create_bot(slug="beta")

    post(client, json.dumps([closed_trade()]), beta_token)

    assert Trade.objects.get().bot == beta
    assert not alpha.trades.exists()


def test_body_over_the_limit_is_413_and_nothing_is_written(client, bot_and_token, settings):
    _, token = bot_and_token
    settings.INGEST_MAX_BODY_BYTES = 100
    response = post(client, json.dumps([closed_trade()]), token)

    assert response.status_code == 413
    assert "larger than 100 bytes" in response.json()["error"]
    assert nothing_written()


def test_unparseable_body_is_400_and_kept_in_quarantine(client, bot_and_token):
    bot, token = bot_and_token
    body = '[{"external_id": "T-1", "qty": 1}, {"external_id": '

    response = post(client, body, token)

    assert response.status_code == 400
    assert "unparseable body" in response.json()["error"]
    record = QuarantinedRecord.objects.get()
    assert record.raw == body
    assert record.reason == QuarantinedRecord.Reason.UNPARSEABLE
    assert record.bot == bot
    assert bot.incidents.get().severity == "critical"


def test_body_that_is_not_utf8_is_kept_byte_for_byte(client, bot_and_token):
    _, token = bot_and_token
    response = post(client, b'[{"symbol": "\xff"}]', token)
    assert response.status_code == 400
    assert QuarantinedRecord.objects.get().raw == '[{"symbol": "\\xff"}]'


def test_unknown_kind_is_404(client, bot_and_token):
    _, token = bot_and_token
    assert post(client, "[]", token, url="/api/v1/ingest/orders").status_code == 404


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_two_spellings_of_one_bad_record_are_both_kept(client, bot_and_token):
    _, token = bot_and_token
    number = json.dumps([closed_trade(qty=0)])
    text = json.dumps([closed_trade(qty="0")])

    post(client, number, token)
    post(client, text, token)
    post(client, text, token)

    kept = {record.raw: record.times_seen for record in QuarantinedRecord.objects.all()}
    assert kept == {number[1:-1]: 1, text[1:-1]: 2}


def test_an_address_guessing_tokens_gets_429_but_a_good_token_from_it_is_let_in(
    client, bot_and_token
):
    """Behind a proxy or a NAT many bots share an address: someone else's bad tokens never cost
    a bot with a valid one its request."""
    _, token = bot_and_token
    body = json.dumps([closed_trade()])
    statuses = [post(client, body, f"guess-{n}").status_code for n in range(TOKEN_FAILURES_ALLOWED)]

    guessing_on = post(client, body, "guess-more")
    good = post(client, body, token)

    assert statuses == [401] * TOKEN_FAILURES_ALLOWED
    assert guessing_on.status_code == 429
    assert 0 < int(guessing_on["Retry-After"]) <= TOKEN_FAILURE_WINDOW.total_seconds() + 1
    assert good.status_code == 200 and good.json()["accepted"] == 1


def test_token_throttle_lifts_when_its_window_ends(db):
    start = datetime.datetime(2026, 11, 25, 10, 0, 1, tzinfo=datetime.UTC)
    for _ in range(TOKEN_FAILURES_ALLOWED):
        record_failed_token("192.0.2.1", now=start)

    assert client_throttled_for("192.0.2.1", now=start) == 600
    assert client_throttled_for("192.0.2.1", now=start + TOKEN_FAILURE_WINDOW) == 0
    assert client_throttled_for("192.0.2.2", now=start) == 0


def test_database_down_is_503_json_with_retry_after(tmp_path):
    # The app with its database on a port nothing listens on: PostgreSQL down, as the bot sees it.
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:9/tradeops",
        "SECRET_KEY": "test-only-secret-key",
        "DEBUG": "False",
        "SECURE_SSL_REDIRECT": "False",
    }
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client(HTTP_HOST='127.0.0.1').post('/api/v1/ingest/trades', data='[]',"
        " content_type='application/json', headers={'Authorization': 'Bearer tok_x'})\n"
        "print(r.status_code, r['Content-Type'], r.get('Retry-After'), r.json()['error'])\n"
    )
    env["DJANGO_SETTINGS_MODULE"] = "tradeops.settings"
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )

    status, content_type, retry_after, error = result.stdout.split(" ", 3)
    assert (status, content_type, retry_after) == ("503", "application/json", "5")
    assert "retry later" in error
