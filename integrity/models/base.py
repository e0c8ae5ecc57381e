"""What alerts and release pushes share: a message sent at least once, and a URL shown without
its secrets."""

from urllib.parse import urlsplit

from django.conf import settings
from django.db import models

from integrity.delivery import DeliveryStatus


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
