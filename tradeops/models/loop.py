from django.db import models
from django.db.models import Q

from tradeops.models.bots import Bot, TradingMode


class BotPulse(models.Model):
    """A bot's last heartbeat and the release it reports running: one row per bot, updated in
    place by each heartbeat (ingestion.heartbeats), so a bot beating every minute does not grow
    the health event table. A heartbeat is stored as a HealthEvent only when the running release
    changes; this row is the rest of the story."""

    bot = models.OneToOneField(
        Bot, primary_key=True, on_delete=models.CASCADE, related_name="pulse"
    )
    last_heartbeat_at = models.DateTimeField()
    running_release = models.CharField(max_length=100, help_text="The release tag it reports.")
    running_since = models.DateTimeField(
        help_text="The first heartbeat that reported this release."
    )
    # What the bot says it applies (Bot.trading_mode's values); "" when its heartbeat says
    # nothing, which the stop watch takes as trading (integrity.loop).
    trading = models.CharField(
        max_length=20,
        blank=True,
        default="",
        db_default="",
        help_text="The trading mode it reports.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(trading__in=["", *TradingMode.values]),
                name="pulse_trading_valid",
            )
        ]

    def __str__(self):
        return f"{self.bot.slug} runs {self.running_release} (heard {self.last_heartbeat_at:%H:%M})"
