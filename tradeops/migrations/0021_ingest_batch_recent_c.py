"""When each bot last sent a batch, read by the bot-silent watch every minute (issue 12): an
index on ingest batches by (bot, received_at). Built CONCURRENTLY on PostgreSQL, so bots keep
posting while it builds (the migration is not atomic for that), as 0018."""

from django.db import migrations, models

NAME = "ingest_batch_bot_recent_idx"


def forwards(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS {NAME} "
        "ON tradeops_ingestbatch (bot_id, received_at DESC)"
    )


def backwards(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {NAME}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tradeops", "0020_bot_loop")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.AddIndex(
                    model_name="ingestbatch",
                    index=models.Index(fields=["bot", "-received_at"], name=NAME),
                )
            ],
        )
    ]
