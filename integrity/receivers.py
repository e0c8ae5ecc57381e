"""Integrity's side of ingestion (tradeops.signals): refused records and unreadable bodies open
or bump incidents inside the batch's transaction; each batch the API stores runs the watches."""

from integrity.models import IntegrityIncident
from integrity.schedules import watch_schedules_from_ingestion
from integrity.services import open_or_bump_incident
from tradeops.models import IngestKind

# How many per-record errors an incident keeps as examples.
INCIDENT_EXAMPLES = 5


def body_refused(sender, *, bot, kind, error, source, **kwargs):
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


def records_refused(sender, *, bot, kind, malformed, conflicts, errors, source, **kwargs):
    examples = errors[:INCIDENT_EXAMPLES]
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


def batch_received(sender, **kwargs):
    watch_schedules_from_ingestion()
