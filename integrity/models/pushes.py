"""A bot's release webhook and each release change pushed to it."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

from integrity import outbound
from integrity.delivery import DeliveryStatus
from integrity.models.base import Delivery, masked_url
from tradeops.encryption import EncryptedCharField
from tradeops.models import Bot, ReleaseChange


def validate_outbound_url(url):
    """A release webhook's URL may not point inside (integrity.outbound)."""
    reason = outbound.refusal(url)
    if reason:
        raise ValidationError(f"TradeOps does not send to inside addresses: {reason}.")


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
