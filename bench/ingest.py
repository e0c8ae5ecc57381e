"""Ingestion throughput on PostgreSQL: 100,000 trades and 1,000,000 decision events through
`ingest_body`, the call the API view makes (NDJSON bodies parsed, validated, stored), in batches
the API accepts (under its 10 MiB body limit).

Runs in a throw-away test database next to the one DATABASE_URL names, so no data is touched:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/ingest.py

Prints records/s for each kind and the process's peak resident memory. Targets (issue 2): at least
10,000 trades/s and 200,000 decisions/s. Figures depend on the machine; these are not tests.
"""

import argparse
import datetime
import json
import random
import sys
import time

from common import peak_rss_mib, throwaway_database  # sets Django up: before tradeops and kpis
from django.db import connection

from ingestion.services import ingest_body
from tradeops.services import create_bot

SYMBOLS = [f"SYM{n:03d}USDT" for n in range(200)]
REASONS = ["spread_too_wide", "risk_cap_reached", "cooldown_active", "low_volume"]
START = datetime.datetime(2025, 11, 1, tzinfo=datetime.UTC)


def trade_bodies(count, batch, rng):
    bodies = []
    for offset in range(0, count, batch):
        lines = []
        for n in range(offset, min(offset + batch, count)):
            opened = START + datetime.timedelta(seconds=n * 300)
            gross = round(rng.uniform(-50, 60), 4)
            fees, funding = round(rng.uniform(0.5, 3), 4), round(rng.uniform(-0.2, 0.5), 4)
            lines.append(
                json.dumps(
                    {
                        "external_id": f"B-{n}",
                        "symbol": rng.choice(SYMBOLS),
                        "side": "short" if rng.random() < 0.75 else "long",
                        "status": "closed",
                        "opened_at": opened.isoformat(),
                        "closed_at": (opened + datetime.timedelta(minutes=45)).isoformat(),
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
                        "est_fees": "1.5",
                        "est_funding": "0.1",
                        "est_slippage_bps": "1.2",
                    }
                )
            )
        bodies.append("\n".join(lines).encode())
    return bodies


def decision_bodies(count, batch, rng):
    bodies = []
    for offset in range(0, count, batch):
        lines = []
        for n in range(offset, min(offset + batch, count)):
            # One evaluation per symbol per 5-minute candle, as the bot emits them.
            ts = (START + datetime.timedelta(minutes=5 * (n // len(SYMBOLS)))).isoformat()
            roll = rng.random()
            if roll < 0.85:
                event = {"ts": ts, "symbol": SYMBOLS[n % 200], "outcome": "no_signal"}
            elif roll < 0.97:
                event = {
                    "ts": ts,
                    "symbol": SYMBOLS[n % 200],
                    "outcome": "rejected",
                    "reason": REASONS[n % 4],
                }
            else:
                event = {"ts": ts, "symbol": SYMBOLS[n % 200], "outcome": "signal"}
            lines.append(json.dumps(event))
        bodies.append("\n".join(lines).encode())
    return bodies


def run(bot, kind, bodies, records):
    started = time.perf_counter()
    stored = 0
    for body in bodies:
        result = ingest_body(bot, kind, body, content_type="application/x-ndjson", source="bench")
        stored += result.accepted + result.updated
    elapsed = time.perf_counter() - started
    assert stored == records, f"{kind}: stored {stored} of {records}"
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--trade-batch", type=int, default=5_000)
    parser.add_argument("--decision-batch", type=int, default=50_000)
    args = parser.parse_args()

    with throwaway_database():
        rng = random.Random(1)
        bot, _ = create_bot(slug="bench")
        trades = trade_bodies(args.trades, args.trade_batch, rng)
        decisions = decision_bodies(args.decisions, args.decision_batch, rng)
        rss_before = peak_rss_mib()

        trade_seconds = run(bot, "trades", trades, args.trades)
        decision_seconds = run(bot, "decisions", decisions, args.decisions)

        print(f"PostgreSQL {connection.pg_version}, Python {sys.version.split()[0]}")
        print(
            f"trades:    {args.trades:>9,} in {trade_seconds:6.2f} s = "
            f"{args.trades / trade_seconds:>9,.0f} trades/s   (target >= 10,000; "
            f"batches of {args.trade_batch:,})"
        )
        print(
            f"decisions: {args.decisions:>9,} in {decision_seconds:6.2f} s = "
            f"{args.decisions / decision_seconds:>9,.0f} decisions/s (target >= 200,000; "
            f"batches of {args.decision_batch:,})"
        )
        print(
            f"peak RSS:  {peak_rss_mib():,.0f} MiB (inputs generated: {rss_before:,.0f} MiB before "
            "ingesting)"
        )


if __name__ == "__main__":
    main()
