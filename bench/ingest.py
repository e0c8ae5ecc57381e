"""Ingestion throughput on PostgreSQL: 100,000 trades and 1,000,000 decision events through
`ingest_body`, the call the API view makes (NDJSON bodies parsed, validated, stored), in batches
the API accepts (under its 10 MiB body limit).

Each run is interleaved with a bare twin doing the same storage with nothing else: the lines
parsed by msgspec and the trades COPY'd as sent (PostgreSQL parses the numbers and times), the
decision events counted per day, symbol, outcome and reason and upserted in one statement. The bare
twin has no validation, no quarantine, no locks against concurrent senders, no idempotency digest
and no batch log: the ratio is what those cost. Every run stores into a fresh bot, so a table grows
by the same rows for both; who goes first alternates.

Runs in a throw-away test database next to the one DATABASE_URL names, so no data is touched:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/ingest.py

Prints min and median records/s for each kind over the runs, the ratio to the bare twin, and the
process's peak resident memory. Targets (issue 11): at least 20,000 trades/s and 300,000 decision
events/s. Figures depend on the machine; these are not tests.
"""

import argparse
import datetime
import functools
import json
import random
import statistics
import sys
from collections import Counter

import msgspec
from common import peak_rss_mib, report, throwaway_database, timed  # sets Django up first
from django.db import connection, transaction
from django.utils import timezone

from ingestion.services import ingest_body
from tradeops.models import DecisionCount, Trade
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


def ours(bot, kind, bodies):
    """Stored records, through the API's own call."""
    stored = 0
    for body in bodies:
        result = ingest_body(bot, kind, body, content_type="application/x-ndjson", source="bench")
        stored += result.accepted + result.updated
    return stored


_TRADE_COLUMNS = [field for field in Trade._meta.concrete_fields if not field.primary_key]


def bare_trades(bot, bodies):
    """The trades COPY'd as sent, one transaction per body: what storing them costs at least."""
    # The stamps as text, formatted once (as insert_rows sends them), not once a row.
    now = str(timezone.now())
    constant = {"bot_id": bot.pk, "ingested_at": now, "changed_at": now}
    names = [field.attname for field in _TRADE_COLUMNS]
    sent_as = {"release_tag": "release"}
    columns = ", ".join(field.column for field in _TRADE_COLUMNS)
    sql = f"COPY {Trade._meta.db_table} ({columns}) FROM STDIN"
    stored = 0
    for body in bodies:
        with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for line in body.split(b"\n"):
                record = msgspec.json.decode(line)
                copy.write_row(
                    [
                        constant[name] if name in constant else record.get(sent_as.get(name, name))
                        for name in names
                    ]
                )
                stored += 1
    return stored


@functools.lru_cache(maxsize=16384)
def _utc_day(ts):
    return datetime.datetime.fromisoformat(ts).astimezone(datetime.UTC).date()


def bare_decisions(bot, bodies):
    """The events counted per (day, symbol, outcome, reason) and added to the stored counts in one
    upsert per body."""
    table = DecisionCount._meta.db_table
    sql = (
        f"INSERT INTO {table} (bot_id, day, symbol, outcome, reason, count) "
        "SELECT %s, * FROM unnest(%s::date[], %s::text[], %s::text[], %s::text[], %s::bigint[]) "
        "ON CONFLICT (bot_id, day, symbol, outcome, reason) "
        f"DO UPDATE SET count = {table}.count + EXCLUDED.count"
    )
    stored = 0
    for body in bodies:
        counts = Counter()
        for line in body.split(b"\n"):
            event = msgspec.json.decode(line)
            day = _utc_day(event["ts"])
            counts[day, event.get("symbol", ""), event["outcome"], event.get("reason", "")] += 1
            stored += 1
        keys = sorted(counts)
        columns = [list(column) for column in zip(*keys, strict=True)]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [bot.pk, *columns, [counts[key] for key in keys]])
    return stored


def measure(kind, bodies, records, bare, runs):
    """Interleaved timings (seconds) of ours and the bare twin, each run on fresh bots."""
    ours_times, bare_times = [], []
    for run in range(runs):
        pair = [
            ("ours", ours_times, functools.partial(ours, kind=kind)),
            ("bare", bare_times, bare),
        ]
        for name, times, fn in pair if run % 2 == 0 else reversed(pair):
            bot, _ = create_bot(slug=f"{kind}-{name}-{run}")
            seconds, stored = timed(fn, bot, bodies=bodies)
            assert stored == records, f"{kind} ({name}): stored {stored} of {records}"
            times.append(seconds)
    return ours_times, bare_times


def print_rates(kind, records, ours_times, bare_times, target):
    rates = sorted(records / seconds for seconds in ours_times)
    bare_rates = sorted(records / seconds for seconds in bare_times)
    print(
        f"{kind}: {records:,} per run: min {rates[0]:,.0f}/s, median "
        f"{statistics.median(rates):,.0f}/s, max {rates[-1]:,.0f}/s (target >= {target:,}/s) | "
        f"bare: median {statistics.median(bare_rates):,.0f}/s"
    )
    report(f"  {kind} time", ours_times, bare_times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--trade-batch", type=int, default=5_000)
    parser.add_argument("--decision-batch", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with throwaway_database():
        rng = random.Random(1)
        trades = trade_bodies(args.trades, args.trade_batch, rng)
        decisions = decision_bodies(args.decisions, args.decision_batch, rng)
        rss_before = peak_rss_mib()

        trade_times = measure("trades", trades, args.trades, bare_trades, args.runs)
        decision_times = measure("decisions", decisions, args.decisions, bare_decisions, args.runs)

        print(
            f"PostgreSQL {connection.pg_version}, Python {sys.version.split()[0]}, {args.runs} "
            f"runs each, interleaved with the bare twin; batches of {args.trade_batch:,} trades "
            f"and {args.decision_batch:,} decision events"
        )
        print_rates("trades", args.trades, *trade_times, target=20_000)
        print_rates("decisions", args.decisions, *decision_times, target=300_000)
        print(
            f"peak RSS: {peak_rss_mib():,.0f} MiB (inputs generated: {rss_before:,.0f} MiB before "
            "ingesting)"
        )


if __name__ == "__main__":
    main()
