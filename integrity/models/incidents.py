"""Integrity incidents and the runs of the integrity checks that open them."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from tradeops.models import Bot


class IntegrityIncident(models.Model):
    """An integrity problem, deduplicated by (bot, kind, key) while it is not resolved."""

    class Severity(models.TextChoices):
        CRITICAL = "critical"
        WARNING = "warning"

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    class Kind(models.TextChoices):
        BLOCKED_MALFORMED_TRADE = "blocked_malformed_trade", "Blocked malformed trade persistence"
        TRADE_CONFLICT = "trade_conflict", "Conflicting re-send of a closed trade"
        QUARANTINED_RECORDS = "quarantined_records", "Quarantined records"
        UNPARSEABLE_BATCH = "unparseable_batch", "Unparseable batch"
        MALFORMED_STORED_TRADE = "malformed_stored_trade", "Stored trades failing validation"
        UNKNOWN_EXIT_RATE = "unknown_exit_rate", "Unknown exit reasons above threshold"
        ORPHAN_FILLS = "orphan_fills", "Fills without a trade"
        TRADES_WITHOUT_RELEASE = "trades_without_release", "Trades without a release"
        STALE_OPEN_TRADES = "stale_open_trades", "Open trades past their max holding time"
        FILL_QTY_MISMATCH = "fill_qty_mismatch", "Closed trades whose fills don't add up"
        SAFETY_EVENTS = "safety_events", "Abnormal safety triggers"
        MISSED_SCHEDULE = "missed_schedule", "Missed schedule"
        ROLLBACK_TRIGGER = "rollback_trigger", "Rollback trigger fired"
        CONFIG_DRIFT = "config_drift", "Bot runs another release than its current one"
        BOT_SILENT = "bot_silent", "Bot silent"
        BOT_IGNORES_STOP = "bot_ignores_stop", "Bot ignores stop"
        CIRCUIT_BREAKER = "circuit_breaker", "Circuit breaker stopped entries"

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="incidents")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    key = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    title = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "kind", "key"],
                condition=~Q(status="resolved"),
                name="one_unresolved_incident_per_key",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=["critical", "warning"]), name="incident_severity_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "acknowledged", "resolved"]),
                name="incident_status_valid",
            ),
        ]

    def __str__(self):
        return f"[{self.severity}] {self.bot.slug}: {self.title}"

    @property
    def is_resolved(self):
        return self.status == self.Status.RESOLVED


class IntegrityCheckRun(models.Model):
    """One run of the integrity checks for a bot, with each check's result."""

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="integrity_runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    since = models.DateTimeField(help_text="New rows are those seen after this moment.")
    results = models.JSONField(default=list, help_text="[{check, violations: [...]}] per check")
    violations = models.PositiveIntegerField(default=0)
    triggered_by = models.CharField(max_length=100, help_text="job, command or admin user")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["bot", "-started_at"], name="check_run_bot_idx")]

    def __str__(self):
        return f"{self.bot.slug} {self.started_at:%Y-%m-%d %H:%M} ({self.violations} violations)"
