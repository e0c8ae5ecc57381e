import hashlib
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from tradeops.models.base import ParamCategory, ParamValueType, choices_check, decimal_field


class TradingMode(models.TextChoices):
    """What the bot may do with positions, from the safest down: a bot told a mode applies it and
    reports it in its heartbeat (docs/bot-api.md, "Wiring a bot")."""

    TRADE = "trade", "Trade"
    STOP_ENTRIES = "stop_entries", "Stop entries"
    EXIT_ALL = "exit_all", "Exit all"


# How far each mode stops the bot: a move down this order is a resume (a Team lead's), and a bot
# that reports a mode lower than it was told still trades past its stop.
TRADING_STRICTNESS = {TradingMode.TRADE: 0, TradingMode.STOP_ENTRIES: 1, TradingMode.EXIT_ALL: 2}
DEFAULT_BREAKER_PCT = Decimal("-3.00")


class BotQuerySet(models.QuerySet):
    def live(self):
        """Bots that trade money: not shadows (a shadow's figures never count as money)."""
        return self.filter(shadow_of__isnull=True)


class Bot(models.Model):
    """A trading bot; a shadow (`shadow_of` set) is a dry-run twin of a live bot, on the same
    exchange and pairs, run as the concurrent control of the live bot's experiments."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    exchange = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    quote_currency = models.CharField(
        max_length=10,
        default="USDT",
        help_text="The currency the bot's money is counted in (P&L, fees, equity): shown beside "
        "every amount.",
    )
    starting_equity = decimal_field(
        null=True,
        blank=True,
        help_text="Account equity before the first trade; the drawdown base when the bot sends "
        "no equity snapshots.",
    )
    known_exit_reasons = models.JSONField(
        default=list,
        blank=True,
        help_text="Exit reasons this bot is known to emit; a close with any other or an empty "
        "reason counts as an unknown exit reason.",
    )
    unknown_exit_alert_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.02"),
        help_text="Alert when unknown exit reasons exceed this share of the closes in 24 hours.",
    )
    max_open_hours = models.PositiveIntegerField(
        default=48, help_text="An open trade older than this is an integrity anomaly."
    )
    safety_events_per_day = models.PositiveIntegerField(
        default=2,
        help_text="Alert when kill-switch, degraded or safety-trigger events in 24 hours exceed "
        "this many.",
    )
    drift_grace_minutes = models.PositiveIntegerField(
        default=5,
        help_text="Config drift: a critical incident when the bot's heartbeat reports another "
        "release than its current one for longer than this after a change.",
    )
    silent_after_minutes = models.PositiveIntegerField(
        default=15,
        help_text="Bot silent: a critical incident when the bot sends no heartbeat or record for "
        "this long.",
    )
    daily_review_due_hour = models.PositiveSmallIntegerField(
        default=10,
        validators=[MaxValueValidator(23)],
        help_text="UTC hour by which an Operator signs off the day's review; later, the day "
        "shows as overdue on the command center and in the digest.",
    )
    digest_hour = models.PositiveSmallIntegerField(
        default=7,
        validators=[MaxValueValidator(23)],
        help_text="UTC hour the daily digest is pushed through the alert channels.",
    )
    current_release = models.ForeignKey(
        "ConfigRelease",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The config the bot should run now: the baseline, or a running experiment's "
        "candidate.",
    )
    current_change = models.ForeignKey(
        "ReleaseChange",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Why the current release is current: the change that made it so.",
    )
    # One shadow per live bot (the database's unique): the scorecard compares the candidate
    # with one concurrent control; two would leave it unsaid which is the control. Set when the
    # shadow is created and never changed (experiments.same_bot keeps it): its trades name the
    # live bot's releases.
    shadow_of = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shadow",
        help_text="The live bot this bot shadows: it runs dry-run on the same exchange and "
        "pairs, the experiment's baseline while an experiment runs, else what the live bot runs. "
        "Its figures never count as money. Set at creation only.",
    )
    # The trading mode: written only by tradeops.services.set_trading_mode, which audits it.
    trading_mode = models.CharField(
        max_length=20,
        choices=TradingMode.choices,
        default=TradingMode.TRADE,
        db_default=TradingMode.TRADE,
        help_text="What the bot may do: trade, stop entries (open positions managed as usual) or "
        "exit all. Part of the config it pulls.",
    )
    # Counts the changes of mode: in the ETag (trade -> stop -> trade is a new config each time)
    # and in the config, so a bot applies a pushed mode only when it is newer than its own.
    trading_version = models.PositiveIntegerField(default=0, db_default=0)
    trading_changed_at = models.DateTimeField(null=True, blank=True)
    trading_changed_by = models.CharField(max_length=150, blank=True, default="", db_default="")
    trading_note = models.TextField(blank=True, default="", db_default="")
    stop_grace_minutes = models.PositiveIntegerField(
        default=3,
        db_default=3,
        help_text="Bot ignores stop: a critical incident when the bot still reports a less strict "
        "trading mode than it was told this long after the change.",
    )
    # Written only by tradeops.services.set_circuit_breaker (a Team lead's, audited).
    breaker_pct = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=DEFAULT_BREAKER_PCT,
        db_default=DEFAULT_BREAKER_PCT,
        help_text="Intraday circuit breaker: entries stop when today's equity change (UTC day) is "
        "this % or worse.",
    )
    # The breaker's last reading (integrity.breaker, every minute), which the card shows.
    breaker_reading_pct = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True
    )
    breaker_read_at = models.DateTimeField(null=True, blank=True)
    # create_bot's clock (`now`) sets it, so history is built through the service; editable=False
    # keeps it off the forms, as auto_now_add did.
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = BotQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(daily_review_due_hour__lte=23, digest_hour__lte=23),
                name="bot_cadence_hours_valid",
            ),
            # A shadow of a shadow is refused by a trigger (experiments.same_bot).
            models.CheckConstraint(condition=~Q(shadow_of=F("pk")), name="bot_not_its_own_shadow"),
            choices_check("trading_mode", TradingMode, "bot_trading_mode_valid"),
            models.CheckConstraint(
                condition=Q(breaker_pct__lt=0, breaker_pct__gt=-100), name="bot_breaker_pct_loss"
            ),
        ]
        permissions = [
            ("stop_entries", "Can stop a bot's entries"),
            ("exit_all", "Can make a bot exit all positions"),
            ("resume_trading", "Can resume a stopped bot's trading"),
            ("stop_fleet_entries", "Can stop the entries of every live bot at once"),
            ("set_circuit_breaker", "Can set a bot's circuit breaker threshold"),
        ]

    def __str__(self):
        return self.slug

    @property
    def is_shadow(self):
        return self.shadow_of_id is not None

    @property
    def release_bot_id(self):
        """The bot whose releases this bot runs and its trades name: a shadow's live bot."""
        return self.shadow_of_id or self.pk

    def shadow_refusal(self, live):
        """Why this bot may not be created as the shadow of `live`, or None."""
        if live.is_shadow:
            return f"{live} is itself a shadow (of {live.shadow_of}): a shadow has no shadow"
        if live.pk is not None and live.pk == self.pk:
            return f"{live} cannot be its own shadow"
        other = Bot.objects.filter(shadow_of=live).exclude(pk=self.pk).first()
        if other is not None:
            return f"{live} already has a shadow, {other}: one per live bot"
        return None

    @property
    def config_etag(self):
        """Names the config GET /api/v1/config serves, from this row alone (a bot polls it every
        few seconds): the current release, the change that made it current and, once the trading
        mode has changed, how many times it has."""
        if self.current_release_id is None:
            return None
        mode = f".t{self.trading_version}" if self.trading_version else ""
        return f'"{self.current_release_id}.{self.current_change_id or 0}{mode}"'

    def unknown_exits_alarm(self, unknown, closes):
        """The unknown-exit alarm, the one rule the integrity check and the command center ask:
        more than `unknown_exit_alert_share` of the closes. Exact (the share is a Decimal): 2 of
        100 is exactly 2%, not above it, where a float would read it as a hair above 0.02."""
        return bool(closes) and unknown > self.unknown_exit_alert_share * closes

    @property
    def unknown_exit_alert_percent(self):
        """The alarm's share as every page and incident states it: "2%", "2.5%" (exact, never
        rounded to a figure the rule does not use)."""
        return f"{(self.unknown_exit_alert_share * 100).normalize():f}%"

    @property
    def is_stopped(self):
        return self.trading_mode != TradingMode.TRADE

    def trading_config(self):
        """The trading mode as the config and the freqtrade file carry it."""
        return {
            "trading": self.trading_mode,
            "trading_version": self.trading_version,
            "trading_since": self.trading_changed_at.isoformat()
            if self.trading_changed_at
            else None,
            "trading_why": self.trading_why,
        }

    @property
    def trading_why(self):
        if self.trading_changed_at is None:
            return None
        return (
            f"{self.get_trading_mode_display()} by {self.trading_changed_by}: {self.trading_note}"
        )

    @property
    def breaker_headroom(self):
        """Percentage points between the breaker's last reading of today's equity change and its
        threshold (0 or less: tripped), or None before a reading."""
        if self.breaker_reading_pct is None:
            return None
        return self.breaker_reading_pct - self.breaker_pct

    def applies_mode(self, reported):
        """Whether a bot reporting `reported` (a heartbeat's trading mode; "" when it reports
        none) stops at least as far as its mode says: a bot that says nothing is trading."""
        strictness = TRADING_STRICTNESS.get(reported, 0) if reported else 0
        return strictness >= TRADING_STRICTNESS[self.trading_mode]

    def running_config(self):
        """The config the bot must run now and why it is current, as the bot API serves it."""
        release, change = self.current_release, self.current_change
        # A release made current without a recorded change (before changes were recorded, or
        # set by hand in the database) has no why; the release itself is still the truth.
        why = change if change is not None and change.release_id == release.pk else None
        return {
            "bot": self.slug,
            # A shadow runs dry-run, its live bot's releases: it says so to the bot too.
            **({"shadow_of": self.shadow_of.slug, "dry_run": True} if self.is_shadow else {}),
            "release": {
                "tag": release.tag,
                "version": release.version,
                "git_commit": release.git_commit,
                "params": release.params,
            },
            "reason": why.reason if why else None,
            "why": why.why if why else "not recorded",
            "since": why.at.isoformat() if why else None,
            "changed_by": why.by if why else None,
            **self.trading_config(),
        }

    def clean(self):
        if self.shadow_of_id is not None:
            refusal = self.shadow_refusal(self.shadow_of)
            if refusal:
                raise ValidationError({"shadow_of": refusal})
        reasons = self.known_exit_reasons
        if not isinstance(reasons, list) or not all(isinstance(r, str) and r for r in reasons):
            raise ValidationError(
                {"known_exit_reasons": 'a list of exit reason strings, e.g. ["take_profit"]'}
            )


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
