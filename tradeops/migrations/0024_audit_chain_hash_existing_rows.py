"""Chain the audit rows written before the chain, in the order they were written (id)."""

from django.db import migrations

from tradeops.models.audit import GENESIS, chain_hash, chained_fields


def hash_existing_rows(apps, schema_editor):
    AuditEvent = apps.get_model("tradeops", "AuditEvent")
    prev_hash, batch = GENESIS, []
    for seq, event in enumerate(AuditEvent.objects.order_by("id").iterator(chunk_size=2000), 1):
        event.seq, event.prev_hash = seq, prev_hash
        event.row_hash = prev_hash = chain_hash(chained_fields(event))
        batch.append(event)
        if len(batch) == 2000:
            AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "row_hash"])
            batch = []
    AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "row_hash"])


def unhash(apps, schema_editor):
    apps.get_model("tradeops", "AuditEvent").objects.update(seq=None, prev_hash="", row_hash="")


class Migration(migrations.Migration):
    dependencies = [("tradeops", "0023_audit_chain_fields")]

    operations = [migrations.RunPython(hash_existing_rows, unhash)]
