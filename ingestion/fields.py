"""One incoming value each: the converters that clean a record's field, or word what is wrong
with it (FieldError), for the tables of ingestion.records. Exact decimals at the stored scale,
aware UTC timestamps, text PostgreSQL can store."""

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from functools import lru_cache

from tradeops.models import DECIMAL_PLACES, MAX_DIGITS

# A day's decision count: a million a second all day is under 10^11. The bound leaves raw events
# added to a pre-counted row (DecisionCount.count is a PostgreSQL bigint) far from overflowing.
MAX_COUNT = 10**12

_QUANTUM = Decimal(1).scaleb(-DECIMAL_PLACES)
_MAX_ABS = Decimal(10) ** (MAX_DIGITS - DECIMAL_PLACES)
# Enough digits to round any in-range number to the stored scale exactly, half to even.
_STORED = Context(prec=MAX_DIGITS + 2, rounding=ROUND_HALF_EVEN)


class FieldError(ValueError):
    pass


# At most 18 whole digits and DECIMAL_PLACES places: stored as written, nothing to check.
_WHOLE_DIGITS = MAX_DIGITS - DECIMAL_PLACES
_PLAIN_DECIMAL = re.compile(rf"-?[0-9]{{1,{_WHOLE_DIGITS}}}(?:\.[0-9]{{1,{DECIMAL_PLACES}}})?")


def to_decimal(value):
    """A finite number within the column's range, rounded half-even to DECIMAL_PLACES places.

    Bots serialise floats (0.1 + 0.2 is 0.30000000000000004), as JSON numbers or as strings, so
    digits past the stored scale are rounded, not refused; the batch keeps the raw text.
    """
    if type(value) is str and _PLAIN_DECIMAL.fullmatch(value):
        # The common case, on the hot path: in range and within the stored scale as written.
        return Decimal(value)
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise FieldError(f"expected a number or a decimal string, got {_shown(value)}")
    if isinstance(value, str):
        value = value.strip()
        # Decimal() also reads "1_000" and non-ASCII digits; a bot's decimal string is plain.
        if not value.isascii() or "_" in value:
            raise FieldError(f"not a decimal number: {_shown(value)}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise FieldError(f"not a decimal number: {_shown(value)}") from None
    if not number.is_finite():
        raise FieldError(f"not a finite number: {_shown(value)}")
    # Checked before rounding (so quantize cannot overflow its context) and after (rounding may
    # carry 999...9.9999999999999 up to the next power of ten).
    _check_range(number, value)
    if number.as_tuple().exponent < -DECIMAL_PLACES:
        number = number.quantize(_QUANTUM, context=_STORED)
        _check_range(number, value)
    return number


def _check_range(number, value):
    if number and number.adjusted() >= MAX_DIGITS - DECIMAL_PLACES:
        raise FieldError(f"too large: {_shown(value)}")


def _shown(value, limit=60):
    """A value for an error message, cut short: a refused value may be megabytes long."""
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[:limit]}… ({len(shown)} characters)"


def to_positive_decimal(value):
    number = to_decimal(value)
    if number <= 0:
        raise FieldError(f"must be greater than 0, got {_shown(value)}")
    return number


def to_non_negative_decimal(value):
    number = to_decimal(value)
    if number < 0:
        raise FieldError(f"must not be negative, got {_shown(value)}")
    return number


def to_utc_datetime(value):
    if not isinstance(value, str):
        raise FieldError(f"expected an ISO 8601 timestamp string, got {_shown(value)}")
    return _parse_utc_timestamp(value)


# Bots stamp many records with the same candle time, so parsing is cached. Whether a timestamp is
# in the future is checked per batch in _clean_fields, against one reading of the clock.
@lru_cache(maxsize=16384)
def _parse_utc_timestamp(value):
    try:
        if not value.isascii() or not value.isprintable():
            raise ValueError
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FieldError(f"not an ISO 8601 timestamp: {_shown(value)}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FieldError(f"no UTC offset (naive timestamps are refused): {_shown(value)}")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise FieldError(f"timestamp is out of range in UTC: {_shown(value)}") from None


def to_date(value):
    if not isinstance(value, str):
        raise FieldError(f"expected a YYYY-MM-DD date string, got {_shown(value)}")
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise FieldError(f"not a YYYY-MM-DD date: {_shown(value)}") from None


def to_count(value):
    whole_decimal = (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.adjusted() < 20
        and value == value.to_integral_value()
    )
    digits = (
        isinstance(value, str)
        and value.strip().isascii()
        and value.strip().isdigit()
        and len(value.strip()) < 20
    )
    if isinstance(value, int) and not isinstance(value, bool) or whole_decimal or digits:
        number = int(value)
    else:
        number = -1
    if not 0 <= number <= MAX_COUNT:
        raise FieldError(f"expected a whole number from 0 to {MAX_COUNT}, got {_shown(value)}")
    return number


def text(max_length):
    def convert(value):
        if not isinstance(value, str):
            raise FieldError(f"expected a string, got {_shown(value)}")
        value = value.strip()
        if len(value) > max_length:
            raise FieldError(f"longer than {max_length} characters")
        return storable_or_error(value)

    return convert


def required_text(max_length):
    base = text(max_length)

    def convert(value):
        value = base(value)
        if not value:
            raise FieldError("must not be empty")
        return value

    return convert


def printable_text(max_length):
    """Text shown as it is in titles and alert subjects (a release tag a bot reports): control
    and direction characters (U+202E reverses what follows it) would show it as something else."""
    base = text(max_length)

    def convert(value):
        value = base(value)
        if not value.isprintable():
            raise FieldError("must be printable text: no control or direction characters")
        return value

    return convert


def choice(choices_class):
    allowed = list(choices_class.values)

    def convert(value):
        if value not in allowed:
            raise FieldError(f"must be one of {', '.join(allowed)}, got {_shown(value)}")
        return value

    return convert


def storable_or_error(value):
    """PostgreSQL text holds neither NUL characters nor lone surrogates (a JSON "\\ud800")."""
    if "\x00" in value:
        raise FieldError("contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise FieldError("contains an unpaired surrogate (invalid Unicode)") from None
    return value
