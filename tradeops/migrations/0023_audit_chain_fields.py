"""The audit trail becomes a hash chain (tradeops.audit): each row's place (seq), the previous
row's hash and its own. seq stays nullable until 0024 hashes the rows already there; a Team lead
may export the trail (the permission)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tradeops", "0022_bot_cadence_hours")]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={
                "ordering": ["-at", "-pk"],
                "permissions": [("export_auditevent", "Can export the audit trail")],
            },
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(
                null=True, help_text="place in the audit chain, from 1"
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default="", help_text="the previous row's hash", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="row_hash",
            field=models.CharField(
                default="",
                help_text="SHA-256 of this row's fields and the previous row's hash",
                max_length=64,
            ),
            preserve_default=False,
        ),
    ]
