"""The hot path for trades: a trade written the common way (numbers as plain decimal strings or
JSON numbers within the stored scale, ISO timestamps, storable text) is cleaned here, about twice
as fast as the table-driven validate_record (and as the per-field Python that was here before).

msgspec checks the record's shape in C: no field but TRADE_FIELDS', the required ones present,
text as strings no longer than their column, the side and status among their choices. What is
left to Python is done for the whole record at once where it can be: one regex over all its
decimal strings, one look at all its text for what PostgreSQL cannot store.

It accepts only what validate_record accepts and gives the very same clean values, in the same
order; for anything else (a missing or unusual value, any error) it returns None and
validate_record judges the record and words its errors. tests/test_trade_fast_path.py holds the
two to that.
"""

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from ingestion.fields import _PLAIN_DECIMAL, FieldError, _parse_utc_timestamp
from ingestion.records import TRADE_FIELDS, pnl_adds_up
from tradeops.models import DECIMAL_PLACES, MAX_DIGITS, Trade

_DEFAULT_LEVERAGE = TRADE_FIELDS["leverage"].default
_CLOSED = Trade.Status.CLOSED.value


def _text(max_length):
    # A value longer before strip() than its column may fit after it: validate_record judges it.
    return Annotated[str, msgspec.Meta(max_length=max_length)]


class _Trade(msgspec.Struct, forbid_unknown_fields=True):
    """A trade's shape. Numbers are Any: msgspec would read a decimal string's "1_000" or " 0.5",
    which validate_record refuses or strips, so their text is checked below."""

    external_id: _text(128)
    symbol: _text(32)
    side: Literal[tuple(Trade.Side.values)]
    status: Literal[tuple(Trade.Status.values)]
    opened_at: str
    qty: Any
    entry_price: Any
    closed_at: str | None = None
    exit_price: Any = None
    leverage: Any = None
    gross_pnl: Any = None
    fees: Any = None
    funding: Any = None
    net_pnl: Any = None
    exit_reason: _text(100) | None = None
    release: _text(100) | None = None
    est_fees: Any = None
    est_funding: Any = None
    est_slippage_bps: Any = None


_WHOLE_DIGITS = MAX_DIGITS - DECIMAL_PLACES
# fields._PLAIN_DECIMAL, possessive (it never needs to backtrack, and twice as fast so), for
# plain decimals joined by commas.
_PLAIN = rf"-?+[0-9]{{1,{_WHOLE_DIGITS}}}+(?:\.[0-9]{{1,{DECIMAL_PLACES}}}+)?+"
_plain_decimals = re.compile(rf"{_PLAIN}(?:,{_PLAIN})*+").fullmatch


class _Unusual(Exception):
    """A value the hot path leaves to validate_record."""


def _decimals(numbers):
    """The numbers as to_decimal keeps them, None where absent; _Unusual for any it would change
    or refuse."""
    texts = [number for number in numbers if number is not None]
    try:
        joined = ",".join(texts)
    except TypeError:
        # Not all decimal strings: JSON numbers, or values validate_record refuses.
        return [_decimal(number) for number in numbers]
    # Decimal strings: one regex over them joined by commas, which no plain decimal holds.
    if joined.count(",") != len(texts) - 1 or not _plain_decimals(joined):
        raise _Unusual
    if len(texts) == len(numbers):
        return list(map(Decimal, texts))
    decimals = map(Decimal, texts)
    return [None if number is None else next(decimals) for number in numbers]


def _decimal(value):
    if type(value) is str:
        if _PLAIN_DECIMAL.fullmatch(value):
            return Decimal(value)
    elif type(value) is Decimal:
        # As to_decimal keeps a JSON number: finite, in range, within the stored scale.
        if (
            value.is_finite()
            and value.as_tuple().exponent >= -DECIMAL_PLACES
            and (not value or value.adjusted() < _WHOLE_DIGITS)
        ):
            return value
    elif type(value) is int and -(10**_WHOLE_DIGITS) < value < 10**_WHOLE_DIGITS:
        return Decimal(value)
    elif value is None:
        return None
    raise _Unusual


def _storable(texts):
    """What text() refuses after strip(): a NUL character or a lone surrogate, in any of them."""
    joined = "".join(texts)
    if "\x00" in joined:
        return False
    if not joined.isascii():
        try:
            joined.encode()
        except UnicodeEncodeError:
            return False
    return True


def clean_trade(data, latest_allowed):
    """validate_record's clean values for a trade written the common way; None for any other."""
    if type(data) is not dict:
        return None
    try:
        trade = msgspec.convert(data, _Trade)
    except (msgspec.ValidationError, UnicodeEncodeError):  # the latter: a field name "\ud800"
        return None
    exit_reason, release = trade.exit_reason or "", trade.release or ""
    if not _storable((trade.external_id, trade.symbol, exit_reason, release)):
        return None
    external_id, symbol = trade.external_id.strip(), trade.symbol.strip()
    if not external_id or not symbol:
        return None
    try:
        opened_at = _parse_utc_timestamp(trade.opened_at)
        closed_at = None if trade.closed_at is None else _parse_utc_timestamp(trade.closed_at)
        qty, entry, exit_, leverage, gross, fees, funding, net, *estimates = _decimals(
            (
                trade.qty,
                trade.entry_price,
                trade.exit_price,
                trade.leverage,
                trade.gross_pnl,
                trade.fees,
                trade.funding,
                trade.net_pnl,
                trade.est_fees,
                trade.est_funding,
                trade.est_slippage_bps,
            )
        )
    except (FieldError, _Unusual):
        return None
    # _trade_rules, for the records it passes. `is None`, not `None in`: Decimal == None asks
    # numbers.Rational, slowly.
    has_pnl = not (gross is None or fees is None or funding is None or net is None)
    if trade.status == _CLOSED:
        if closed_at is None or exit_ is None or not has_pnl or closed_at < opened_at:
            return None
    elif closed_at is not None or exit_ is not None:
        return None
    if opened_at > latest_allowed or (closed_at is not None and closed_at > latest_allowed):
        return None
    if qty is None or entry is None or qty <= 0 or entry <= 0:
        return None
    if (exit_ is not None and exit_ <= 0) or (leverage is not None and leverage <= 0):
        return None
    if has_pnl and not pnl_adds_up(gross, fees, funding, net):
        return None
    return {
        "external_id": external_id,
        "symbol": symbol,
        "side": trade.side,
        "status": trade.status,
        "opened_at": opened_at,
        "closed_at": closed_at,
        "qty": qty,
        "entry_price": entry,
        "exit_price": exit_,
        "leverage": _DEFAULT_LEVERAGE if leverage is None else leverage,
        "gross_pnl": gross,
        "fees": fees,
        "funding": funding,
        "net_pnl": net,
        "exit_reason": exit_reason.strip(),
        "release": release.strip(),
        "est_fees": estimates[0],
        "est_funding": estimates[1],
        "est_slippage_bps": estimates[2],
    }
