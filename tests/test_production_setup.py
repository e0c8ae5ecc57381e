"""The production set-up (deploy/: nginx in front of gunicorn's sync workers): bots that send their
bodies a byte at a time hold nginx connections, never a worker, so every other bot still pulls
its config and lands its batches."""

import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from experiments.services import make_baseline
from tests.factories import closed_trade
from tradeops.models import Trade
from tradeops.services import create_bot

pytestmark = pytest.mark.django_db(transaction=True)

SLOW_SENDERS = 8  # four times gunicorn's workers


class SlowSender(threading.Thread):
    """A bot on a bad line: its batch's headers, then its body a byte every 0.2 s until it is let
    go, then the rest; keeps the response it finally gets."""

    def __init__(self, url, token, external_id, let_go):
        super().__init__(daemon=True)
        self.address = urlsplit(url).hostname, urlsplit(url).port
        self.body = json.dumps([closed_trade(external_id=external_id)]).encode()
        self.token, self.let_go = token, let_go
        self.started_body, self.response = threading.Event(), None

    def run(self):
        with socket.create_connection(self.address, timeout=60) as sock:
            sock.sendall(
                b"POST /api/v1/ingest/trades HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + f"Authorization: Bearer {self.token}\r\n".encode()
                + b"Content-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(self.body)}\r\n\r\n".encode()
            )
            sent = 0
            while not self.let_go.is_set() and sent < len(self.body) - 1:
                sock.sendall(self.body[sent : sent + 1])
                sent += 1
                self.started_body.set()
                time.sleep(0.2)
            sock.sendall(self.body[sent:])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        self.response = answer


def test_slow_senders_cost_no_worker_while_other_bots_pull_and_ingest(
    production_url, bot_and_token, baseline, people
):
    make_baseline(baseline, by=people["lead"], note="the live config")
    _, pull_token = bot_and_token
    slow_token = create_bot(slug="bad-line")[1]
    live_token = create_bot(slug="pusher")[1]
    let_go = threading.Event()
    senders = [
        SlowSender(production_url, slow_token, f"SLOW-{n}", let_go) for n in range(SLOW_SENDERS)
    ]
    for sender in senders:
        sender.start()
    assert all(sender.started_body.wait(timeout=30) for sender in senders)

    pulls, batches = [], []
    for n in range(10):
        pulls.append(
            requests.get(
                f"{production_url}/api/v1/config",
                headers={"Authorization": f"Bearer {pull_token}"},
                timeout=10,
            )
        )
        batches.append(
            requests.post(
                f"{production_url}/api/v1/ingest/trades",
                json=[closed_trade(external_id=f"FAST-{n}")],
                headers={"Authorization": f"Bearer {live_token}"},
                timeout=10,
            )
        )
    still_sending = [sender.is_alive() and sender.response is None for sender in senders]
    let_go.set()
    for sender in senders:
        sender.join(timeout=60)

    assert all(still_sending)
    assert [r.status_code for r in pulls] == [200] * 10
    assert [r.json()["accepted"] for r in batches] == [1] * 10
    # The slow ones land too, once whole: nothing is lost.
    assert all(sender.response.startswith(b"HTTP/1.1 200") for sender in senders)
    assert Trade.objects.filter(external_id__startswith="SLOW-").count() == SLOW_SENDERS
