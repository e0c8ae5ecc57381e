from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

from integrity import outbound
from integrity.delivery import DeliveryStatus
from tradeops.encryption import EncryptedCharField
from tradeops.models import Bot, ReleaseChange


def validate_outbound_url(url):
    """A release webhook's URL may not point inside (integrity.outbound)."""
    reason = outbound.refusal(url)
    if reason:
        raise ValidationError(f"TradeOps does not send to inside addresses: {reason}.")


def masked_url(url):
    """A URL without its secrets: its scheme, and its host when the host is a network name
    (json://ops.example.com/…); chat services keep their tokens where a host would be
    (tgram://bottoken/…), so those show the scheme alone."""
    scheme, _, _ = url.partition("://")
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    if "." in host or ":" in host or host == "localhost":
        return f"{scheme}://{host}/…"
    return f"{scheme}://…"


# Apprise's generic webhook schemes: the receiver's own 2xx answer means it took the message.
RECEIVER_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms"}


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


class AlertChannel(models.Model):
    """Where alerts go: an email list, or any webhook/chat service Apprise speaks."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email (Django mail settings)"
        APPRISE = "apprise", "Webhook or chat (Apprise URL)"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Apprise URLs carry the service's tokens and passwords: encrypted at rest.
    target = EncryptedCharField(
        max_length=1000,
        help_text="Email: comma-separated addresses. Webhook/chat: an Apprise URL, e.g. "
        "json://ops.example.com/hook, slack://T000/B000/XXXX, discord://id/token, "
        "tgram://bottoken/chat_id.",
    )
    bot = models.ForeignKey(
        Bot,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_channels",
        help_text="Empty: alerts of every bot.",
    )
    min_severity = models.CharField(
        max_length=10,
        choices=IntegrityIncident.Severity.choices,
        default=IntegrityIncident.Severity.WARNING,
        help_text="critical: only critical incidents; warning: all incidents.",
    )
    repeat_minutes = models.PositiveIntegerField(
        default=60, help_text="Repeat while an incident stays unacknowledged; 0 = never."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.kind == self.Kind.APPRISE and self.target:
            reason = outbound.apprise_refusal(self.target)
            if reason:
                raise ValidationError(
                    {"target": f"TradeOps does not send to inside addresses: {reason}."}
                )

    @property
    def answers(self):
        """A webhook receiver (a machine): its 2xx answer confirms that a test alert arrived.
        Anything else (email, chat, syslog) is confirmed only by a person opening its link."""
        if self.kind != self.Kind.APPRISE:
            return False
        return self.target.partition("://")[0].lower() in RECEIVER_SCHEMES

    @property
    def masked_target(self):
        """The target without its secrets: a URL as masked_url shows it, an email list as its
        domains (…@example.com), so who is not a Team lead sees where alerts go, not to whom."""
        if self.kind == self.Kind.EMAIL:
            return ", ".join(
                f"…@{address.strip().rpartition('@')[2]}"
                for address in self.target.split(",")
                if address.strip()
            )
        return masked_url(self.target)

    def hears_about(self, bot_id):
        """A channel of one bot hears about that bot; a channel of no bot, about every bot."""
        return self.bot_id is None or self.bot_id == bot_id

    def accepts(self, incident):
        if not self.hears_about(incident.bot_id):
            return False
        return self.min_severity == "warning" or incident.severity == "critical"


class Delivery(models.Model):
    """A message sent at least once (integrity.delivery): its state, and every attempt."""

    # The flag that switches the message's destination on or off: a switched-off channel or
    # webhook is sent nothing (what is pending for it waits until it is on again).
    SWITCHED_ON = "channel__is_active"

    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The last attempt's."
    )
    error = models.TextField(blank=True, help_text="The last attempt's; empty once sent.")
    attempt_log = models.JSONField(
        default=list,
        blank=True,
        help_text="Every attempt: [{at, response_code, error, duration_ms}], oldest first.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True


class AlertDeliveryQuerySet(models.QuerySet):
    def tests(self):
        return self.filter(event=AlertDelivery.Event.TEST)

    def confirmed_tests(self):
        """Test alerts confirmed as received: the proof that their path fires."""
        return self.tests().filter(confirmed_at__isnull=False)


class AlertDelivery(Delivery):
    """One alert to one channel, with every attempt's outcome (healthchecks.io style)."""

    class Event(models.TextChoices):
        OPENED = "opened"
        REPEAT = "repeat"
        RESOLVED = "resolved"
        TEST = "test"

    Status = DeliveryStatus

    class Confirmation(models.TextChoices):
        LINK = "link", "the recipient opened its confirmation link"
        ANSWER = "answer", "the receiver answered 2xx"

    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    incident = models.ForeignKey(
        IntegrityIncident,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    event = models.CharField(max_length=10, choices=Event.choices)
    path = models.CharField(
        max_length=40,
        choices=IntegrityIncident.Kind.choices,
        help_text="The alerting path: the incident kind, or the path a test exercises.",
    )
    title = models.CharField(max_length=300)
    body = models.TextField()
    # A test alert is proof only once confirmed as received (integrity.alerts).
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_via = models.CharField(max_length=10, choices=Confirmation.choices, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AlertDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "alert deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "incident", "event"],
                condition=Q(event__in=["opened", "resolved"]),
                name="one_open_and_one_resolved_notice_per_channel",
            ),
            models.CheckConstraint(
                condition=Q(incident__isnull=False) | Q(event="test"),
                name="only_tests_have_no_incident",
            ),
            models.CheckConstraint(
                condition=Q(confirmed_at__isnull=True) | Q(event="test", confirmed_via__gt=""),
                name="only_tests_are_confirmed_and_say_how",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
        ]

    def __str__(self):
        return f"{self.event} → {self.channel} ({self.status})"


class ReleaseWebhook(models.Model):
    """Where a bot is pushed every change of its current release (experiments.releases.push),
    and the secret each push is signed with. A Team lead sets it up on the bot's page."""

    bot = models.OneToOneField(Bot, on_delete=models.CASCADE, related_name="release_webhook")
    # A receiver's URL may carry its own token: encrypted at rest, like alert channel targets.
    url = EncryptedCharField(
        max_length=1000,
        validators=[URLValidator(schemes=["http", "https"]), validate_outbound_url],
        help_text="The bot's HTTPS endpoint that receives each release change as a signed POST.",
    )
    # The HMAC key the bot verifies pushes with: shown once when issued, never again.
    secret = EncryptedCharField(max_length=100, editable=False)
    secret_issued_at = models.DateTimeField(editable=False)
    is_active = models.BooleanField(
        default=True, help_text="Off: changes are not pushed (the bot still pulls its config)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "release push webhook"

    def __str__(self):
        return f"{self.bot.slug} → {self.masked_url}"

    @property
    def masked_url(self):
        return masked_url(self.url)


class ReleasePush(Delivery):
    """One change of a bot's current release told to its webhook (or a test push), with every
    attempt. Sent by experiments.releases.push through the shared delivery mechanism."""

    SWITCHED_ON = "webhook__is_active"

    class Event(models.TextChoices):
        RELEASE_CHANGE = "release_change", "Release change"
        TRADING_CHANGE = "trading_change", "Trading mode change"
        TEST = "test"

    Status = DeliveryStatus

    webhook = models.ForeignKey(ReleaseWebhook, on_delete=models.PROTECT, related_name="pushes")
    change = models.ForeignKey(
        ReleaseChange,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The change pushed; a test push carries the current one (none: no release yet).",
    )
    event = models.CharField(max_length=20, choices=Event.choices)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "release pushes"
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "change"],
                condition=Q(event="release_change"),
                name="one_push_per_change_per_webhook",
            ),
            models.CheckConstraint(
                condition=Q(change__isnull=False) | Q(event="test"),
                name="only_test_pushes_have_no_change",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="push_due_idx"),
            models.Index(fields=["webhook", "-created_at"], name="push_webhook_idx"),
        ]

    def __str__(self):
        return f"{self.event} {self.change_id or ''} → {self.webhook.bot.slug} ({self.status})"


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
