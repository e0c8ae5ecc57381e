"""Ingestion throughput on PostgreSQL: 100,000 trades and 1,000,000 decision events through
`ingest_body`, the call the API view makes (NDJSON bodies parsed, validated, stored), in batches
the API accepts (under its 10 MiB body limit).

The trades are a live bot's stream (MIX, printed with the figures): per 20 records, 10 new closed
trades, 3 sent open and 3 closes of those sent open in an earlier batch (open -> closed updates),
2 re-sends of earlier closed records (same id and content) and 2 slow-path records (P&L printed
from floats with more digits than the stored scale: the fast path declines them, the full
validator rounds them), into bots that already hold `--history` trades (default 50,000, with
their fills). `--only-new` sends the old stream instead: only new fast-path trades, fresh bots.

Each run is interleaved with a bare twin doing the same storage with nothing else: the lines
parsed by msgspec and the trades COPY'd as sent into a temporary table and upserted (a new id
inserted, a changed record updating its row, an identical re-send nothing; `--only-new`: COPY'd
straight in), the decision events counted per day, symbol, outcome and reason and upserted in one
statement. The bare twin has no validation, no quarantine, no locks against concurrent senders,
no idempotency digest and no batch log: the ratio is what those cost. Every run stores into its
own bot, so a table grows by the same rows for both; who goes first alternates. The answer's
counts (accepted, updated, unchanged) are checked against what was sent.

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
import os
import random
import statistics
import sys
import time
from collections import Counter

import msgspec
from common import peak_rss_mib, report, throwaway_database, timed  # sets Django up first
from dataset import build_fleet
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


# What a live bot's trade stream holds, per 20 records sent: 10 new closed trades, 3 new trades
# sent open, 3 closes of trades sent open in an earlier batch (open -> closed updates), 2 re-sends
# of closed records of an earlier batch (same id and content: a retry after a lost answer) and 2
# new closed trades whose P&L the bot serialised from floats with more digits than the stored
# scale ("12.300000000000001"), which the fast path declines and the full validator rounds.
MIX = ["new"] * 10 + ["open"] * 3 + ["close"] * 3 + ["resend"] * 2 + ["slow"] * 2


def _trade(n, rng):
    opened = START + datetime.timedelta(seconds=n * 300 + rng.randint(0, 299))
    return {
        "external_id": f"B-{n}",
        "symbol": rng.choice(SYMBOLS),
        "side": "short" if rng.random() < 0.75 else "long",
        "status": "open",
        "opened_at": opened.isoformat(),
        "qty": "0.25",
        "entry_price": "64000.5",
        "leverage": "5",
        "release": "v1",
        "est_fees": "1.5",
        "est_funding": "0.1",
        "est_slippage_bps": "1.2",
    }


def _closed(trade, rng, slow=False):
    opened = datetime.datetime.fromisoformat(trade["opened_at"])
    closed = opened + datetime.timedelta(seconds=rng.randint(60, 6 * 3600))
    gross = rng.uniform(-50, 60)
    fees, funding = rng.uniform(0.5, 3), rng.uniform(-0.2, 0.5)
    if slow:  # as a bot's float arithmetic prints them: up to 17 significant digits
        pnl = {"gross_pnl": repr(gross), "fees": repr(fees), "funding": repr(funding)}
        pnl["net_pnl"] = repr(gross - fees - funding)
    else:
        gross, fees, funding = round(gross, 4), round(fees, 4), round(funding, 4)
        pnl = {"gross_pnl": f"{gross:.4f}", "fees": f"{fees:.4f}", "funding": f"{funding:.4f}"}
        pnl["net_pnl"] = f"{gross - fees - funding:.4f}"
    return {
        **trade,
        "status": "closed",
        "closed_at": closed.isoformat(),
        "exit_price": "63950.25",
        **pnl,
        "exit_reason": rng.choice(["take_profit", "stop_loss", "trailing_stop"]),
    }


def mixed_trade_bodies(count, batch, rng):
    """(bodies, expected answer counts, mix sent) of `count` records in MIX's proportions; an
    update or re-send with nothing earlier to refer to is sent as a new closed trade instead."""
    bodies, open_trades, closed_lines = [], [], []
    expected = {"accepted": 0, "updated": 0, "unchanged": 0}
    sent = dict.fromkeys(["new", "open", "close", "resend", "slow"], 0)
    new_ids = iter(range(count))
    for offset in range(0, count, batch):
        lines, opened, closed = [], [], []
        for n in range(offset, min(offset + batch, count)):
            kind = MIX[n % len(MIX)]
            if (kind == "close" and not open_trades) or (kind == "resend" and not closed_lines):
                kind = "new"
            if kind == "open":
                opened.append(_trade(next(new_ids), rng))
                line = json.dumps(opened[-1])
            elif kind == "close":
                line = json.dumps(_closed(open_trades.pop(), rng))
            elif kind == "resend":  # each closed record at most once
                line = closed_lines.pop(rng.randrange(len(closed_lines)))
            else:
                line = json.dumps(_closed(_trade(next(new_ids), rng), rng, slow=kind == "slow"))
            if kind in ("new", "slow", "close"):
                closed.append(line)
            sent[kind] += 1
            lines.append(line)
        # Updates and re-sends refer to earlier batches only, as a bot's next sends do.
        open_trades += opened
        closed_lines = closed_lines[-10_000:] + closed
        bodies.append("\n".join(lines).encode())
    expected["accepted"] = sent["new"] + sent["open"] + sent["slow"]
    expected["updated"], expected["unchanged"] = sent["close"], sent["resend"]
    return bodies, expected, sent


def mix_text(sent):
    total = sum(sent.values())
    names = {
        "new": "new closed (fast path)",
        "open": "new sent open",
        "close": "open -> closed updates",
        "resend": "re-sends",
        "slow": "slow-path (float P&L)",
    }
    return ", ".join(f"{sent[k] / total:.0%} {names[k]}" for k in names)


def bots_with_history(count, trades, prefix):
    """`count` bots that each hold `trades` closed trades (with fills) over the year before
    dataset.AS_OF, as a bot that has been running has; the runs send into them."""
    fleet = build_fleet(bots=count, trades_per_bot=[trades] * count, symbols=20, slug_prefix=prefix)
    return fleet.bots


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
    """The answer's counts, summed over the bodies, through the API's own call."""
    counts = Counter()
    for body in bodies:
        result = ingest_body(bot, kind, body, content_type="application/x-ndjson", source="bench")
        assert not result.quarantined, result.errors[:3]
        counts.update(accepted=result.accepted, updated=result.updated, unchanged=result.unchanged)
    return counts


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


def bare_upserts(bot, bodies):
    """The trades as sent, one transaction per body, COPY'd into a temporary table and upserted:
    a new id inserted, a changed record updating its row, an identical re-send writing nothing.
    What storing a stream with updates and re-sends costs at least; rows written."""
    table = Trade._meta.db_table
    columns = [field.column for field in _TRADE_COLUMNS]
    changing = [c for c in columns if c not in ("bot_id", "external_id", "ingested_at")]
    compared = [c for c in changing if c != "changed_at"]
    listed = ", ".join(columns)
    upsert = (
        f"INSERT INTO {table} ({listed}) SELECT DISTINCT ON (external_id) {listed} "
        "FROM bench_stage ORDER BY external_id ON CONFLICT (bot_id, external_id) DO UPDATE SET "
        f"({', '.join(changing)}) = ROW({', '.join(f'EXCLUDED.{c}' for c in changing)}) "
        f"WHERE ({', '.join(f'{table}.{c}' for c in compared)}) IS DISTINCT FROM "
        f"({', '.join(f'EXCLUDED.{c}' for c in compared)})"
    )
    now = str(timezone.now())
    constant = {"bot_id": bot.pk, "ingested_at": now, "changed_at": now}
    names = [field.attname for field in _TRADE_COLUMNS]
    sent_as = {"release_tag": "release"}
    # An open trade's record has no exit_reason: the column's default, as ingestion stores it.
    default = {f.attname: f.get_default() for f in _TRADE_COLUMNS}
    written = 0
    for body in bodies:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE bench_stage ON COMMIT DROP AS SELECT {listed} FROM {table} "
                "WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY bench_stage ({listed}) FROM STDIN") as copy:
                for line in body.split(b"\n"):
                    record = msgspec.json.decode(line)
                    copy.write_row(
                        [
                            constant.get(name)
                            or record.get(sent_as.get(name, name), default.get(name))
                            for name in names
                        ]
                    )
            cursor.execute(upsert)
            written += cursor.rowcount
    return written


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


def measure(kind, bodies, expected, bare, runs, bots=None):
    """Interleaved timings (seconds) of ours and the bare twin, each run into its own bot: one of
    `bots` (which have history), else a fresh one. Ours must answer `expected` (accepted,
    updated, unchanged); the bare twin must write the rows ours accepted and updated."""
    ours_times, bare_times = [], []
    bots = iter(bots or ())
    for run in range(runs):
        pair = [
            ("ours", ours_times, functools.partial(ours, kind=kind)),
            ("bare", bare_times, bare),
        ]
        for name, times, fn in pair if run % 2 == 0 else reversed(pair):
            bot = next(bots, None) or create_bot(slug=f"{kind}-{name}-{run}")[0]
            seconds, answer = timed(fn, bot, bodies=bodies)
            if name == "ours":
                assert answer == expected, f"{kind} (ours): answered {answer}, expected {expected}"
            else:
                written = expected["accepted"] + expected["updated"]
                assert answer == written, f"{kind} (bare): wrote {answer} of {written}"
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
    parser.add_argument(
        "--history", type=int, default=50_000, help="closed trades each receiving bot holds"
    )
    parser.add_argument(
        "--only-new",
        action="store_true",
        help="the old stream: only new fast-path trades, into fresh bots (bare twin: COPY)",
    )
    args = parser.parse_args()

    with throwaway_database():
        rng = random.Random(1)
        if args.only_new:
            trades = trade_bodies(args.trades, args.trade_batch, rng)
            expected = Counter(accepted=args.trades, updated=0, unchanged=0)
            bare, bots, mix = bare_trades, None, "only new fast-path trades, fresh bots"
        else:
            trades, expected, sent = mixed_trade_bodies(args.trades, args.trade_batch, rng)
            expected = Counter(expected)
            started = time.perf_counter()
            bots = bots_with_history(2 * args.runs, args.history, "ingest-")
            bare = bare_upserts
            mix = (
                f"{mix_text(sent)}; into bots holding {args.history:,} trades each (loaded in "
                f"{time.perf_counter() - started:.0f} s)"
            )
        decisions = decision_bodies(args.decisions, args.decision_batch, rng)
        rss_before = peak_rss_mib()

        trade_times = measure("trades", trades, expected, bare, args.runs, bots)
        decision_times = measure(
            "decisions",
            decisions,
            Counter(accepted=args.decisions, updated=0, unchanged=0),
            bare_decisions,
            args.runs,
        )

        print(
            f"PostgreSQL {connection.pg_version}, Python {sys.version.split()[0]}, {args.runs} "
            f"runs each, interleaved with the bare twin; batches of {args.trade_batch:,} trades "
            f"and {args.decision_batch:,} decision events; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(f"trades sent: {mix}")
        print_rates("trades", args.trades, *trade_times, target=20_000)
        print_rates("decisions", args.decisions, *decision_times, target=300_000)
        print(
            f"peak RSS: {peak_rss_mib():,.0f} MiB (inputs generated: {rss_before:,.0f} MiB before "
            "ingesting)"
        )


if __name__ == "__main__":
    main()
