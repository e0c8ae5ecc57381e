"""Writes of the core domain: bots and their tokens, ingestion and quarantine.

Every entry point (the API, `manage.py ingest`, the demo loader) ingests through `ingest_records`,
so a record is validated, stored or quarantined the same way whatever brought it in.
"""

import gc
import hashlib
import json
import logging
import secrets
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from integrity.models import IntegrityIncident
from integrity.services import open_or_bump_incident
from tradeops.models import (
    DEFAULT_EXIT_REASONS,
    ApiToken,
    Bot,
    IngestBatch,
    IngestKind,
    QuarantinedRecord,
)
from tradeops.parsing import IncomingRecord, UnparseableBody, parse_body, parse_file
from tradeops.records import decision_event_key, latest_allowed_timestamp, validate_record
from tradeops.writers import ACCEPTED, CONFLICT, UNCHANGED, UPDATED, WRITERS, count_decision_events

logger = logging.getLogger(__name__)

Reason = QuarantinedRecord.Reason
# Concurrent batches may race to insert the same new row; the loser re-classifies and retries.
WRITE_ATTEMPTS = 3
# How many per-record errors an incident keeps as examples.
INCIDENT_EXAMPLES = 5


@dataclass
class IngestResult:
    accepted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    errors: list = field(default_factory=list)

    @property
    def records(self):
        return self.accepted + self.updated + self.unchanged + self.quarantined

    def as_dict(self):
        return asdict(self)


# -- bots and tokens -------------------------------------------------------------------------


def create_bot(*, slug, name="", exchange="", known_exit_reasons=None, created_by=None):
    """Create a bot and its first API token; the raw token is returned once and never stored."""
    with transaction.atomic():
        bot = Bot.objects.create(
            slug=slug,
            name=name or slug,
            exchange=exchange,
            known_exit_reasons=list(known_exit_reasons or DEFAULT_EXIT_REASONS),
        )
        raw_token = issue_api_token(bot, created_by=created_by)
    return bot, raw_token


def issue_api_token(bot, *, label="", created_by=None):
    raw_token = f"tok_{secrets.token_urlsafe(32)}"
    ApiToken.objects.create(
        bot=bot,
        label=label,
        prefix=raw_token[:12],
        token_hash=ApiToken.hash_token(raw_token),
        created_by=created_by,
    )
    return raw_token


def revoke_api_tokens(tokens, *, revoked_by=None):
    return tokens.filter(revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=revoked_by
    )


def authenticate_bot_token(raw_token):
    """The bot a bearer token belongs to, or None if the token is unknown or revoked."""
    if not raw_token:
        return None
    token = (
        ApiToken.objects.active()
        .select_related("bot")
        .filter(token_hash=ApiToken.hash_token(raw_token))
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.bot


# -- quarantine ------------------------------------------------------------------------------


def _fingerprint(kind, content):
    return hashlib.sha256(f"{kind}\n{content}".encode()).hexdigest()


def _record_fingerprint(kind, record):
    if record.data is None:
        return _fingerprint(kind, record.raw)
    canonical = json.dumps(record.data, sort_keys=True, default=str, separators=(",", ":"))
    return _fingerprint(kind, canonical)


def quarantine_records(bot, kind, refused, *, source):
    """Keep refused records whole; a record seen before is counted again, not stored twice.

    `refused` is [(IncomingRecord, errors by field, QuarantinedRecord.Reason)].
    """
    now = timezone.now()
    pending = {}
    for record, errors, reason in refused:
        fingerprint = _record_fingerprint(kind, record)
        if fingerprint in pending:
            pending[fingerprint]["times_seen"] += 1
            continue
        data = record.data if isinstance(record.data, dict) else {}
        pending[fingerprint] = {
            "reason": reason,
            "external_id": str(data.get("external_id") or "")[:128],
            "raw": record.raw,
            "errors": errors,
            "times_seen": 1,
        }
    seen_before = set(
        QuarantinedRecord.objects.filter(
            bot=bot, kind=kind, fingerprint__in=pending.keys()
        ).values_list("fingerprint", flat=True)
    )
    for fingerprint in seen_before:
        values = pending.pop(fingerprint)
        QuarantinedRecord.objects.filter(bot=bot, kind=kind, fingerprint=fingerprint).update(
            times_seen=F("times_seen") + values["times_seen"],
            last_seen_at=now,
            errors=values["errors"],
            reason=values["reason"],
            source=source,
        )
    QuarantinedRecord.objects.bulk_create(
        QuarantinedRecord(
            bot=bot,
            kind=kind,
            fingerprint=fingerprint,
            source=source,
            first_seen_at=now,
            last_seen_at=now,
            **values,
        )
        for fingerprint, values in pending.items()
    )


def quarantine_unparseable_body(bot, kind, body: bytes, error, *, source):
    """Keep a body that could not be read at all, and raise the incident for it."""
    record = IncomingRecord(index=0, raw=body.decode("utf-8", errors="backslashreplace"))
    with transaction.atomic():
        quarantine_records(
            bot,
            kind,
            [(record, {"_body": error}, Reason.UNPARSEABLE)],
            source=source,
        )
        IngestBatch.objects.create(bot=bot, kind=kind, source=source, records=1, quarantined=1)
        open_or_bump_incident(
            bot=bot,
            kind=IntegrityIncident.Kind.UNPARSEABLE_BATCH,
            key=kind,
            severity=_severity(kind),
            title=f"Unparseable {kind} batch quarantined",
            detail={"source": source, "error": error},
        )


def _severity(kind):
    # Anything that may hide a trade is critical: the plan's "blocked malformed trade persistence".
    if kind == IngestKind.TRADES:
        return IntegrityIncident.Severity.CRITICAL
    return IntegrityIncident.Severity.WARNING


def _raise_incidents(bot, kind, result, malformed, conflicts, source):
    examples = result.errors[:INCIDENT_EXAMPLES]
    if kind == IngestKind.TRADES:
        if malformed:
            open_or_bump_incident(
                bot=bot,
                kind=IntegrityIncident.Kind.BLOCKED_MALFORMED_TRADE,
                severity=IntegrityIncident.Severity.CRITICAL,
                title="Blocked malformed trade persistence",
                occurrences=malformed,
                detail={"source": source, "examples": examples},
            )
        if conflicts:
            open_or_bump_incident(
                bot=bot,
                kind=IntegrityIncident.Kind.TRADE_CONFLICT,
                severity=IntegrityIncident.Severity.CRITICAL,
                title="Conflicting re-send of a closed trade",
                occurrences=conflicts,
                detail={"source": source, "examples": examples},
            )
    elif malformed or conflicts:
        open_or_bump_incident(
            bot=bot,
            kind=IntegrityIncident.Kind.QUARANTINED_RECORDS,
            key=kind,
            severity=IntegrityIncident.Severity.WARNING,
            title=f"Quarantined {kind} records",
            occurrences=malformed + conflicts,
            detail={"source": source, "examples": examples},
        )


# -- ingestion -------------------------------------------------------------------------------


def _error_entry(record, errors):
    data = record.data if isinstance(record.data, dict) else {}
    return {"index": record.index, "external_id": data.get("external_id"), "errors": errors}


@contextmanager
def cyclic_gc_paused():
    """Pause the cyclic garbage collector for one batch.

    A batch is tens of thousands of small acyclic dicts and tuples that live until it is stored;
    the cyclic collector would rescan them again and again (a third of the ingest time).
    Reference counting still frees them; the body size limit bounds the batch.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@cyclic_gc_paused()
def ingest_records(bot, kind, records, *, source):
    """Validate and store a batch of records; refused ones are quarantined, never dropped.

    Good records land even when others in the same batch are refused. The counts always add up:
    records in = accepted + updated + unchanged + quarantined.
    """
    kind = IngestKind(kind)
    records = list(records)
    valid, malformed, events = [], [], []
    latest_allowed = latest_allowed_timestamp()
    counts_events = kind == IngestKind.DECISIONS
    for record in records:
        if record.parse_error:
            malformed.append((record, {"_record": record.parse_error}))
            continue
        if counts_events:
            key = decision_event_key(record.data, latest_allowed)
            if key is not None:
                events.append((record.raw, key))
                continue
        clean, errors = validate_record(kind, record.data, latest_allowed)
        if errors:
            malformed.append((record, errors))
        elif counts_events and "ts" in clean:
            key = (clean["ts"].date(), clean["symbol"], clean["outcome"], clean["reason"])
            events.append((record.raw, key))
        else:
            valid.append((record, clean))

    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _store_batch(bot, kind, len(records), valid, events, malformed, source)
        except IntegrityError:
            if attempt == WRITE_ATTEMPTS:
                raise
            logger.warning("ingest %s for %s raced another writer; retrying", kind, bot.slug)


def _store_batch(bot, kind, received, valid, events, malformed, source):
    result = IngestResult()
    counters = {ACCEPTED: "accepted", UPDATED: "updated", UNCHANGED: "unchanged"}
    outcomes = WRITERS[kind]().apply(bot, valid)
    conflicts = []
    for (record, _), outcome in zip(valid, outcomes, strict=True):
        if outcome.status == CONFLICT:
            conflicts.append((record, outcome.errors))
        else:
            name = counters[outcome.status]
            setattr(result, name, getattr(result, name) + 1)

    digest = ""
    if events:
        digest, counted = count_decision_events(bot, events)
        if counted:
            result.accepted += len(events)
        else:
            result.unchanged += len(events)
            digest = ""

    refused = sorted(
        [(record, errors, Reason.MALFORMED) for record, errors in malformed]
        + [(record, errors, Reason.CONFLICT) for record, errors in conflicts],
        key=lambda item: item[0].index,
    )
    result.quarantined = len(refused)
    result.errors = [_error_entry(record, errors) for record, errors, _ in refused]
    if refused:
        quarantine_records(bot, kind, refused, source=source)
        _raise_incidents(bot, kind, result, len(malformed), len(conflicts), source)

    IngestBatch.objects.create(
        bot=bot,
        kind=kind,
        source=source,
        records=received,
        accepted=result.accepted,
        updated=result.updated,
        unchanged=result.unchanged,
        quarantined=result.quarantined,
        raw_events_digest=digest,
    )
    return result


@cyclic_gc_paused()
def ingest_body(bot, kind, body: bytes, *, content_type, source):
    """Ingest a request body (JSON array or NDJSON). An unreadable body is quarantined whole."""
    try:
        records = parse_body(body, content_type)
    except UnparseableBody as exc:
        quarantine_unparseable_body(bot, kind, body, str(exc), source=source)
        raise
    return ingest_records(bot, kind, records, source=source)


def ingest_file(bot, kind, path, *, source=None):
    source = source or f"file:{path}"
    try:
        records = parse_file(path)
    except UnparseableBody as exc:
        quarantine_unparseable_body(bot, kind, Path(path).read_bytes(), str(exc), source=source)
        raise
    return ingest_records(bot, kind, records, source=source)
