"""Ingestion end to end: trades posted as NDJSON to gunicorn (2 sync workers, tradeops.wsgi) by 2
concurrent clients, each a bot sending its own stream, on a throw-away PostgreSQL database.

Each client sends bench/ingest.py's live stream (its MIX, printed: new closed trades, trades sent
open and closed in a later batch, identical re-sends, slow-path records) into its own bot, which
already holds `--history` trades with their fills; the run counts as done when the last response
is in, and the answers' counts (accepted, updated, unchanged) and the rows stored are checked
against what was sent. Each run is interleaved with a bare twin: the same bodies COPY'd into a
temporary table and upserted by 2 concurrent database connections, each into its own bot, no
HTTP, no validation (ingest.bare_upserts: the floor of storing them with two writers).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/ingest_http.py

REDIS_URL is handed to gunicorn as set here (unset: jobs run in the request). Target (issue 11):
at least 12,000 trades/s. Figures depend on the machine; these are not tests.
"""

import argparse
import http.client
import json
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from common import report, throwaway_database, timed  # sets Django up first
from django.db import connections
from ingest import bare_upserts, bots_with_history, mix_text, mixed_trade_bodies

from tests import servers
from tradeops.models import Trade
from tradeops.services import create_bot, issue_api_token

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
    """The answers' counts for these bodies; any other answer than 200 fails."""
    counts = Counter()
    for body in bodies:
        status, answer = post(port, token, body)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {answer[:300]!r}")
        answered = json.loads(answer)
        counts.update({name: answered[name] for name in ("accepted", "updated", "unchanged")})
    return counts


def through_gunicorn(port, bodies, bots):
    with ThreadPoolExecutor(CLIENTS) as pool:
        tokens = [issue_api_token(bot) for bot in bots]
        return sum(pool.map(lambda token: client(port, token, bodies), tokens), Counter())


def bare(bodies, bots):
    def writer(bot):
        try:
            return bare_upserts(bot, bodies)
        finally:
            connections.close_all()  # this thread's connection

    with ThreadPoolExecutor(CLIENTS) as pool:
        return sum(pool.map(writer, bots))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trades", type=int, default=50_000, help="per client and run")
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--history", type=int, default=20_000, help="trades each bot holds")
    args = parser.parse_args()

    bodies, expected, sent = mixed_trade_bodies(args.trades, args.batch, random.Random(1))
    ours_times, bare_times = [], []
    with throwaway_database(), gunicorn(args.workers) as port:
        started = time.perf_counter()
        bots = iter(bots_with_history(2 * CLIENTS * args.runs, args.history, "http-"))
        loaded = time.perf_counter() - started
        # One warm-up batch: the workers import the app on their first request.
        client(port, create_bot(slug="warm-up")[1], bodies[:1])
        want = Counter({name: CLIENTS * count for name, count in expected.items()})
        pair = [
            (ours_times, lambda pair_bots: through_gunicorn(port, bodies, pair_bots), want),
            (
                bare_times,
                lambda pair_bots: bare(bodies, pair_bots),
                want["accepted"] + want["updated"],
            ),
        ]
        for run in range(args.runs):
            for times, fn, answer_wanted in pair if run % 2 == 0 else reversed(pair):
                pair_bots = [next(bots) for _ in range(CLIENTS)]
                seconds, answer = timed(fn, pair_bots)
                assert answer == answer_wanted, (answer, answer_wanted)
                new = Trade.objects.filter(bot__in=pair_bots, external_id__startswith="B-")
                assert new.count() == want["accepted"], (new.count(), want)
                times.append(seconds)

        total = CLIENTS * args.trades
        rates = sorted(total / seconds for seconds in ours_times)
        print(
            f"gunicorn, {args.workers} sync workers, {CLIENTS} clients (bots) each sending "
            f"{args.trades:,} trade records in NDJSON batches of {args.batch:,}, {args.runs} runs; "
            f"answers and rows stored checked against what was sent; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(
            f"sent: {mix_text(sent)}; into bots holding {args.history:,} trades each "
            f"(loaded in {loaded:.0f} s)"
        )
        print(
            f"records over HTTP: min {rates[0]:,.0f}/s, median {statistics.median(rates):,.0f}/s, "
            f"max {rates[-1]:,.0f}/s (target >= 12,000/s) | bare, 2 connections: median "
            f"{total / statistics.median(bare_times):,.0f}/s"
        )
        report("  time", ours_times, bare_times, bare_name="bare upserts x2")


if __name__ == "__main__":
    main()
