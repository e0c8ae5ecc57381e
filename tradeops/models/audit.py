from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    """Every state change of a release, experiment or scaling step: who, when, from, to, why.

    Written by the service that makes the change, in the same transaction, so a change and its
    record stand or fall together (bulk updates included).
    """

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

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="audit_subject_idx")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.subject}"
