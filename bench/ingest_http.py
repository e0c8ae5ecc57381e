"""Ingestion end to end: trades posted as NDJSON to gunicorn (2 sync workers, tradeops.wsgi) by 2
concurrent clients, on a throw-away PostgreSQL database.

Each run makes a fresh bot and token through the services, the clients post their share of the
batches (distinct trades), and the run counts as done when the last response is in; the rows
stored for the bot are then counted against those sent. Each run is interleaved with a bare twin:
the same rows COPY'd as sent from 2 concurrent database connections, no HTTP, no validation (the
floor of storing them with two writers, as in bench/ingest.py).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/ingest_http.py

REDIS_URL is handed to gunicorn as set here (unset: jobs run in the request). Target (issue 11):
at least 12,000 trades/s. Figures depend on the machine; these are not tests.
"""

import argparse
import http.client
import json
import random
import statistics
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from common import report, throwaway_database, timed  # sets Django up first
from django.db import connections
from ingest import bare_trades, trade_bodies

from tests import servers
from tradeops.models import Trade
from tradeops.services import create_bot

CLIENTS = 2


@contextmanager
def gunicorn(workers):
    """A gunicorn serving the app on the current (throw-away) database, started as the tests
    start it (tests/servers.py); stopped on the way out."""
    with (
        tempfile.TemporaryDirectory() as run_dir,
        servers.gunicorn(Path(run_dir), "--workers", str(workers), "--timeout", "120") as port,
    ):
        yield port


def post(port, token, body, timeout=120, kind="trades"):
    """(status, answer) of one POST of an NDJSON body of `kind` records."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            f"/api/v1/ingest/{kind}",
            body=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/x-ndjson",
            },
        )
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def client(port, token, bodies):
    """Records the server stored (accepted) for this client's bodies; any other answer fails."""
    stored = 0
    for body in bodies:
        status, answer = post(port, token, body)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {answer[:300]!r}")
        stored += json.loads(answer)["accepted"]
    return stored


def shares(bodies):
    return [bodies[n::CLIENTS] for n in range(CLIENTS)]


def through_gunicorn(port, bodies, run):
    bot, token = create_bot(slug=f"http-{run}")
    with ThreadPoolExecutor(CLIENTS) as pool:
        stored = sum(pool.map(lambda share: client(port, token, share), shares(bodies)))
    return bot, stored


def bare(bodies, run):
    bot, _ = create_bot(slug=f"bare-{run}")

    def writer(share):
        try:
            return bare_trades(bot, share)
        finally:
            connections.close_all()  # this thread's connection

    with ThreadPoolExecutor(CLIENTS) as pool:
        stored = sum(pool.map(writer, shares(bodies)))
    return bot, stored


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    bodies = trade_bodies(args.trades, args.batch, random.Random(1))
    ours_times, bare_times = [], []
    with throwaway_database(), gunicorn(args.workers) as port:
        # One warm-up batch: the workers import the app on their first request.
        client(port, create_bot(slug="warm-up")[1], bodies[:1])
        for run in range(args.runs):
            pair = [
                (ours_times, lambda run=run: through_gunicorn(port, bodies, run)),
                (bare_times, lambda run=run: bare(bodies, run)),
            ]
            for times, fn in pair if run % 2 == 0 else reversed(pair):
                seconds, (bot, stored) = timed(fn)
                in_database = Trade.objects.filter(bot=bot).count()
                assert stored == in_database == args.trades, (stored, in_database, args.trades)
                times.append(seconds)

        rates = sorted(args.trades / seconds for seconds in ours_times)
        print(
            f"gunicorn, {args.workers} sync workers, {CLIENTS} clients, {args.runs} runs of "
            f"{args.trades:,} trades in NDJSON batches of {args.batch:,} (stored = sent, checked "
            "in the database)"
        )
        print(
            f"trades over HTTP: min {rates[0]:,.0f}/s, median {statistics.median(rates):,.0f}/s, "
            f"max {rates[-1]:,.0f}/s (target >= 12,000/s) | bare, 2 connections: median "
            f"{args.trades / statistics.median(bare_times):,.0f}/s"
        )
        report("  time", ours_times, bare_times, bare_name="bare COPY x2")


if __name__ == "__main__":
    main()
