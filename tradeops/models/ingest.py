import zlib

from django.db import models
from django.db.models import F, Q

from tradeops.models.base import IngestKind, QuarantineReason, choices_check
from tradeops.models.bots import Bot


class QuarantinedRecord(models.Model):
    """A record refused by validation, kept whole; the same bad record again is seen again."""

    Reason = QuarantineReason

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="quarantined_records")
    kind = models.CharField(max_length=10, choices=IngestKind.choices)
    reason = models.CharField(max_length=12, choices=Reason.choices)
    external_id = models.CharField(max_length=128, blank=True)
    raw = models.TextField(help_text="The record exactly as received.")
    errors = models.JSONField(default=dict)
    source = models.CharField(max_length=300)
    fingerprint = models.CharField(max_length=64)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    times_seen = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "kind", "fingerprint"], name="quarantine_fingerprint_unique"
            ),
            choices_check("kind", IngestKind, "quarantine_kind_valid"),
            choices_check("reason", QuarantineReason, "quarantine_reason_valid"),
        ]
        indexes = [
            models.Index(fields=["-last_seen_at", "-id"], name="quarantine_recent_idx"),
            models.Index(fields=["bot", "-last_seen_at", "-id"], name="quarantine_bot_recent_idx"),
            models.Index(fields=["external_id"], name="quarantine_external_id_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.external_id or self.fingerprint[:12]} ({self.reason})"


class IngestBatch(models.Model):
    """One batch received from a bot, API call, file or the demo loader, with its counts."""

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="ingest_batches")
    kind = models.CharField(max_length=10, choices=IngestKind.choices)
    source = models.CharField(max_length=300)
    received_at = models.DateTimeField(auto_now_add=True)
    records = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    quarantined = models.PositiveIntegerField(default=0)
    raw_events_digest = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the raw decision events counted in this batch; the same events "
        "sent again are not counted twice.",
    )
    raw_body = models.BinaryField(
        null=True,
        blank=True,
        help_text="The body exactly as received (zlib), kept when it could not be read or when "
        "values in it had more decimal places than are stored and were rounded.",
    )

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "ingest batches"
        # When the bot last sent anything (the bot-silent watch, every minute, for every bot).
        indexes = [models.Index(fields=["bot", "-received_at"], name="ingest_batch_bot_recent_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "raw_events_digest"],
                condition=~Q(raw_events_digest=""),
                name="ingest_raw_events_once",
            ),
            models.CheckConstraint(
                condition=Q(
                    records=F("accepted") + F("updated") + F("unchanged") + F("quarantined")
                ),
                name="ingest_batch_counts_add_up",
            ),
        ]

    def __str__(self):
        return f"{self.kind} batch {self.received_at:%Y-%m-%d %H:%M:%S} ({self.records})"

    @staticmethod
    def pack_body(body: bytes) -> bytes:
        return zlib.compress(body, 1)

    @property
    def body(self) -> bytes | None:
        """The raw body as received, or None when it was not kept."""
        return None if self.raw_body is None else zlib.decompress(self.raw_body)


class TokenFailure(models.Model):
    """Requests with a missing, wrong or revoked API token from one client address, counted per
    time window: the API answers 429 to an address that keeps guessing."""

    client = models.CharField(max_length=64, help_text="The client's IP address.")
    window_start = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "window_start"], name="token_failure_window_unique"
            )
        ]

    def __str__(self):
        return f"{self.client} {self.window_start:%Y-%m-%d %H:%M} ×{self.failures}"
