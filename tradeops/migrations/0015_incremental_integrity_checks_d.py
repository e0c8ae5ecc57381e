"""What the daily integrity checks need to read the day's data, not the history (issue 11): a
changed_at stamp on trades and fills, indexed per bot, and indexes for the rare trades the
stored-trade check flags (a P&L that does not add up, blank text).

changed_at defaults to the database's clock: existing rows read as changed now, so the first
check run after this migration re-reads the whole history once."""

import django.db.models.functions.datetime
import django.db.models.functions.math
import django.utils.timezone
from django.db import migrations, models


def changed_at():
    return models.DateTimeField(
        default=django.utils.timezone.now,
        db_default=django.db.models.functions.datetime.Now(),
        help_text="When the row was last written: the integrity checks re-read what changed "
        "since their last run.",
    )


class Migration(migrations.Migration):
    dependencies = [("tradeops", "0014_admin_list_indexes_c")]

    operations = [
        migrations.AddField(model_name="trade", name="changed_at", field=changed_at()),
        migrations.AddField(model_name="fill", name="changed_at", field=changed_at()),
        migrations.AddIndex(
            model_name="trade",
            index=models.Index(fields=["bot", "changed_at"], name="trade_bot_changed_idx"),
        ),
        migrations.AddIndex(
            model_name="trade",
            index=models.Index(
                models.F("bot"),
                django.db.models.functions.math.Abs(
                    models.F("net_pnl")
                    - (models.F("gross_pnl") - models.F("fees") - models.F("funding"))
                ),
                name="trade_bot_pnl_gap_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="trade",
            index=models.Index(
                condition=models.Q(("external_id__regex", "^\\s*$"))
                | models.Q(("symbol__regex", "^\\s*$")),
                fields=["bot"],
                name="trade_blank_text_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="fill",
            index=models.Index(fields=["bot", "changed_at"], name="fill_bot_changed_idx"),
        ),
    ]
