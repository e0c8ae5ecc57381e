"""The command center reads each bot's health state for the whole fleet at once (issue 22): a
year of a busy bot's health events must not slow every other bot's card."""

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from cadence.selectors import command_center
from tradeops.models import HealthEvent
from tradeops.services import create_bot

NOW = datetime.datetime(2026, 11, 2, 12, tzinfo=datetime.UTC)


def plan_with_indexes_only(sql, params):
    """The plan PostgreSQL picks when it must use an index if one fits (table and bitmap scans
    off, so a few rows' statistics do not decide it)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_bitmapscan")
        cursor.execute("RESET enable_seqscan")
    return plan


def test_a_bots_health_state_is_read_from_the_index_of_state_changes(db):
    """A bot's state is its latest state change. Without an index of state changes alone, a bot
    with none walked every bot's events by time: 7.4 s for the page at 200k events of one bot
    (bench/pages.py's fleet)."""
    busy, _ = create_bot(slug="busy", now=NOW - datetime.timedelta(days=30))
    create_bot(slug="quiet", now=NOW - datetime.timedelta(days=30))
    HealthEvent.objects.bulk_create(
        HealthEvent(bot=busy, ts=NOW - datetime.timedelta(minutes=n), kind="degraded")
        for n in range(1, 200)
    )
    HealthEvent.objects.create(
        bot=busy, ts=NOW - datetime.timedelta(days=3), kind="state_change", state="DEGRADED"
    )

    with CaptureQueriesContext(connection) as queries:
        command_center(now=NOW)

    reads = [q["sql"] for q in queries if "'state_change'" in q["sql"]]
    assert reads, "the command center reads the bots' state changes"
    for sql in reads:
        assert "health_state_change_idx" in plan_with_indexes_only(sql, None), sql
