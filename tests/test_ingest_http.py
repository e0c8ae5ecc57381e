"""The ingestion API through gunicorn, as a bot reaches it: every framing of the body is read whole,
and what is not read is refused loudly, never answered 200 with nothing stored."""

import gzip
import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection

from tests.factories import closed_trade
from tradeops.models import IngestBatch, QuarantinedRecord, Trade
from tradeops.services import create_bot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token():
    return create_bot(slug="http")[1]


def trades(count):
    return [closed_trade(external_id=f"H-{n}") for n in range(count)]


def chunked(data: bytes, size=100):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def post(url, token, body, content_type="application/json", **headers):
    return requests.post(
        f"{url}/api/v1/ingest/trades",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type, **headers},
        timeout=30,
    )


def test_chunked_json_array_is_read_whole(gunicorn_url, token):
    body = json.dumps(trades(20)).encode()

    response = post(gunicorn_url, token, chunked(body))

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 20
    assert Trade.objects.count() == 20


def test_chunked_ndjson_from_a_file_like_body_is_read_whole(gunicorn_url, token):
    body = "\n".join(json.dumps(trade) for trade in trades(30)).encode()

    response = post(gunicorn_url, token, chunked(body, 7), content_type="application/x-ndjson")

    assert response.json()["accepted"] == 30
    assert Trade.objects.count() == 30


def test_hand_made_chunked_request(gunicorn_url, token):
    body = json.dumps(trades(3)).encode()
    parts = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in chunked(body, 64))
    connection = http.client.HTTPConnection(urlsplit(gunicorn_url).netloc, timeout=30)
    connection.putrequest("POST", "/api/v1/ingest/trades")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(parts + b"0\r\n\r\n")

    response = connection.getresponse()

    assert response.status == 200
    assert json.loads(response.read())["accepted"] == 3


def test_gzip_body_with_content_encoding_is_inflated(gunicorn_url, token):
    body = gzip.compress(json.dumps(trades(5)).encode())

    response = post(gunicorn_url, token, body, **{"Content-Encoding": "gzip"})

    assert response.json()["accepted"] == 5


def test_gzip_bomb_is_refused_as_too_large(gunicorn_url, token, settings):
    body = gzip.compress(b" " * (11 * 1024 * 1024))

    response = post(gunicorn_url, token, body, **{"Content-Encoding": "gzip"})

    assert response.status_code == 413
    assert not IngestBatch.objects.exists()


def test_empty_body_is_refused_not_counted(gunicorn_url, token):
    response = post(gunicorn_url, token, b"")

    assert response.status_code == 400
    assert "empty body" in response.json()["error"]
    assert not IngestBatch.objects.exists()


def test_unknown_content_encoding_is_refused(gunicorn_url, token):
    response = post(gunicorn_url, token, b"[]", **{"Content-Encoding": "br"})

    assert response.status_code == 415


def test_chunked_body_where_the_server_cannot_frame_it_gets_411(client, token):
    # Django's test client (like runserver) gives no terminated stream for a body without a
    # Content-Length: refused, never read as empty.
    response = client.post(
        "/api/v1/ingest/trades",
        data=b"",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Transfer-Encoding": "chunked"},
        CONTENT_LENGTH="",
    )

    assert response.status_code == 411
    assert "Content-Length" in response.json()["error"]


def test_corrupt_gzip_body_is_quarantined_whole(gunicorn_url, token):
    response = post(gunicorn_url, token, b"\x1f\x8bnot really gzip", **{"Content-Encoding": "gzip"})

    assert response.status_code == 400
    assert response.json()["quarantined"] == 1
    batch = IngestBatch.objects.get()
    assert batch.body == b"\x1f\x8bnot really gzip"
    assert QuarantinedRecord.objects.get().reason == QuarantinedRecord.Reason.UNPARSEABLE


def raw_request(url, head: bytes, body: bytes):
    """Send bytes as they are, close our side, and return the status line and JSON body."""
    with socket.create_connection(
        (urlsplit(url).hostname, urlsplit(url).port), timeout=30
    ) as connection:
        connection.sendall(head + body)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def test_body_cut_short_is_refused_not_stored_as_a_smaller_batch(gunicorn_url, token):
    body = "\n".join(json.dumps(trade) for trade in trades(10)).encode()
    head = (
        "POST /api/v1/ingest/trades HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()

    status, answer = raw_request(gunicorn_url, head, body[: len(body) // 2])

    assert status == 400
    assert "ended after" in answer["error"]
    assert not IngestBatch.objects.exists()


def test_broken_chunk_framing_is_400_not_500(gunicorn_url, token):
    head = (
        "POST /api/v1/ingest/trades HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()

    status, answer = raw_request(gunicorn_url, head, b"A \r\n[]\r\n")

    assert status == 400
    assert "could not read the body" in answer["error"]
    assert not IngestBatch.objects.exists()


def test_a_kept_connection_the_database_dropped_costs_no_batch(gunicorn_url, token):
    """Workers keep their database connection between requests (CONN_MAX_AGE); one the server
    closed meanwhile (a restart, a failover, an idle timeout) is replaced before it is used."""
    body = json.dumps(trades(4)).encode()
    for _ in range(4):  # both workers now hold a connection
        assert post(gunicorn_url, token, body).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 1

    answers = [post(gunicorn_url, token, body) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [200] * 4
    assert Trade.objects.count() == 4
