"""Where alerts go (channels) and each alert sent to one (deliveries)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from integrity import outbound
from integrity.delivery import DeliveryStatus
from integrity.models.base import Delivery, masked_url
from integrity.models.incidents import IntegrityIncident
from tradeops.encryption import EncryptedCharField
from tradeops.models import Bot

# Apprise's generic webhook schemes: the receiver's own 2xx answer means it took the message.
RECEIVER_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms"}


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
