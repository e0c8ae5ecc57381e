"""The audit trail: one call per state change, inside the change's transaction, chained.

Each row carries a sequence number and a SHA-256 over its fields and the previous row's hash
(tradeops.models.audit), so a row changed or removed later breaks the chain at that row:
`verify_chain` names it. Appends are serialized, so two transactions never take the same place.
"""

import datetime
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from tradeops.exports import csv_text, json_text
from tradeops.models import AuditEvent, Bot
from tradeops.models.audit import CHAINED_FIELDS, GENESIS, chain_hash, chained_fields

# The PostgreSQL advisory lock that queues appends to the chain (any fixed bigint will do, as
# long as nothing else takes it).
CHAIN_LOCK = 0x7A0D17C4A1
EXPORT_FORMATS = ("csv", "json")
EXPORT_COLUMNS = ("id", *CHAINED_FIELDS, "row_hash")


def person(actor):
    """The user behind `actor`, or None when a job, trigger or command acts (named by a string).

    The one place that tells the two apart: the audit row keeps the user or the name, and a
    lifecycle lets a job make only the moves its table gives to jobs."""
    return None if actor is None or isinstance(actor, str) else actor


def record_audit(
    subject, action, *, actor=None, from_state="", to_state="", note="", data=None, at=None
):
    """`actor` is a user, or a string naming a job or command; `at` is the service's clock
    (now when not given), so history built through the services carries its own times."""
    event = AuditEvent(
        at=at or timezone.now(),
        actor=person(actor),
        actor_name=str(actor) if actor is not None else "system",
        subject_type=subject._meta.label_lower,
        subject_id=subject.pk,
        subject=str(subject)[:300],
        action=action,
        from_state=from_state,
        to_state=to_state,
        note=note,
        data=data or {},
    )
    with transaction.atomic():
        _lock_chain()
        # The head by the unique index on seq: one row read, however long the history.
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "row_hash").first()
        event.seq, event.prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
        event.row_hash = event.computed_hash()
        event.save(force_insert=True)
    return event


def _lock_chain():
    """Held until the caller's transaction ends, so the next append reads this one as its head.
    SQLite writes one transaction at a time anyway; the unique seq backs both."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])


def require_note(note, what=""):
    """A state change a person makes says why; the note goes into the audit row."""
    if not note.strip():
        raise ValidationError(f"{what}: a note is required" if what else "a note is required")


def history(subject):
    return AuditEvent.objects.filter(
        subject_type=subject._meta.label_lower, subject_id=subject.pk
    ).order_by("at", "pk")


# -- proving it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainCheck:
    rows: int
    head_seq: int
    head_hash: str
    problem: str = ""  # the first row found changed or missing; empty when intact

    @property
    def intact(self):
        return not self.problem


def verify_chain():
    """Walk the chain in seq order and name the first row that was changed or removed.

    A removed row leaves a gap in seq; a changed row no longer hashes to its row_hash; a row
    re-hashed after a change no longer matches the next row's prev_hash. Removing the newest
    rows leaves no gap: compare head_seq and head_hash with an earlier check or export."""
    expected_seq, prev_hash, rows = 1, GENESIS, 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        problem = _chain_problem(event, expected_seq, prev_hash)
        if problem:
            return ChainCheck(rows, expected_seq - 1, prev_hash, problem)
        expected_seq, prev_hash, rows = event.seq + 1, event.row_hash, rows + 1
    return ChainCheck(rows, expected_seq - 1, prev_hash)


def _chain_problem(event, expected_seq, prev_hash):
    if event.seq != expected_seq:
        missing = (
            f"#{expected_seq}"
            if event.seq == expected_seq + 1
            else f"#{expected_seq} to #{event.seq - 1}"
        )
        return f"row {missing} was removed: the chain goes from #{expected_seq - 1} to #{event.seq}"
    if not event.is_unchanged():
        return f"row #{event.seq} (id {event.pk}, {event}) was changed: its hash does not match"
    if event.prev_hash != prev_hash:
        return (
            f"row #{event.seq} (id {event.pk}) does not follow row #{event.seq - 1}: "
            f"#{event.seq - 1} was changed and re-hashed, or #{event.seq} was"
        )
    return ""


def verify_exported(rows):
    """Check an exported JSON file's rows: each hashes to its row_hash, consecutive rows link,
    and the database still holds each row as exported. Returns the first problem, or ""."""
    stored = {
        event.seq: event.computed_hash()
        for event in AuditEvent.objects.filter(seq__in=[row["seq"] for row in rows])
    }
    previous = None
    for row in rows:
        if chain_hash({name: row[name] for name in CHAINED_FIELDS}) != row["row_hash"]:
            return f"row #{row['seq']} of the file was changed: its hash does not match"
        follows = previous is not None and previous["seq"] + 1 == row["seq"]
        if follows and row["prev_hash"] != previous["row_hash"]:
            return f"row #{row['seq']} of the file does not follow row #{previous['seq']}"
        if stored.get(row["seq"]) != row["row_hash"]:
            where = "changed" if row["seq"] in stored else "removed"
            return f"row #{row['seq']} was {where} in the database since the export"
        previous = row
    return ""


# -- exporting it ----------------------------------------------------------------------------


def about_bot(bot):
    """The audit rows of `bot`: those of the bot itself and of every object that belongs to it
    (releases, freezes, experiments, steps, incidents, reviews…), found by their `bot` field."""
    about = Q(subject_type=Bot._meta.label_lower, subject_id=bot.pk)
    for model in apps.get_models():
        field = next((f for f in model._meta.fields if f.name == "bot"), None)
        if field is not None and field.related_model is Bot:
            owned = model._base_manager.filter(bot=bot).values("pk")
            about |= Q(subject_type=model._meta.label_lower, subject_id__in=owned)
    return about


def audit_events(*, bot=None, since=None, until=None):
    """The rows of `bot` (all bots if None) on UTC days since..until, both included, in chain
    order."""
    events = AuditEvent.objects.order_by("seq")
    if bot is not None:
        events = events.filter(about_bot(bot))
    if since is not None:
        events = events.filter(at__gte=_day_start(since))
    if until is not None:
        events = events.filter(at__lt=_day_start(until + datetime.timedelta(days=1)))
    return events


def _day_start(day):
    return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)


def export_row(event):
    """A row as exported: every chained field as hashed (`at` in ISO), its id and its hash."""
    fields = chained_fields(event)
    fields["at"] = event.at.astimezone(datetime.UTC).isoformat(timespec="microseconds")
    return {"id": event.pk, **fields, "row_hash": event.row_hash}


def export_audit(fmt, *, bot=None, since=None, until=None, now=None):
    """The audit trail as a CSV or JSON file's text: the admin's export and `export_audit`.

    JSON carries the filters and the chain's head at export time, and `verify_audit --file`
    checks it. CSV is for reading (its text cells are guarded against formulas, so verify
    the JSON)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}: csv or json")
    rows = [export_row(event) for event in audit_events(bot=bot, since=since, until=until)]
    if fmt == "csv":
        return csv_text(EXPORT_COLUMNS, (_csv_cells(row) for row in rows))
    head = AuditEvent.objects.order_by("-seq").values_list("seq", "row_hash").first()
    document = {
        "exported_at": (now or timezone.now()).isoformat(),
        "bot": bot.slug if bot else None,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "chain_head": {"seq": head[0], "row_hash": head[1]} if head else None,
        "events": rows,
    }
    return json_text(document, indent=2, ensure_ascii=False) + "\n"


def _csv_cells(row):
    """A row's cells in EXPORT_COLUMNS order, its data as one JSON text cell."""
    return [json_text(v, sort_keys=True) if k == "data" else v for k, v in row.items()]
