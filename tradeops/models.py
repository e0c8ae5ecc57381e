"""The trading data model of DESIGN.md: bots, their config releases, and what the bot reports.

Money, prices and quantities are Decimal with DECIMAL_PLACES places; time is UTC.
Rules that can live in the database do (unique keys, enums, positive qty, ordering of
timestamps), so a write that skips the ingestion service still cannot store a broken row.
"""

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

MAX_DIGITS = 30
DECIMAL_PLACES = 12

DEFAULT_EXIT_REASONS = [
    "take_profit",
    "stop_loss",
    "trailing_stop",
    "time_exit",
    "signal_flip",
    "manual_close",
    "liquidation",
]


def decimal_field(**kwargs):
    return models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)


def choices_check(field, choices_class, name):
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices_class.values}), name=name)


class ParamCategory(models.TextChoices):
    STRATEGY = "strategy"
    RISK = "risk"
    EXECUTION = "execution"


class ParamValueType(models.TextChoices):
    INT = "int"
    DECIMAL = "decimal"
    BOOL = "bool"
    STR = "str"


class TradeSide(models.TextChoices):
    LONG = "long"
    SHORT = "short"


class TradeStatus(models.TextChoices):
    OPEN = "open"
    CLOSED = "closed"


class FillSide(models.TextChoices):
    BUY = "buy"
    SELL = "sell"


class FillLiquidity(models.TextChoices):
    MAKER = "maker"
    TAKER = "taker"


class DecisionOutcome(models.TextChoices):
    SIGNAL = "signal"
    NO_SIGNAL = "no_signal"
    REJECTED = "rejected"


class HealthState(models.TextChoices):
    NORMAL = "NORMAL"
    DEGRADED = "DEGRADED"
    HALT = "HALT"


class HealthKind(models.TextChoices):
    STATE_CHANGE = "state_change"
    KILL_SWITCH = "kill_switch"
    DEGRADED = "degraded"
    SAFETY_TRIGGER = "safety_trigger"


class QuarantineReason(models.TextChoices):
    MALFORMED = "malformed", "Malformed"
    CONFLICT = "conflict", "Conflicts with stored row"
    UNPARSEABLE = "unparseable", "Unparseable body"


class Bot(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    exchange = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    known_exit_reasons = models.JSONField(
        default=list,
        blank=True,
        help_text="Exit reasons this bot is known to emit; a close with any other or an empty "
        "reason counts as an unknown exit reason.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer token a bot pushes data with. Only the SHA-256 of the token is stored."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="api_tokens")
    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["bot", "-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.bot.slug} {self.prefix}…"

    @staticmethod
    def hash_token(raw_token: str) -> str:
        # Tokens are 256-bit random values, so a fast hash is enough (no password stretching).
        return hashlib.sha256(raw_token.encode()).hexdigest()

    @property
    def is_active(self):
        return self.revoked_at is None


class ParamSpec(models.Model):
    Category = ParamCategory

    ValueType = ParamValueType

    key = models.CharField(max_length=100, unique=True)
    category = models.CharField(max_length=20, choices=Category.choices)
    value_type = models.CharField(max_length=20, choices=ValueType.choices)
    min_value = decimal_field(null=True, blank=True)
    max_value = decimal_field(null=True, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["category", "key"]
        verbose_name = "parameter spec"
        constraints = [
            choices_check("category", ParamCategory, "paramspec_category_valid"),
            choices_check("value_type", ParamValueType, "paramspec_value_type_valid"),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(min_value__lte=F("max_value")),
                name="paramspec_bounds_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.key} ({self.category})"


class ConfigRelease(models.Model):
    """An immutable, versioned set of param values: once approved, a change is a new release."""

    FROZEN_FIELDS = ("bot_id", "version", "tag", "git_commit", "params", "approved_at")

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="releases")
    version = models.PositiveIntegerField()
    tag = models.CharField(max_length=100, help_text="Release tag in git: the rollback reference.")
    git_commit = models.CharField(max_length=40, blank=True)
    params = models.JSONField(default=dict)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_baseline = models.BooleanField(default=False)

    class Meta:
        ordering = ["bot", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "version"], name="release_version_unique"),
            models.UniqueConstraint(fields=["bot", "tag"], name="release_tag_unique"),
            models.UniqueConstraint(
                fields=["bot"], condition=Q(is_baseline=True), name="one_baseline_per_bot"
            ),
            models.CheckConstraint(
                condition=Q(is_baseline=False) | Q(approved_at__isnull=False),
                name="baseline_is_approved",
            ),
        ]

    def __str__(self):
        return f"{self.bot.slug} {self.tag} (v{self.version})"

    def save(self, *args, **kwargs):
        if self.pk:
            stored = (
                ConfigRelease.objects.filter(pk=self.pk).values(*self.FROZEN_FIELDS).first() or {}
            )
            if stored.get("approved_at") is not None:
                changed = [f for f in self.FROZEN_FIELDS if stored[f] != getattr(self, f)]
                if changed:
                    raise ValidationError(
                        f"Release {self.tag} is approved and immutable (tried to change "
                        f"{', '.join(changed)}); create a new release instead."
                    )
        super().save(*args, **kwargs)

    @property
    def is_approved(self):
        return self.approved_at is not None


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
    ingested_at = models.DateTimeField(auto_now_add=True)

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
        indexes = [
            models.Index(fields=["bot", "status", "closed_at"], name="trade_bot_closed_idx"),
            models.Index(fields=["bot", "opened_at"], name="trade_bot_opened_idx"),
        ]

    def __str__(self):
        return f"{self.external_id} {self.side} {self.symbol}"


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
        indexes = [models.Index(fields=["bot", "trade_external_id"], name="fill_bot_trade_idx")]

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

    def __str__(self):
        return f"{self.day} {self.outcome} {self.reason} ×{self.count}"


class HealthEvent(models.Model):
    State = HealthState

    Kind = HealthKind

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="health_events")
    ts = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, blank=True)
    detail = models.TextField(blank=True)
    ingested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ts"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "ts", "kind"], name="health_event_unique"),
            choices_check("kind", HealthKind, "health_kind_valid"),
            models.CheckConstraint(
                condition=Q(state__in=["", *HealthState.values]), name="health_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind="state_change") | ~Q(state=""),
                name="health_state_change_has_state",
            ),
        ]

    def __str__(self):
        return f"{self.ts:%Y-%m-%d %H:%M} {self.kind} {self.state}"


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

    def __str__(self):
        return f"{self.ts:%Y-%m-%d %H:%M} {self.equity}"


class IngestKind(models.TextChoices):
    TRADES = "trades"
    FILLS = "fills"
    DECISIONS = "decisions"
    HEALTH = "health"
    EQUITY = "equity"


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

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "ingest batches"
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
