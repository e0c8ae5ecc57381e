"""Writes of the integrity app: incidents and their lifecycle, and integrity check runs."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from integrity.alerts import queue_incident_alerts
from integrity.checks import CHECKED_KINDS, CHECKS, LastRun
from integrity.models import AlertDelivery, IntegrityCheckRun, IntegrityIncident
from tradeops.audit import history, record_audit, require_note
from tradeops.models import Bot
from tradeops.roles import HANDLE_INCIDENTS
from tradeops.scheduling import enqueue

Status = IntegrityIncident.Status


def _unresolved(bot, kind, key):
    return IntegrityIncident.objects.exclude(status=Status.RESOLVED).filter(
        bot=bot, kind=kind, key=key
    )


def open_or_bump_incident(*, bot, kind, severity, title, key="", detail=None, occurrences=1):
    """Open an incident for (bot, kind, key), or count new occurrences on the unresolved one."""
    now = timezone.now()
    bumped = _unresolved(bot, kind, key)
    update = {"occurrences": F("occurrences") + occurrences, "last_seen_at": now, "title": title}
    if detail is not None:
        update["detail"] = detail
    if bumped.update(**update):
        return bumped.get()
    try:
        # A savepoint, so losing a race to another writer does not spoil the caller's transaction.
        with transaction.atomic():
            incident = IntegrityIncident.objects.create(
                bot=bot,
                kind=kind,
                key=key,
                severity=severity,
                title=title,
                detail=detail or {},
                occurrences=occurrences,
                opened_at=now,
                last_seen_at=now,
            )
    except IntegrityError:
        bumped.update(**update)
        return bumped.get()
    _alert(incident, AlertDelivery.Event.OPENED)
    return incident


def _alert(incident, event):
    """Queue the notices with the caller's transaction; dispatch them as soon as it commits
    (on a worker, or right here in the embedded mode), not at the next scheduled sweep. If
    Redis is down they stay pending for the sweeps, and the caller still succeeds."""
    if queue_incident_alerts(incident, event):
        enqueue("integrity.jobs.dispatch_alerts")


def acknowledge_refusal(incident, user):
    """Why `user` cannot acknowledge `incident` as it stands, in acknowledge_incident's words;
    None if they can (asked before anyone types a note)."""
    if not user.has_perm(HANDLE_INCIDENTS):
        return f"{user} may not acknowledge incidents"
    return None if incident.status == Status.OPEN else _not_open(incident)


def _not_open(incident):
    return f"{incident.title} is {incident.status}, not open"


def acknowledge_incident(incident, *, user, note, now=None):
    """An Operator or a Team lead has seen it and says what they do about it (the note, kept
    in its audit row): repeats stop until it resolves or opens again."""
    if not user.has_perm(HANDLE_INCIDENTS):
        raise PermissionDenied(acknowledge_refusal(incident, user))
    require_note(note, "acknowledge")
    now = now or timezone.now()
    with transaction.atomic():
        changed = IntegrityIncident.objects.filter(pk=incident.pk, status=Status.OPEN).update(
            status=Status.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=user
        )
        incident.refresh_from_db()
        if not changed:
            raise ValidationError(_not_open(incident))
        record_audit(
            incident,
            "acknowledged",
            actor=user,
            from_state=Status.OPEN,
            to_state=Status.ACKNOWLEDGED,
            note=note,
            at=now,
        )
    return incident


def acknowledgement(incident):
    """The audit row of the incident's acknowledgement (who, when, the note), or None."""
    return history(incident).filter(action="acknowledged").last()


def resolve_incident(incident, *, user=None):
    """Close the incident (by a person, or automatically when a check no longer finds it)."""
    changed = (
        IntegrityIncident.objects.filter(pk=incident.pk)
        .exclude(status=Status.RESOLVED)
        .update(status=Status.RESOLVED, resolved_at=timezone.now(), resolved_by=user)
    )
    incident.refresh_from_db()
    if changed:
        _alert(incident, AlertDelivery.Event.RESOLVED)
    return bool(changed)


def record_finding(bot, finding):
    """A check's finding keeps its incident open: opened once, then refreshed, never re-counted
    on every run (occurrences count what ingestion blocked, not how often a check looked)."""
    existing = _unresolved(bot, finding.kind, finding.key).first()
    if existing is None:
        return open_or_bump_incident(
            bot=bot,
            kind=finding.kind,
            key=finding.key,
            severity=finding.severity,
            title=finding.title,
            detail=finding.detail,
            occurrences=finding.count,
        )
    _unresolved(bot, finding.kind, finding.key).update(
        last_seen_at=timezone.now(), title=finding.title, detail=finding.detail
    )
    return existing


def _violation(finding):
    violation = {
        "kind": finding.kind,
        "key": finding.key,
        "severity": finding.severity,
        "title": finding.title,
        "count": finding.count,
        "detail": finding.detail,
    }
    if finding.recheck != []:
        # What the next run reads again (LastRun): the run's record is the checks' memory.
        violation["recheck"] = finding.recheck
    return violation


def run_integrity_checks(bot, *, triggered_by, now=None):
    """Run every check for `bot`, keep incidents in step with what they find, record the run."""
    now = now or timezone.now()
    last = LastRun.of(bot.integrity_runs.order_by("-started_at").first(), now)
    results, found = [], set()
    for name, check in CHECKS.items():
        findings = check(bot, now, last)
        results.append({"check": name, "violations": [_violation(f) for f in findings]})
        with transaction.atomic():
            for finding in findings:
                record_finding(bot, finding)
                found.add((finding.kind, finding.key))
    stale = IntegrityIncident.objects.filter(bot=bot, kind__in=CHECKED_KINDS).exclude(
        status=Status.RESOLVED
    )
    for incident in stale:
        if (incident.kind, incident.key) not in found:
            resolve_incident(incident)
    return IntegrityCheckRun.objects.create(
        bot=bot,
        started_at=now,
        finished_at=timezone.now(),
        since=last.since,
        results=results,
        violations=len(found),
        triggered_by=triggered_by,
    )


def run_all_integrity_checks(*, triggered_by, bots=None):
    bots = bots if bots is not None else Bot.objects.filter(is_active=True)
    return [run_integrity_checks(bot, triggered_by=triggered_by) for bot in bots]
