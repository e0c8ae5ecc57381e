from django.db import models

from tradeops.encryption import EncryptedCharField
from tradeops.models import Bot


class FreqtradeSource(models.Model):
    """A freqtrade bot's own database, which TradeOps reads instead of the bot pushing its
    records (ingestion.freqtrade). One per bot; the sync job reads the enabled ones every minute.

    The position says where the next sync starts: trades after `last_trade_id`, plus the ones
    still open at the last sync (`open_trades`), since freqtrade updates an open trade in place
    until it closes. Changing the database resets it: trades are then read again from the first,
    and those already stored count as unchanged.
    """

    bot = models.OneToOneField(
        Bot, primary_key=True, on_delete=models.CASCADE, related_name="freqtrade_source"
    )
    db_url = EncryptedCharField(
        "database URL",
        max_length=500,
        help_text="freqtrade's db_url (SQLAlchemy form), opened read-only: "
        "sqlite:////freqtrade/user_data/tradesv3.sqlite or "
        "postgresql+psycopg://user:password@host:5432/freqtrade. Stored encrypted: it may hold a "
        "password.",
    )
    enabled = models.BooleanField(
        default=True, help_text="Synced every minute by the scheduler while enabled."
    )
    strategy_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="The strategy class the bot runs: its parameter file names it, and freqtrade "
        "refuses a file made for another. Left blank, the first sync fills it in from the "
        "trades' strategy.",
    )
    param_spaces = models.JSONField(
        default=dict,
        blank=True,
        help_text="The freqtrade parameter space of each release param whose name does not say "
        'it (buy_, sell_, enter_, exit_, protection_ do), e.g. {"fib_proximity_bps": "buy"}.',
    )
    last_trade_id = models.PositiveBigIntegerField(
        default=0, help_text="The highest freqtrade trade id read so far."
    )
    open_trades = models.JSONField(
        default=dict,
        blank=True,
        help_text="freqtrade trades read while still open, read again until they close: "
        "{trade id: digest of what was stored}, so an unchanged one is not sent again.",
    )
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.JSONField(
        default=dict, blank=True, help_text="What the last sync stored, or why it failed."
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "freqtrade source"

    def __str__(self):
        return f"freqtrade database of {self.bot.slug}"


class HeartbeatCount(models.Model):
    """How many heartbeat-only batches a bot sent in one UTC minute: the counter of the
    heartbeat rate limit (ingestion.heartbeats). Only each bot's latest minute is kept."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    batches = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bot", "minute"], name="heartbeat_count_one_per_minute")
        ]

    def __str__(self):
        return f"{self.bot} {self.minute:%Y-%m-%d %H:%M}: {self.batches}"
