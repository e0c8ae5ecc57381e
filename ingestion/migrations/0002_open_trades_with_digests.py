from django.db import migrations, models


def to_digests(apps, schema_editor):
    # No digest yet: each open trade is sent once more, then skipped while it stays as it was.
    FreqtradeSource = apps.get_model("ingestion", "FreqtradeSource")
    for source in FreqtradeSource.objects.all():
        source.open_trades = {str(number): "" for number in source.open_trades or []}
        source.save(update_fields=["open_trades"])


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0001_freqtrade_source"),
    ]

    operations = [
        migrations.RenameField("freqtradesource", "open_trade_ids", "open_trades"),
        migrations.RunPython(to_digests, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="freqtradesource",
            name="open_trades",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="freqtrade trades read while still open, read again until they close: "
                "{trade id: digest of what was stored}, so an unchanged one is not sent again.",
            ),
        ),
    ]
