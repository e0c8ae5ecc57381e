"""A bot's closes in curve order, with their P&L and release (issue 11): the trade-curve drawdown
of a KPI window reads this index alone (an index-only scan in order, no table, no sort), in place
of the (bot, status, closed_at) index it widens, which served the same window reads.

Built CONCURRENTLY on PostgreSQL, so a year of trades keeps being written while it builds (the
migration is not atomic for that). SQLite, the first-look default, has no INCLUDE: it gets the
index's key columns."""

from django.db import migrations, models

OLD = "trade_bot_closed_idx"
NEW = "trade_bot_closes_idx"
KEY = "bot_id, status, closed_at, id"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NEW} ON tradeops_trade ({KEY}) "
            "INCLUDE (net_pnl, release_id)"
        )
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {OLD}")
    else:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {NEW} ON tradeops_trade ({KEY})")
        schema_editor.execute(f"DROP INDEX IF EXISTS {OLD}")


def backwards(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS {OLD} ON tradeops_trade "
        "(bot_id, status, closed_at)"
    )
    schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {NEW}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tradeops", "0017_daily_closes_d"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="trade", name=OLD),
                migrations.AddIndex(
                    model_name="trade",
                    index=models.Index(
                        fields=["bot", "status", "closed_at", "id"],
                        include=("net_pnl", "release"),
                        name=NEW,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
