"""A fleet's steady load on the ingestion API: N bots (default 50), each posting a batch of 100
closed trades every second for a set time (default 120 s), to gunicorn (2 sync workers,
tradeops.wsgi) on a throw-away PostgreSQL database on 127.0.0.1.

Each bot is a thread with its own schedule: request k is due at start + offset + k seconds (the
bots' offsets spread over the first second). Latency runs from when a request was due to its
answer, so a server that falls behind shows as latency, not as fewer requests. The loop is bounded
twice: each bot sends exactly duration requests, and a request not sent by the end of the
duration plus a grace period is not sent at all and counted as an error (each request also has a
timeout). Afterwards the rows stored are counted against the trades accepted.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/load.py

Prints p50/p99/max latency and the error count. Target (issue 11): p99 under 500 ms, 0 errors.
"""

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from common import throwaway_database  # sets Django up first
from ingest_http import gunicorn, post

from tradeops.models import Trade
from tradeops.services import create_bot

TRADES_PER_BATCH = 100
REQUEST_TIMEOUT = 10
GRACE_SECONDS = 15


def batch_template(bot_index):
    """NDJSON of 100 closed trades; "@K@" in their ids is the batch number."""
    lines = []
    for n in range(TRADES_PER_BATCH):
        gross, fees, funding = 12.5 + n % 7, 1.25, 0.1
        lines.append(
            json.dumps(
                {
                    "external_id": f"L{bot_index}-@K@-{n}",
                    "symbol": f"SYM{n % 20:02d}USDT",
                    "side": "long" if n % 3 else "short",
                    "status": "closed",
                    "opened_at": "2026-01-05T10:00:00+00:00",
                    "closed_at": "2026-01-05T10:45:00+00:00",
                    "qty": "0.25",
                    "entry_price": "64000.5",
                    "exit_price": "63950.25",
                    "leverage": "5",
                    "gross_pnl": f"{gross:.4f}",
                    "fees": f"{fees:.4f}",
                    "funding": f"{funding:.4f}",
                    "net_pnl": f"{gross - fees - funding:.4f}",
                    "exit_reason": "take_profit",
                    "release": "v1",
                }
            )
        )
    return "\n".join(lines).encode()


def run_bot(port, token, template, first_due, batches, deadline):
    """(latencies in seconds, errors, trades accepted) of one bot's bounded schedule."""
    latencies, errors, accepted = [], [], 0
    for k in range(batches):
        due = first_due + k
        now = time.monotonic()
        if now > deadline:
            errors.append(f"batch {k} not sent by the deadline")
            continue
        if now < due:
            time.sleep(due - now)
        body = template.replace(b"@K@", str(k).encode())
        try:
            status, answer = post(port, token, body, timeout=REQUEST_TIMEOUT)
        except OSError as exc:
            errors.append(f"batch {k}: {exc}")
            continue
        latencies.append(time.monotonic() - due)
        if status != 200:
            errors.append(f"batch {k}: HTTP {status} {answer[:200]!r}")
            continue
        counts = json.loads(answer)
        accepted += counts["accepted"]
        if counts["accepted"] != TRADES_PER_BATCH:
            errors.append(f"batch {k}: {counts}")
    return latencies, errors, accepted


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=50)
    parser.add_argument("--duration", type=int, default=120, help="seconds (= batches per bot)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with throwaway_database(), gunicorn(args.workers) as port:
        fleet = [create_bot(slug=f"load-{n}") for n in range(args.bots)]
        templates = [batch_template(n) for n in range(args.bots)]
        # The workers import the app on their first requests, before the clock starts.
        _, warm_up_token = create_bot(slug="warm-up")
        for n in range(args.workers * 2):
            post(port, warm_up_token, batch_template(-1).replace(b"@K@", str(n).encode()))
        start = time.monotonic() + 1
        deadline = start + args.duration + GRACE_SECONDS
        with ThreadPoolExecutor(args.bots) as pool:
            results = list(
                pool.map(
                    lambda n: run_bot(
                        port,
                        fleet[n][1],
                        templates[n],
                        start + n / args.bots,
                        args.duration,
                        deadline,
                    ),
                    range(args.bots),
                )
            )
        elapsed = time.monotonic() - start
        latencies = [seconds for result in results for seconds in result[0]]
        errors = [error for result in results for error in result[1]]
        accepted = sum(result[2] for result in results)
        stored = Trade.objects.filter(bot__in=[bot for bot, _ in fleet]).count()

    sent = args.bots * args.duration
    print(
        f"{args.bots} bots x {args.duration} batches of {TRADES_PER_BATCH} trades, one a second "
        f"each, through gunicorn ({args.workers} sync workers): {len(latencies):,} of {sent:,} "
        f"requests answered in {elapsed:.0f} s; {stored:,} trades stored, "
        f"{accepted:,} accepted, {sent * TRADES_PER_BATCH:,} sent"
    )
    if latencies:
        print(
            f"latency from due time: p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
            "(target p99 < 500 ms)"
        )
    if stored != accepted:
        errors.append(f"{stored:,} trades stored but {accepted:,} accepted")
    print(f"errors: {len(errors)} (target 0)")
    for error in errors[:10]:
        print(f"  {error}")


if __name__ == "__main__":
    main()
