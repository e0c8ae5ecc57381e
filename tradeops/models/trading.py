from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Abs, Now
from django.utils import timezone

from tradeops.models.base import (
    DecisionOutcome,
    FillLiquidity,
    FillSide,
    TradeSide,
    TradeStatus,
    choices_check,
    decimal_field,
)
from tradeops.models.bots import Bot
from tradeops.models.releases import ConfigRelease

# How far a trade's net P&L is from gross - fees - funding, and text that is only blank: what the
# stored-trade check looks for (ingestion.stored). Indexed, so it reads only the rows that break
# them, not a bot's whole history.
PNL_GAP = Abs(F("net_pnl") - (F("gross_pnl") - F("fees") - F("funding")))
BLANK_TEXT = Q(external_id__regex=r"^\s*$") | Q(symbol__regex=r"^\s*$")


def _changed_at_field():
    # Stamped on creation (a row written in raw SQL gets the database's clock) and by ingestion's
    # UPDATE and fill-linking paths; not auto_now, so a row restored by the cleanup SOP comes
    # back as it was.
    return models.DateTimeField(
        default=timezone.now,
        db_default=Now(),
        help_text="When the row was last written: the integrity checks re-read what changed "
        "since their last run.",
    )


class Trade(models.Model):
    Side = TradeSide

    Status = TradeStatus

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="trades")
    external_id = models.CharField(max_length=128)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=5, choices=Side.choices)
    status = models.CharField(max_length=6, choices=Status.choices)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    qty = decimal_field()
    entry_price = decimal_field()
    exit_price = decimal_field(null=True, blank=True)
    leverage = decimal_field(default=1)
    gross_pnl = decimal_field(null=True, blank=True)
    fees = decimal_field(null=True, blank=True)
    funding = decimal_field(null=True, blank=True, help_text="Positive = paid.")
    net_pnl = decimal_field(null=True, blank=True, help_text="gross_pnl - fees - funding")
    exit_reason = models.CharField(max_length=100, blank=True)
    release = models.ForeignKey(
        ConfigRelease, null=True, blank=True, on_delete=models.PROTECT, related_name="trades"
    )
    release_tag = models.CharField(
        max_length=100, blank=True, help_text="Release tag as the bot reported it."
    )
    est_fees = decimal_field(null=True, blank=True)
    est_funding = decimal_field(null=True, blank=True)
    est_slippage_bps = decimal_field(null=True, blank=True)
    realized_slippage = decimal_field(
        null=True,
        blank=True,
        help_text="What this trade's fills cost against their expected prices (quote currency, "
        "positive = adverse); kept up to date by ingestion as fills arrive.",
    )
    ingested_at = models.DateTimeField(auto_now_add=True)
    changed_at = _changed_at_field()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "external_id"], name="trade_external_id_unique"),
            choices_check("side", TradeSide, "trade_side_valid"),
            choices_check("status", TradeStatus, "trade_status_valid"),
            models.CheckConstraint(condition=Q(qty__gt=0), name="trade_qty_positive"),
            models.CheckConstraint(
                condition=Q(entry_price__gt=0), name="trade_entry_price_positive"
            ),
            models.CheckConstraint(
                condition=Q(exit_price__isnull=True) | Q(exit_price__gt=0),
                name="trade_exit_price_positive",
            ),
            models.CheckConstraint(condition=Q(leverage__gt=0), name="trade_leverage_positive"),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("opened_at")),
                name="trade_closed_after_opened",
            ),
            models.CheckConstraint(
                condition=Q(status="open")
                | Q(
                    closed_at__isnull=False,
                    exit_price__isnull=False,
                    gross_pnl__isnull=False,
                    fees__isnull=False,
                    funding__isnull=False,
                    net_pnl__isnull=False,
                ),
                name="trade_closed_is_complete",
            ),
            models.CheckConstraint(
                condition=Q(status="closed") | Q(closed_at__isnull=True, exit_price__isnull=True),
                name="trade_open_has_no_exit",
            ),
        ]
        # The admin list's orders, filters and searches (sorting by id breaks ties): see
        # migration 0014 for the symbol prefix search, which only PostgreSQL indexes.
        indexes = [
            # A bot's closes in curve order with what the trade-curve drawdown reads: KPI windows
            # and equity at a moment walk it without the table or a sort.
            models.Index(
                fields=["bot", "status", "closed_at", "id"],
                include=["net_pnl", "release"],
                name="trade_bot_closes_idx",
            ),
            models.Index(fields=["-opened_at", "-id"], name="trade_recent_idx"),
            models.Index(fields=["bot", "-opened_at", "-id"], name="trade_bot_recent_idx"),
            models.Index(
                fields=["-opened_at", "-id"], condition=Q(status="open"), name="trade_open_idx"
            ),
            models.Index(fields=["exit_reason", "-opened_at", "-id"], name="trade_exit_idx"),
            models.Index(fields=["net_pnl", "id"], name="trade_net_pnl_idx"),
            models.Index(fields=["external_id"], name="trade_external_id_idx"),
            # The integrity checks: what changed since the last run, and the rare rows to flag.
            models.Index(fields=["bot", "changed_at"], name="trade_bot_changed_idx"),
            models.Index(F("bot"), PNL_GAP, name="trade_bot_pnl_gap_idx"),
            models.Index(fields=["bot"], condition=BLANK_TEXT, name="trade_blank_text_idx"),
        ]

    def __str__(self):
        return f"{self.external_id} {self.side} {self.symbol}"

    @staticmethod
    def unknown_exit(bot):
        """The condition for an unknown exit reason (docs/design.md, "The KPIs"): empty, or not
        in `bot`'s known vocabulary. A Q, so one query can count these closes among all of them."""
        return ~Q(exit_reason__in=list(bot.known_exit_reasons or [])) | Q(exit_reason="")

    @staticmethod
    def is_unknown_exit(bot, exit_reason):
        """`unknown_exit` for one reason already read (counts grouped by reason)."""
        return exit_reason == "" or exit_reason not in (bot.known_exit_reasons or [])


class Fill(models.Model):
    Side = FillSide

    Liquidity = FillLiquidity

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="fills")
    external_id = models.CharField(max_length=128)
    trade_external_id = models.CharField(max_length=128)
    trade = models.ForeignKey(
        Trade,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fills",
        help_text="Empty while the trade has not arrived (an orphan fill).",
    )
    ts = models.DateTimeField()
    side = models.CharField(max_length=4, choices=Side.choices)
    price = decimal_field()
    qty = decimal_field()
    fee = decimal_field()
    liquidity = models.CharField(max_length=5, choices=Liquidity.choices)
    expected_price = decimal_field(null=True, blank=True)
    ingested_at = models.DateTimeField(auto_now_add=True)
    changed_at = _changed_at_field()

    class Meta:
        ordering = ["-ts"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "external_id"], name="fill_external_id_unique"),
            choices_check("side", FillSide, "fill_side_valid"),
            choices_check("liquidity", FillLiquidity, "fill_liquidity_valid"),
            models.CheckConstraint(condition=Q(qty__gt=0), name="fill_qty_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="fill_price_positive"),
            models.CheckConstraint(
                condition=Q(expected_price__isnull=True) | Q(expected_price__gt=0),
                name="fill_expected_price_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["bot", "trade_external_id"], name="fill_bot_trade_idx"),
            models.Index(fields=["-ts", "-id"], name="fill_recent_idx"),
            models.Index(fields=["bot", "-ts", "-id"], name="fill_bot_recent_idx"),
            models.Index(fields=["external_id"], name="fill_external_id_idx"),
            models.Index(fields=["trade_external_id"], name="fill_trade_external_id_idx"),
            # The integrity checks: what changed since their last run.
            models.Index(fields=["bot", "changed_at"], name="fill_bot_changed_idx"),
        ]

    def __str__(self):
        return self.external_id

    @property
    def slippage_bps(self):
        """Adverse slippage against the expected price, in basis points (positive = worse)."""
        if self.expected_price is None:
            return None
        direction = 1 if self.side == self.Side.BUY else -1
        return direction * (self.price - self.expected_price) / self.expected_price * 10000


class DecisionCount(models.Model):
    """Strategy evaluations rolled up per (bot, day, symbol, outcome, reason).

    KPIs read these rollups; raw decision events are counted into them at ingestion.
    """

    Outcome = DecisionOutcome

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="decision_counts")
    day = models.DateField()
    symbol = models.CharField(max_length=32, blank=True)
    outcome = models.CharField(max_length=9, choices=Outcome.choices)
    reason = models.CharField(max_length=100, blank=True)
    count = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["-day", "outcome", "reason"]
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "day", "symbol", "outcome", "reason"], name="decision_count_unique"
            ),
            choices_check("outcome", DecisionOutcome, "decision_outcome_valid"),
            models.CheckConstraint(
                condition=~Q(outcome="rejected") | ~Q(reason=""),
                name="decision_rejected_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["-day", "outcome", "reason", "-id"], name="decision_recent_idx"),
            models.Index(
                fields=["bot", "-day", "outcome", "reason", "-id"], name="decision_bot_recent_idx"
            ),
        ]

    def __str__(self):
        return f"{self.day} {self.outcome} {self.reason} ×{self.count}"


class EquitySnapshot(models.Model):
    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="equity_snapshots")
    ts = models.DateTimeField()
    equity = decimal_field()
    ingested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ts"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "ts"], name="equity_snapshot_unique"),
            models.CheckConstraint(condition=Q(equity__gte=0), name="equity_non_negative"),
        ]
        indexes = [models.Index(fields=["-ts", "-id"], name="equity_recent_idx")]

    def __str__(self):
        return f"{self.ts:%Y-%m-%d %H:%M} {self.equity}"


class DailyCloses(models.Model):
    """A bot's closed trades per UTC day of the close, release and exit reason: the counts and
    sums every trade KPI is made of. PostgreSQL keeps it (statement triggers on the trade table,
    migration 0017_daily_closes_d), so whoever writes a trade, by whatever path, the rollup
    follows. KPI windows are whole UTC days: a window reads a few rows a day instead of every
    close, and equity at a moment reads the days before it, not every close. A group whose trades
    all went away keeps a row of zeros; readers skip it."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    release = models.ForeignKey(
        ConfigRelease, null=True, on_delete=models.CASCADE, related_name="+"
    )
    exit_reason = models.CharField(max_length=100, blank=True)
    trades = models.IntegerField()
    net_pnl = decimal_field()
    wins = models.IntegerField()
    win_pnl = decimal_field()
    losses = models.IntegerField()
    loss_pnl = decimal_field()
    longs = models.IntegerField()
    # Cost attribution: realized minus estimated, over the trades that have both sides.
    fees_n = models.IntegerField()
    fees_drift = decimal_field()
    fees_abs = decimal_field()
    funding_n = models.IntegerField()
    funding_drift = decimal_field()
    funding_abs = decimal_field()
    slippage_n = models.IntegerField()
    slippage_drift = decimal_field()
    slippage_abs = decimal_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "day", "release", "exit_reason"],
                name="daily_closes_unique",
                nulls_distinct=False,
            )
        ]

    def __str__(self):
        return f"{self.day} {self.exit_reason or '(blank)'}: {self.trades} closes, {self.net_pnl}"
