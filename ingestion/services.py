"""Ingestion: every entry point (the API, `manage.py ingest`, the demo loader) stores records
through `ingest_records`, so a record is validated, stored or quarantined the same way whatever
brought it in; and the API's throttle of bad tokens.
"""

import datetime
import gc
import logging
import random
import re
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DataError, IntegrityError, OperationalError, transaction
from django.utils import timezone

from ingestion.counters import count_in_window
from ingestion.decision_events import count_decision_events
from ingestion.fastpath import clean_trade
from ingestion.heartbeats import count_heartbeat_batch, only_heartbeats, take_heartbeats
from ingestion.parsing import FILE_CONTENT_TYPES, UnparseableBody, decode_text, parse_text
from ingestion.quarantine import (
    error_entry,
    quarantine_records,
    quarantine_unparseable_body,
    storable,
)
from ingestion.records import decision_event_key, latest_allowed_timestamp, validate_record
from ingestion.writers import ACCEPTED, CONFLICT, UNCHANGED, UPDATED, WRITERS
from tradeops.models import IngestBatch, IngestKind, QuarantinedRecord, TokenFailure
from tradeops.signals import records_refused

logger = logging.getLogger(__name__)

Reason = QuarantinedRecord.Reason
# Concurrent batches may race to insert the same new row (the loser re-classifies), or deadlock or
# fail to serialize against each other (one is rolled back): the batch is retried, a bounded number
# of times with a short random pause, before the API answers 503.
WRITE_ATTEMPTS = 5
RETRY_PAUSE_SECONDS = 0.05
RETRIED_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure
# A number written with more places than are stored: such a batch keeps its raw body.
_MORE_PLACES_THAN_STORED = re.compile(r"\.\d{13}")


@dataclass
class IngestResult:
    accepted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    errors: list = field(default_factory=list)
    # Refused records beyond the first INGEST_ERRORS_LISTED: counted, not listed (all are kept).
    errors_not_listed: int = 0

    @property
    def records(self):
        return self.accepted + self.updated + self.unchanged + self.quarantined

    def as_dict(self):
        """The response's counts; `errors_not_listed` only when some errors were left out."""
        counts = asdict(self)
        if not self.errors_not_listed:
            del counts["errors_not_listed"]
        return counts


# -- bad tokens ------------------------------------------------------------------------------

TOKEN_FAILURES_ALLOWED = 20
TOKEN_FAILURE_WINDOW = datetime.timedelta(minutes=10)


def _failure_window(now):
    epoch = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    return now - (now - epoch) % TOKEN_FAILURE_WINDOW


def record_failed_token(client, *, now=None):
    """Count a request with a missing, wrong or revoked token against the client's address."""
    window = _failure_window(now or timezone.now())
    count_in_window(
        TokenFailure.objects.filter(client=client, window_start=window),
        "failures",
        open_window=lambda: TokenFailure.objects.create(
            client=client, window_start=window, failures=1
        ),
        # Windows long past, of anyone's: of no use any more.
        stale=TokenFailure.objects.filter(window_start__lt=window - datetime.timedelta(days=1)),
    )


def client_throttled_for(client, *, now=None):
    """Seconds until `client` may try tokens again (0: it may now)."""
    now = now or timezone.now()
    window = _failure_window(now)
    if TokenFailure.objects.filter(
        client=client, window_start=window, failures__gte=TOKEN_FAILURES_ALLOWED
    ).exists():
        return max(1, int((window + TOKEN_FAILURE_WINDOW - now).total_seconds()) + 1)
    return 0


# -- ingestion -------------------------------------------------------------------------------


def _should_retry(exc, attempt):
    if attempt == WRITE_ATTEMPTS:
        return False
    if isinstance(exc, IntegrityError):
        return True
    return getattr(exc.__cause__, "sqlstate", None) in RETRIED_SQLSTATES


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


def _record_cleaner(kind, latest_allowed):
    """`clean(record)` -> (clean values, errors) for records of `kind`."""
    # Trades written the common way are cleaned by the hot path, the same values in one pass.
    clean_fast = clean_trade if kind == IngestKind.TRADES else None

    def clean(record):
        if record.parse_error:
            return None, {"_record": record.parse_error}
        if clean_fast is not None:
            cleaned = clean_fast(record.data, latest_allowed)
            if cleaned is not None:
                return cleaned, None
        return validate_record(kind, record.data, latest_allowed)

    return clean


def _clean_batch(kind, records, clean, latest_allowed):
    """(valid [(record, clean)], decision events [(raw, key)], malformed [(record, errors)])."""
    valid, malformed, events = [], [], []
    counts_events = kind == IngestKind.DECISIONS
    for record in records:
        if counts_events and not record.parse_error:
            key = decision_event_key(record.data, latest_allowed)
            if key is not None:
                events.append((record.raw, key))
                continue
        cleaned, errors = clean(record)
        if errors:
            malformed.append((record, errors))
        elif counts_events and "ts" in cleaned:
            key = (cleaned["ts"].date(), cleaned["symbol"], cleaned["outcome"], cleaned["reason"])
            events.append((record.raw, key))
        else:
            valid.append((record, cleaned))
    return valid, events, malformed


@dataclass(frozen=True)
class BatchLimits:
    """What one batch a bot sends over the API may be: the command line and the demo loader
    take files of any size."""

    most_records: int
    heartbeats_per_minute: int

    @classmethod
    def from_settings(cls):
        return cls(settings.INGEST_MAX_RECORDS, settings.HEARTBEATS_PER_MINUTE)


@cyclic_gc_paused()
def ingest_records(bot, kind, records, *, source, raw_body=None, limits=None):
    """Validate and store a batch of records; refused ones are quarantined, never dropped.

    Good records land even when others in the same batch are refused. The counts always add up:
    records in = accepted + updated + unchanged + quarantined. `raw_body`, when given, is kept on
    the batch (the exact bytes of values that were rounded to the stored scale).

    Trades are cleaned as they are stored (RowWriter.stream), so that PostgreSQL stores the first
    ones while Python cleans the next; other kinds are cleaned first.
    """
    kind = IngestKind(kind)
    records = list(records)
    latest_allowed = latest_allowed_timestamp()
    clean = _record_cleaner(kind, latest_allowed)
    if WRITERS[kind].streams:
        valid, events, malformed = None, [], []
    else:
        valid, events, malformed = _clean_batch(kind, records, clean, latest_allowed)
    pulse_only = kind == IngestKind.HEALTH and only_heartbeats(valid, malformed)
    if pulse_only and limits is not None:
        count_heartbeat_batch(bot, limits.heartbeats_per_minute, timezone.now())

    batch = {
        "received": len(records),
        "source": storable(source),
        "raw_body": raw_body,
        "pulse_only": pulse_only,
    }
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _store_batch(bot, kind, records, clean, valid, events, malformed, **batch)
        except DataError:
            # A value validation let through but the database refuses. Validation is where it
            # belongs; until it is there, the batch's other records still land and this one is
            # kept in quarantine, instead of the whole batch failing on every retry.
            if valid is None:
                valid, events, malformed = _clean_batch(kind, records, clean, latest_allowed)
            valid, refused = _split_refused_by_database(bot, kind, valid)
            if not refused:
                raise
            logger.error(
                "ingest %s for %s: %d record(s) refused by the database", kind, bot, len(refused)
            )
            malformed = malformed + refused
        except (IntegrityError, OperationalError) as exc:
            if not _should_retry(exc, attempt):
                raise
            logger.warning("ingest %s for %s: %s; retrying", kind, bot.slug, exc)
            time.sleep(random.uniform(0, RETRY_PAUSE_SECONDS * attempt))


def _split_refused_by_database(bot, kind, valid):
    """(records the database stores, [(record, errors)] it refuses), each tried on its own and
    rolled back."""
    kept, refused = [], []
    for item in valid:
        try:
            with transaction.atomic():
                WRITERS[kind]().apply(bot, [item])
                transaction.set_rollback(True)
        except DataError as exc:
            refused.append((item[0], {"_record": f"refused by the database: {exc}".strip()}))
        else:
            kept.append(item)
    return kept, refused


def _store_batch(
    bot, kind, records, clean, valid, events, malformed, *, received, source, raw_body, pulse_only
):
    """Store a batch: `valid` [(record, clean)], or when None, `records` cleaned by `clean` as they
    are stored. A batch of heartbeats that all landed on the pulse is not itself recorded."""
    result = IngestResult()
    if kind == IngestKind.HEALTH:
        # Heartbeats are kept on the bot's pulse; only a change of release is a health event.
        valid, result.accepted, result.unchanged, conflicts = take_heartbeats(bot, valid)
    else:
        conflicts = []
    counters = {ACCEPTED: "accepted", UPDATED: "updated", UNCHANGED: "unchanged"}
    if valid is None:
        written, refused_in_stream = WRITERS[kind]().stream(bot, records, clean)
        malformed = malformed + refused_in_stream
    else:
        outcomes = WRITERS[kind]().apply(bot, valid)
        written = [(record, outcome) for (record, _), outcome in zip(valid, outcomes, strict=True)]
    for record, outcome in written:
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
    listed = settings.INGEST_ERRORS_LISTED
    result.errors = [error_entry(record, errors) for record, errors, _ in refused[:listed]]
    result.errors_not_listed = max(0, len(refused) - listed)
    if refused:
        quarantine_records(bot, kind, refused, source=source)
        records_refused.send(
            sender=IngestBatch,
            bot=bot,
            kind=kind,
            malformed=len(malformed),
            conflicts=len(conflicts),
            errors=result.errors,
            source=source,
        )

    if pulse_only and not refused:
        return result
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
        raw_body=raw_body,
    )
    return result


@cyclic_gc_paused()
def ingest_body(bot, kind, body: bytes, *, content_type, source, limits=None):
    """Ingest a request body (JSON array, NDJSON or CSV). An unreadable body is quarantined whole.

    Raises UnsupportedContentType when neither the Content-Type nor the content says how to read
    the body, and TooManyRecords for a body of more records than `limits` allow: either way
    nothing is stored, and the sender still holds the records (it splits the batch or fixes its
    label).
    """
    try:
        text = decode_text(body)
        records = parse_text(text, content_type, limits and limits.most_records)
    except UnparseableBody as exc:
        quarantine_unparseable_body(bot, kind, body, str(exc), source=source)
        raise
    raw_body = IngestBatch.pack_body(body) if _MORE_PLACES_THAN_STORED.search(text) else None
    return ingest_records(bot, kind, records, source=source, raw_body=raw_body, limits=limits)


def ingest_file(bot, kind, path, *, source=None):
    path = Path(path)
    content_type = FILE_CONTENT_TYPES.get(path.suffix.lower().lstrip("."))
    if content_type is None:
        raise ValueError(f"{path}: unsupported file type; use .ndjson, .jsonl, .json or .csv")
    return ingest_body(
        bot, kind, path.read_bytes(), content_type=content_type, source=source or f"file:{path}"
    )
