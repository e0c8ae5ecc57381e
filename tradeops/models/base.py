"""Shared building blocks of the models: decimal precision and the enumerations."""

from django.db import models
from django.db.models import Q

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
    # The release the bot runs; kept on its BotPulse, stored as an event only when it changes.
    HEARTBEAT = "heartbeat"


class QuarantineReason(models.TextChoices):
    MALFORMED = "malformed", "Malformed"
    CONFLICT = "conflict", "Conflicts with stored row"
    UNPARSEABLE = "unparseable", "Unparseable body"
    CLEANUP = "cleanup", "Moved by a cleanup plan"


class IngestKind(models.TextChoices):
    TRADES = "trades"
    FILLS = "fills"
    DECISIONS = "decisions"
    HEALTH = "health"
    EQUITY = "equity"
