import datetime
import hashlib
import json
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

# The row before the first.
GENESIS = "0" * 64

# What a row's hash covers, beside the previous row's hash. This list and canonical_json are the
# chain's format: rows hashed under one cannot be verified under another, so they do not change.
CHAINED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "subject_type",
    "subject_id",
    "subject",
    "action",
    "from_state",
    "to_state",
    "note",
    "data",
    "prev_hash",
)


def _canonical(value):
    """JSON text of `value` that is the same before and after a database round trip.

    Numbers are written as their shortest decimal, whatever their Python type: PostgreSQL's
    jsonb gives 1e+16 back as the integer 10000000000000000, and 1.50 as 1.5."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        text = format(number.normalize(), "f")
        return text if text != "-0" else "0"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime.datetime):
        return json.dumps(value.astimezone(datetime.UTC).isoformat(timespec="microseconds"))
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_canonical(k)}:{_canonical(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    raise TypeError(f"cannot chain a {type(value).__name__}")


def chained_fields(row):
    """The chained fields of an AuditEvent (or a historical model's row), as a dict."""
    return {name: getattr(row, name) for name in CHAINED_FIELDS}


def chain_hash(fields):
    """SHA-256 (hex) of the canonical JSON of a row's chained fields, `prev_hash` among them.

    `fields` may come from a row or from an exported file, where `at` is the ISO text."""
    if isinstance(fields["at"], str):
        fields = {**fields, "at": datetime.datetime.fromisoformat(fields["at"])}
    return hashlib.sha256(_canonical(fields).encode()).hexdigest()


class AuditEvent(models.Model):
    """Every state change of a release, experiment or scaling step: who, when, from, to, why.

    Written by the service that makes the change, in the same transaction, so a change and its
    record stand or fall together (bulk updates included). Rows form one hash chain in `seq`
    order (tradeops.audit): a row changed or removed afterwards shows in `verify_audit`.
    """

    seq = models.PositiveBigIntegerField(help_text="place in the audit chain, from 1")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="user, job or command")
    subject_type = models.CharField(max_length=50)
    subject_id = models.PositiveBigIntegerField()
    subject = models.CharField(max_length=300, help_text="the object as it read at the time")
    action = models.CharField(max_length=50)
    from_state = models.CharField(max_length=50, blank=True)
    to_state = models.CharField(max_length=50, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, help_text="the previous row's hash")
    row_hash = models.CharField(
        max_length=64, help_text="SHA-256 of this row's fields and the previous row's hash"
    )

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="audit_subject_idx")]
        constraints = [models.UniqueConstraint(fields=["seq"], name="audit_seq_unique")]
        permissions = [("export_auditevent", "Can export the audit trail")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.subject}"

    def computed_hash(self):
        """What `row_hash` is if nothing changed since the row was written."""
        return chain_hash(chained_fields(self))

    def is_unchanged(self):
        return self.row_hash == self.computed_hash()
