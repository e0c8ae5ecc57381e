"""Alert channel targets encrypted at rest: the column becomes text and every existing target is
rewritten encrypted (reversible: decrypts back to plain text)."""

from django.db import migrations

import tradeops.encryption


def encrypt_targets(apps, schema_editor):
    AlertChannel = apps.get_model("integrity", "AlertChannel")
    table = schema_editor.quote_name(AlertChannel._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, target FROM {table}")
        rows = cursor.fetchall()
    for pk, plain in rows:
        # The field encrypts on the way in.
        AlertChannel.objects.filter(pk=pk).update(target=plain)


def decrypt_targets(apps, schema_editor):
    AlertChannel = apps.get_model("integrity", "AlertChannel")
    table = schema_editor.quote_name(AlertChannel._meta.db_table)
    rows = list(AlertChannel.objects.values_list("pk", "target"))  # decrypted on the way out
    with schema_editor.connection.cursor() as cursor:
        for pk, plain in rows:
            cursor.execute(f"UPDATE {table} SET target = %s WHERE id = %s", [plain, pk])


class Migration(migrations.Migration):

    dependencies = [
        ("integrity", "0005_alter_alertdelivery_path_and_more"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alertchannel",
            name="target",
            field=tradeops.encryption.EncryptedCharField(
                help_text="Email: comma-separated addresses. Webhook/chat: an Apprise URL, e.g. "
                "json://ops.example.com/hook, slack://T000/B000/XXXX, discord://id/token, "
                "tgram://bottoken/chat_id.",
                max_length=1000,
            ),
        ),
        migrations.RunPython(encrypt_targets, decrypt_targets),
    ]
