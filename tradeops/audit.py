"""Writing the audit trail: one call per state change, inside the change's transaction."""

from django.core.exceptions import ValidationError

from tradeops.models import AuditEvent


def record_audit(subject, action, *, actor=None, from_state="", to_state="", note="", data=None):
    """`actor` is a user, or a string naming a job or command."""
    is_user = actor is not None and not isinstance(actor, str)
    return AuditEvent.objects.create(
        actor=actor if is_user else None,
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
