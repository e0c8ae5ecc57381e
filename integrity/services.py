from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from integrity.models import IntegrityIncident


def open_or_bump_incident(*, bot, kind, severity, title, key="", detail=None, occurrences=1):
    """Open an incident for (bot, kind, key), or count new occurrences on the unresolved one."""
    now = timezone.now()
    bumped = IntegrityIncident.objects.exclude(status=IntegrityIncident.Status.RESOLVED).filter(
        bot=bot, kind=kind, key=key
    )
    update = {"occurrences": F("occurrences") + occurrences, "last_seen_at": now}
    if detail is not None:
        update["detail"] = detail
    if bumped.update(**update):
        return bumped.get()
    try:
        # A savepoint, so losing a race to another writer does not spoil the caller's transaction.
        with transaction.atomic():
            return IntegrityIncident.objects.create(
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
