"""A cleanup plan: the dry run that applying and restoring it hold to."""

from django.db import models

from tradeops.models import Bot


class CleanupPlan(models.Model):
    """A dry run of scripts/cleanup_malformed_trades.py: exactly which rows, what action, and a
    fingerprint of each row as it was, so `apply` can refuse if anything changed since."""

    class Status(models.TextChoices):
        PLANNED = "planned"
        APPLIED = "applied"
        RESTORED = "restored"

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="cleanup_plans")
    rows = models.JSONField(help_text="[{trade_id, external_id, action, reasons, fingerprint}]")
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    planned_at = models.DateTimeField()
    planned_by = models.CharField(max_length=150)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.CharField(max_length=150, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)
    restored_by = models.CharField(max_length=150, blank=True)
    quarantined_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-planned_at"]
        permissions = [("apply_cleanupplan", "Can apply and restore cleanup plans")]

    def __str__(self):
        return f"Cleanup plan {self.pk} for {self.bot.slug}: {len(self.rows)} row(s), {self.status}"
