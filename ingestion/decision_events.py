"""Raw decision events, counted into the daily counts as they arrive (docs/design.md, "The
KPIs": KPIs never scan raw events). One additive upsert per batch; a retried batch is recognised
by the digest of its events and not counted twice."""

import hashlib
from collections import Counter

from django.db import connection

from tradeops.models import DecisionCount, IngestBatch


def count_decision_events(bot, events):
    """Add raw decision events [(raw text, (day, symbol, outcome, reason))] to the daily counts.

    Returns (digest of the events, whether they were counted now): an exact set of events that
    was counted before (a retried batch) is not counted again.
    """
    # Of the events in any order: a bot that rebuilds its batch for the retry may reorder it.
    digest = hashlib.sha256("\n".join(sorted(raw for raw, _ in events)).encode()).hexdigest()
    if IngestBatch.objects.filter(bot=bot, raw_events_digest=digest).exists():
        return digest, False
    counts = Counter(key for _, key in events)
    table = DecisionCount._meta.db_table
    # Additive upsert, so concurrent batches never lose an increment. One statement for the
    # batch (a day of 200 symbols is thousands of keys), its rows in key order: unnest reads the
    # arrays in order, so concurrent batches lock shared rows in the same order.
    keys = sorted(counts)
    if connection.vendor != "postgresql":
        sql = (
            f"INSERT INTO {table} (bot_id, day, symbol, outcome, reason, count) "
            "VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (bot_id, day, symbol, outcome, reason) "
            f"DO UPDATE SET count = {table}.count + EXCLUDED.count"
        )
        with connection.cursor() as cursor:
            cursor.executemany(sql, [(bot.pk, *key, counts[key]) for key in keys])
        return digest, True
    days, symbols, outcomes, reasons = ([key[n] for key in keys] for n in range(4))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (bot_id, day, symbol, outcome, reason, count) "
            "SELECT %s, * FROM unnest(%s::date[], %s::text[], %s::text[], %s::text[], "
            "%s::bigint[]) "
            "ON CONFLICT (bot_id, day, symbol, outcome, reason) "
            f"DO UPDATE SET count = {table}.count + EXCLUDED.count",
            [bot.pk, days, symbols, outcomes, reasons, [counts[key] for key in keys]],
        )
    return digest, True
