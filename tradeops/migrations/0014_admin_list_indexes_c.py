from django.db import migrations, models

# The admin searches no model index can express: PostgreSQL only (the embedded SQLite default
# has neither operator classes nor pg_trgm, and no years of history to search).
SEARCH_INDEXES = {
    # Symbol search is UPPER(symbol) LIKE 'X%': the pattern operator class serves a prefix in
    # any collation.
    "trade_symbol_prefix_idx": "tradeops_trade (UPPER(symbol) text_pattern_ops)",
    # Health event search is UPPER(detail) LIKE '%x%': trigrams serve a match anywhere.
    "health_detail_trgm_idx": "tradeops_healthevent USING gin (UPPER(detail) gin_trgm_ops)",
}


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, target in SEARCH_INDEXES.items():
            schema_editor.execute(f"CREATE INDEX {name} ON {target}")


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in SEARCH_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("tradeops", "0013_release_created_at_from_the_services"),
    ]

    operations = [
        migrations.RunPython(create_search_indexes, drop_search_indexes),
        migrations.RemoveIndex(
            model_name="trade",
            name="trade_bot_opened_idx",
        ),
        migrations.AddIndex(
            model_name="decisioncount",
            index=models.Index(
                fields=["-day", "outcome", "reason", "-id"], name="decision_recent_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="decisioncount",
            index=models.Index(
                fields=["bot", "-day", "outcome", "reason", "-id"], name="decision_bot_recent_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="equitysnapshot",
            index=models.Index(fields=["-ts", "-id"], name="equity_recent_idx"),
        ),
        migrations.AddIndex(
            model_name="fill",
            index=models.Index(fields=["-ts", "-id"], name="fill_recent_idx"),
        ),
        migrations.AddIndex(
            model_name="fill",
            index=models.Index(fields=["bot", "-ts", "-id"], name="fill_bot_recent_idx"),
        ),
        migrations.AddIndex(
            model_name="fill",
            index=models.Index(fields=["external_id"], name="fill_external_id_idx"),
        ),
        migrations.AddIndex(
            model_name="fill",
            index=models.Index(fields=["trade_external_id"], name="fill_trade_external_id_idx"),
        ),
        migrations.AddIndex(
            model_name="healthevent",
            index=models.Index(fields=["-ts", "-id"], name="health_recent_idx"),
        ),
        migrations.AddIndex(
            model_name="quarantinedrecord",
            index=models.Index(fields=["-last_seen_at", "-id"], name="quarantine_recent_idx"),
        ),
        migrations.AddIndex(
            model_name="quarantinedrecord",
            index=models.Index(
                fields=["bot", "-last_seen_at", "-id"], name="quarantine_bot_recent_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="quarantinedrecord",
            index=models.Index(fields=["external_id"], name="quarantine_external_id_idx"),
        ),
        migrations.AddIndex(
            model_name="trade",
            index=models.Index(fields=["-opened_at", "-id"], name="trade_recent_idx"),
        ),
        migrations.AddIndex(
            model_name="trade",
            index=models.Index(fields=["bot", "-opened_at", "-id"], name="trade_bot_recent_idx"),
        ),
        migrations.AddIndex(
            model_name="trade",
            index=models.Index(
                condition=models.Q(("status", "open")),
                fields=["-opened_at", "-id"],
                name="trade_open_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="trade",
            index=models.Index(fields=["exit_reason", "-opened_at", "-id"], name="trade_exit_idx"),
        ),
        migrations.AddIndex(
            model_name="trade",
            index=models.Index(fields=["net_pnl", "id"], name="trade_net_pnl_idx"),
        ),
        migrations.AddIndex(
            model_name="trade",
            index=models.Index(fields=["external_id"], name="trade_external_id_idx"),
        ),
    ]
