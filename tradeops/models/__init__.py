"""The trading data model of docs/design.md ("The entities"): bots, their config releases, and
what the bot reports.

Money, prices and quantities are Decimal with DECIMAL_PLACES places; time is UTC.
Rules that can live in the database do (unique keys, enums, positive qty, ordering of
timestamps), so a write that skips the ingestion service still cannot store a broken row.
"""

from tradeops.models.audit import AuditEvent
from tradeops.models.base import (
    DECIMAL_PLACES,
    DEFAULT_EXIT_REASONS,
    MAX_DIGITS,
    DecisionOutcome,
    FillLiquidity,
    FillSide,
    HealthKind,
    HealthState,
    IngestKind,
    ParamCategory,
    ParamValueType,
    QuarantineReason,
    TradeSide,
    TradeStatus,
)
from tradeops.models.bots import ApiToken, Bot, ParamSpec, TradingMode
from tradeops.models.health import HealthEvent
from tradeops.models.ingest import IngestBatch, QuarantinedRecord, TokenFailure
from tradeops.models.jobs import JobRun
from tradeops.models.loop import BotPulse
from tradeops.models.releases import ConfigRelease, ReleaseChange, StabilizationWindow
from tradeops.models.trading import DecisionCount, EquitySnapshot, Fill, Trade

__all__ = [
    "DECIMAL_PLACES",
    "DEFAULT_EXIT_REASONS",
    "MAX_DIGITS",
    "ApiToken",
    "AuditEvent",
    "Bot",
    "BotPulse",
    "ConfigRelease",
    "DecisionCount",
    "DecisionOutcome",
    "EquitySnapshot",
    "Fill",
    "FillLiquidity",
    "FillSide",
    "HealthEvent",
    "HealthKind",
    "HealthState",
    "IngestBatch",
    "IngestKind",
    "JobRun",
    "ParamCategory",
    "ParamSpec",
    "ParamValueType",
    "QuarantineReason",
    "QuarantinedRecord",
    "ReleaseChange",
    "StabilizationWindow",
    "TokenFailure",
    "Trade",
    "TradeSide",
    "TradingMode",
    "TradeStatus",
]
