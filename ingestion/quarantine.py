"""Quarantine: records refused by validation or in conflict, kept whole. Nothing a bot sends is
dropped: what PostgreSQL cannot store as text is escaped, and a body that cannot be read at all is
kept byte for byte on its batch. The incidents they raise are integrity's (tradeops.signals).
"""

import hashlib

from django.db import connection, transaction
from django.utils import timezone

from ingestion.parsing import IncomingRecord
from tradeops.models import IngestBatch, QuarantinedRecord
from tradeops.signals import body_refused

Reason = QuarantinedRecord.Reason


def _fingerprint(kind, raw):
    """Of the exact raw text: two spellings of one value ("qty": 1.5, "qty": "1.5") are two
    records, each kept; only the very same text again is counted as seen again."""
    return hashlib.sha256(f"{kind}\n{raw}".encode("utf-8", "surrogatepass")).hexdigest()


def storable(text):
    """`text` as PostgreSQL can store it: NUL and unpaired surrogates written as escapes."""
    text = str(text)
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def storable_errors(errors):
    return {storable(name): storable(message) for name, message in errors.items()}


def quarantine_records(bot, kind, refused, *, source):
    """Keep refused records whole; a record seen before is counted again, not stored twice.

    `refused` is [(IncomingRecord, errors by field, QuarantinedRecord.Reason)].
    """
    now = timezone.now()
    source = storable(source)
    pending = {}
    for record, errors, reason in refused:
        fingerprint = _fingerprint(kind, record.raw)
        if fingerprint in pending:
            pending[fingerprint]["times_seen"] += 1
            continue
        pending[fingerprint] = {
            "reason": reason,
            "external_id": external_id_of(record)[:128],
            "raw": storable(record.raw),
            "errors": storable_errors(errors),
            "times_seen": 1,
        }
    # In key order, so concurrent batches lock shared rows in the same order (no deadlock).
    rows = [
        {
            "bot_id": bot.pk,
            "kind": kind,
            "fingerprint": fingerprint,
            "source": source,
            "first_seen_at": now,
            "last_seen_at": now,
            **values,
        }
        for fingerprint, values in sorted(pending.items())
    ]
    for start in range(0, len(rows), UPSERT_CHUNK):
        _upsert(rows[start : start + UPSERT_CHUNK])


UPSERT_CHUNK = 2000


def _upsert(rows):
    """Insert new quarantined records; one seen before is counted again and shows its latest
    errors. One statement per chunk (a bot may re-send 100,000 refused records at once)."""
    fields = [QuarantinedRecord._meta.get_field(name) for name in rows[0]]
    quote = connection.ops.quote_name
    table = quote(QuarantinedRecord._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
    params = [
        field.get_db_prep_save(row[field.attname], connection) for row in rows for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {placeholders} "
            "ON CONFLICT (bot_id, kind, fingerprint) DO UPDATE SET "
            f"times_seen = {table}.times_seen + EXCLUDED.times_seen, "
            "last_seen_at = EXCLUDED.last_seen_at, errors = EXCLUDED.errors, "
            "reason = EXCLUDED.reason, source = EXCLUDED.source",
            params,
        )


def quarantine_unparseable_body(bot, kind, body: bytes, error, *, source):
    """Keep a body that could not be read at all, and say so (integrity raises the incident).

    The quarantined record shows the body as text (bytes that are not UTF-8 as escapes); the batch
    keeps the exact bytes.
    """
    record = IncomingRecord(index=0, raw=body.decode("utf-8", errors="backslashreplace"))
    with transaction.atomic():
        quarantine_records(
            bot,
            kind,
            [(record, {"_body": error}, Reason.UNPARSEABLE)],
            source=source,
        )
        IngestBatch.objects.create(
            bot=bot,
            kind=kind,
            source=storable(source),
            records=1,
            quarantined=1,
            raw_body=IngestBatch.pack_body(body),
        )
        body_refused.send(sender=IngestBatch, bot=bot, kind=kind, error=error, source=source)


def external_id_of(record):
    data = record.data if isinstance(record.data, dict) else {}
    external_id = data.get("external_id")
    return storable(external_id) if isinstance(external_id, str) else ""


def error_entry(record, errors):
    return {
        "index": record.index,
        "external_id": external_id_of(record) or None,
        "errors": storable_errors(errors),
    }
