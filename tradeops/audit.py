"""Writing the audit trail: one call per state change, inside the change's transaction."""

from django.core.exceptions import ValidationError
from django.utils import timezone

from tradeops.models import AuditEvent


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
    return AuditEvent.objects.create(
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


def require_note(note, what=""):
    """A state change a person makes says why; the note goes into the audit row."""
    if not note.strip():
        raise ValidationError(f"{what}: a note is required" if what else "a note is required")


def history(subject):
    return AuditEvent.objects.filter(
        subject_type=subject._meta.label_lower, subject_id=subject.pk
    ).order_by("at", "pk")
