"""Validation of incoming records: the one place where "malformed" is defined, for records
as they arrive and for trades already stored (stored_trade_errors).

Each kind has a table of fields (converter + required) and cross-field rules. `validate_record`
returns the cleaned values and every error found, keyed by field name, so a refused record can be
quarantined with all its problems at once. Hand-written rather than Django forms because a bot
pushes tens of thousands of records a second through this path.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ingestion.fields import (
    FieldError,
    _parse_utc_timestamp,
    _shown,
    choice,
    printable_text,
    required_text,
    text,
    to_count,
    to_date,
    to_decimal,
    to_non_negative_decimal,
    to_positive_decimal,
    to_utc_datetime,
)
from tradeops.models import (
    DecisionCount,
    DecisionOutcome,
    Fill,
    HealthEvent,
    IngestKind,
    Trade,
    TradingMode,
)

# net_pnl must equal gross_pnl - fees - funding up to this much (rounding in the bot's own math),
# or this share of the largest part, whichever is larger: float arithmetic on large P&L figures.
PNL_TOLERANCE = Decimal("0.000001")
PNL_RELATIVE_TOLERANCE = Decimal("1e-12")
MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class FieldSpec:
    convert: object
    required: bool = False
    default: object = None


def _clean_fields(data, fields, latest_allowed):
    clean, errors = {}, {}
    for name, spec in fields.items():
        value = data.get(name)
        if value is None:
            if spec.required:
                errors[name] = "this field is required"
            clean[name] = spec.default
            continue
        try:
            clean[name] = spec.convert(value)
        except FieldError as exc:
            errors[name] = str(exc)
            continue
        if spec.convert is to_utc_datetime and clean[name] > latest_allowed:
            errors[name] = f"timestamp is in the future: {_shown(value)}"
    if not data.keys() <= fields.keys():
        for name in sorted(data.keys() - fields.keys()):
            errors[name] = "unknown field"
    return clean, errors


TRADE_FIELDS = {
    "external_id": FieldSpec(required_text(128), required=True),
    "symbol": FieldSpec(required_text(32), required=True),
    "side": FieldSpec(choice(Trade.Side), required=True),
    "status": FieldSpec(choice(Trade.Status), required=True),
    "opened_at": FieldSpec(to_utc_datetime, required=True),
    "closed_at": FieldSpec(to_utc_datetime),
    "qty": FieldSpec(to_positive_decimal, required=True),
    "entry_price": FieldSpec(to_positive_decimal, required=True),
    "exit_price": FieldSpec(to_positive_decimal),
    "leverage": FieldSpec(to_positive_decimal, default=Decimal(1)),
    "gross_pnl": FieldSpec(to_decimal),
    "fees": FieldSpec(to_decimal),
    "funding": FieldSpec(to_decimal),
    "net_pnl": FieldSpec(to_decimal),
    "exit_reason": FieldSpec(text(100), default=""),
    "release": FieldSpec(text(100), default=""),
    "est_fees": FieldSpec(to_decimal),
    "est_funding": FieldSpec(to_decimal),
    "est_slippage_bps": FieldSpec(to_decimal),
}
CLOSED_TRADE_REQUIRES = ("closed_at", "exit_price", "gross_pnl", "fees", "funding", "net_pnl")


def _trade_rules(clean, errors):
    status = clean.get("status")
    if status == Trade.Status.CLOSED:
        for name in CLOSED_TRADE_REQUIRES:
            if clean.get(name) is None and name not in errors:
                errors[name] = "required for a closed trade"
    elif status == Trade.Status.OPEN:
        for name in ("closed_at", "exit_price"):
            if clean.get(name) is not None:
                errors[name] = "must be empty for an open trade"
    opened, closed = clean.get("opened_at"), clean.get("closed_at")
    if opened and closed and closed < opened:
        errors["closed_at"] = f"closed_at {closed.isoformat()} is before opened_at"
    parts = [clean.get(name) for name in ("gross_pnl", "fees", "funding", "net_pnl")]
    if all(part is not None for part in parts) and not pnl_adds_up(*parts):
        gross, fees, funding, net = parts
        expected = gross - fees - funding
        errors["net_pnl"] = (
            f"net_pnl {net} is inconsistent with gross_pnl - fees - funding = {expected}"
        )


def pnl_adds_up(gross, fees, funding, net):
    """The P&L consistency rule, the one definition: net_pnl is gross_pnl - fees - funding within
    PNL_TOLERANCE, or PNL_RELATIVE_TOLERANCE of the largest part if that is more. The fast path
    calls it; the stored-trade scan's SQL reads only rows whose gap exceeds PNL_TOLERANCE (no row
    within it breaks the rule) and judges them with it."""
    gap = abs(net - (gross - fees - funding))
    # The absolute tolerance first: the common case, without the largest part (the hot path).
    if gap <= PNL_TOLERANCE:
        return True
    return gap <= max(abs(gross), abs(fees), abs(funding), abs(net)) * PNL_RELATIVE_TOLERANCE


FILL_FIELDS = {
    "external_id": FieldSpec(required_text(128), required=True),
    "trade_external_id": FieldSpec(required_text(128), required=True),
    "ts": FieldSpec(to_utc_datetime, required=True),
    "side": FieldSpec(choice(Fill.Side), required=True),
    "price": FieldSpec(to_positive_decimal, required=True),
    "qty": FieldSpec(to_positive_decimal, required=True),
    "fee": FieldSpec(to_decimal, required=True),
    "liquidity": FieldSpec(choice(Fill.Liquidity), required=True),
    "expected_price": FieldSpec(to_positive_decimal),
}

# A decision is either one raw event (ts) or a pre-counted daily row (day + count).
DECISION_EVENT_FIELDS = {
    "ts": FieldSpec(to_utc_datetime, required=True),
    "symbol": FieldSpec(text(32), default=""),
    "outcome": FieldSpec(choice(DecisionCount.Outcome), required=True),
    "reason": FieldSpec(text(100), default=""),
}
DECISION_COUNT_FIELDS = {
    "day": FieldSpec(to_date, required=True),
    "symbol": FieldSpec(text(32), default=""),
    "outcome": FieldSpec(choice(DecisionCount.Outcome), required=True),
    "reason": FieldSpec(text(100), default=""),
    "count": FieldSpec(to_count, required=True),
}


_EVENT_KEYS = DECISION_EVENT_FIELDS.keys()
_OUTCOMES = frozenset(DecisionOutcome.values)


def decision_event_key(data, latest_allowed):
    """(day, symbol, outcome, reason) of a well-formed raw decision event, or None.

    The hot path for raw events (one per symbol per candle). It accepts only what validate_record
    accepts, with the same clean values; anything else (including anything unusual but valid)
    returns None and goes through validate_record, which reports the errors.
    """
    if type(data) is not dict or not data.keys() <= _EVENT_KEYS:
        return None
    ts, outcome = data.get("ts"), data.get("outcome")
    symbol, reason = data.get("symbol", ""), data.get("reason", "")
    if (
        outcome not in _OUTCOMES
        or type(ts) is not str
        or type(symbol) is not str
        or type(reason) is not str
        or len(symbol) > 32
        or len(reason) > 100
        or symbol != symbol.strip()
        or reason != reason.strip()
        or not symbol.isprintable()
        or not reason.isprintable()
        or (outcome == "rejected" and not reason)
    ):
        return None
    try:
        moment = _parse_utc_timestamp(ts)
    except FieldError:
        return None
    if moment > latest_allowed:
        return None
    return moment.date(), symbol, outcome, reason


def _decision_rules(clean, errors):
    if clean.get("outcome") == DecisionCount.Outcome.REJECTED and not clean.get("reason"):
        errors.setdefault("reason", "required for a rejected decision")


HEALTH_FIELDS = {
    "ts": FieldSpec(to_utc_datetime, required=True),
    "kind": FieldSpec(choice(HealthEvent.Kind), required=True),
    "state": FieldSpec(choice(HealthEvent.State), default=""),
    "detail": FieldSpec(text(10_000), default=""),
    "running_release": FieldSpec(printable_text(100), default=""),
    # Of a heartbeat: the trading mode the bot applies (kept on its pulse, never stored).
    "trading": FieldSpec(choice(TradingMode), default=""),
}


def _health_rules(clean, errors):
    if clean.get("kind") == HealthEvent.Kind.STATE_CHANGE and not clean.get("state"):
        errors.setdefault("state", "required for a state_change event")
    heartbeat = clean.get("kind") == HealthEvent.Kind.HEARTBEAT
    if heartbeat and not clean.get("running_release"):
        errors.setdefault("running_release", "required for a heartbeat: the release tag it runs")
    if clean.get("running_release") and "kind" in clean and not heartbeat:
        errors.setdefault("running_release", "only a heartbeat reports the running release")
    if clean.get("trading") and "kind" in clean and not heartbeat:
        errors.setdefault("trading", "only a heartbeat reports the trading mode")
    # A heartbeat is kept on the bot's pulse, not stored: a state or detail on it would be lost.
    for field, instead in (("state", "a state_change"), ("detail", "another health event")):
        if heartbeat and clean.get(field):
            errors.setdefault(field, f"a heartbeat carries no {field}: send it as {instead}")


EQUITY_FIELDS = {
    "ts": FieldSpec(to_utc_datetime, required=True),
    "equity": FieldSpec(to_non_negative_decimal, required=True),
}


def _no_rules(clean, errors):
    pass


RULES = {
    IngestKind.TRADES: (TRADE_FIELDS, _trade_rules),
    IngestKind.FILLS: (FILL_FIELDS, _no_rules),
    IngestKind.HEALTH: (HEALTH_FIELDS, _health_rules),
    IngestKind.EQUITY: (EQUITY_FIELDS, _no_rules),
}


def latest_allowed_timestamp():
    """Records stamped later than this are refused: a bot clock that is off is itself a problem."""
    return datetime.now(UTC) + MAX_CLOCK_SKEW


def validate_record(kind, data, latest_allowed):
    """Return (clean values, errors by field) for one incoming record of `kind`."""
    if not isinstance(data, dict):
        return None, {"_record": f"expected a JSON object, got {type(data).__name__}"}
    if kind == IngestKind.DECISIONS:
        fields = DECISION_COUNT_FIELDS if "day" in data else DECISION_EVENT_FIELDS
        rules = _decision_rules
    else:
        fields, rules = RULES[kind]
    clean, errors = _clean_fields(data, fields, latest_allowed)
    rules(clean, errors)
    return clean, errors
