"""Turning request bodies and files into records, each with the exact text it arrived as.

Numbers are parsed as Decimal (never float), so money keeps every digit the bot sent. A record that
cannot be decoded (too deeply nested, an integer with thousands of digits) becomes a refused record
of its own; the rest of the batch goes on. Only a body that cannot be split into records at all is
refused whole.

Python's json module defines what a record decodes to. An NDJSON line is first read by msgspec's C
decoder (twice as fast on a trade), which is kept only where it gives what json gives.
"""

import csv
import io
import json
import re
from decimal import Decimal
from typing import NamedTuple

import msgspec

# Longer integers are out of every field's range; as Decimal they reach validation, which says so,
# instead of tripping Python's int-from-string digit limit inside the JSON scanner.
_LONGEST_INT = 40


def _parse_int(text):
    return int(text) if len(text) <= _LONGEST_INT else Decimal(text)


_decoder = json.JSONDecoder(parse_float=Decimal, parse_int=_parse_int)
# msgspec hands the float's text to the hook, as json hands it to parse_float: the same Decimal.
_fast_decode = msgspec.json.Decoder(float_hook=Decimal).decode
# Top-level values msgspec decodes as json does. Not lists or objects: their depth is json's to
# judge. Integers with fewer than 40 digits are int in both (_parse_int makes longer ones Decimal).
_FLAT_TYPES = frozenset({str, Decimal, bool, type(None)})
_INT_BOUND = 10 ** (_LONGEST_INT - 1)
_whitespace = re.compile(r"[ \t\n\r]*")
# Skipping one JSON value without decoding it: strings (with escapes) and structural characters.
_value_token = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.DOTALL)

JSON_CONTENT_TYPES = {"application/json", "text/json"}
NDJSON_CONTENT_TYPES = {"application/x-ndjson", "application/jsonl", "application/ndjson"}
CSV_CONTENT_TYPES = {"text/csv"}
ACCEPTED_CONTENT_TYPES = "application/json, application/x-ndjson or text/csv"


class UnparseableBody(ValueError):
    """The body as a whole cannot be read; it is quarantined whole."""


class UnsupportedContentType(ValueError):
    """Neither the Content-Type nor the content says what format the body is in (HTTP 415)."""


class TooManyRecords(ValueError):
    """The body holds more records than a batch may (HTTP 413): reading stops there."""

    def __init__(self, most):
        super().__init__(f"more than {most} records in one batch; send at most {most} per batch")
        self.most = most


def _check_count(records, most):
    if most is not None and len(records) > most:
        raise TooManyRecords(most)


class IncomingRecord(NamedTuple):
    index: int
    raw: str
    data: object = None
    parse_error: str | None = None


def decode_text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnparseableBody(f"body is not UTF-8: {exc}") from None


def _decode_value(text, pos):
    """(data, end, error): one JSON value at `pos`; a value too deep or too long to decode is
    skipped to its end and reported, so the records after it are still read."""
    try:
        data, end = _decoder.raw_decode(text, pos)
        return data, end, None
    except json.JSONDecodeError as exc:
        raise UnparseableBody(f"invalid JSON: {exc}") from None
    except RecursionError:
        error = "invalid JSON: nested too deeply to decode"
    except (ValueError, ArithmeticError) as exc:
        # An integer past Python's digit limit, an exponent past Decimal's (InvalidOperation).
        error = f"invalid JSON: {exc}"
    return None, _skip_value(text, pos), error


def _skip_value(text, pos):
    """The end of the JSON value starting at `pos`, found without recursion."""
    depth = 0
    for match in _value_token.finditer(text, pos):
        token = match.group()
        if token in "[{":
            depth += 1
        elif token in "]}":
            if depth == 0:
                return match.start()
            depth -= 1
            if depth == 0:
                return match.end()
        elif token == ",":
            if depth == 0:
                return match.start()
        elif depth == 0:
            return match.end()
    raise UnparseableBody("invalid JSON: unterminated value")


def _decode_record(text, pos, index):
    data, end, error = _decode_value(text, pos)
    return IncomingRecord(index, text[pos:end], data, error), end


def parse_json(text: str, most=None) -> list[IncomingRecord]:
    """A JSON array of records (or a single record object), each kept as its exact source text."""
    pos = _whitespace.match(text).end()
    if text.startswith("{", pos):
        record, pos = _decode_record(text, pos, 0)
        records = [record]
    elif not text.startswith("[", pos):
        raise UnparseableBody("expected a JSON array of records")
    else:
        records = []
        pos = _whitespace.match(text, pos + 1).end()
        if text.startswith("]", pos):
            pos += 1
        else:
            while True:
                record, pos = _decode_record(text, pos, len(records))
                records.append(record)
                _check_count(records, most)
                pos = _whitespace.match(text, pos).end()
                if text.startswith("]", pos):
                    pos += 1
                    break
                if not text.startswith(",", pos):
                    raise UnparseableBody(f"expected ',' or ']' at character {pos}")
                pos = _whitespace.match(text, pos + 1).end()
    if _whitespace.match(text, pos).end() != len(text):
        raise UnparseableBody(f"unexpected data after the JSON value at character {pos}")
    return records


def _fast_record(line):
    """msgspec's reading of one line where it is certain to equal json's: a flat object. None
    for anything else (not JSON, NaN, lone surrogates, nested values, long integers...)."""
    try:
        data = _fast_decode(line)
    except (ValueError, ArithmeticError, RecursionError):  # msgspec.DecodeError is a ValueError
        return None
    if type(data) is not dict:
        return None
    for value in data.values():
        if type(value) not in _FLAT_TYPES and not (
            type(value) is int and -_INT_BOUND < value < _INT_BOUND
        ):
            return None
    return data


def parse_ndjson(text: str, most=None) -> list[IncomingRecord]:
    """One JSON record per line; a line that is not JSON is its own refused record.

    Lines end at "\\n" (or "\\r\\n") only: U+2028, U+2029 and U+0085 are valid inside JSON strings.
    """
    records = []
    scan = _decoder.scan_once
    for line in text.split("\n"):
        _check_count(records, most)
        index = len(records)
        raw = line.removesuffix("\r")
        # JSON whitespace around a record is the blank " \t\r" the line is stripped of below.
        data = _fast_record(line)
        if data is not None:
            records.append(IncomingRecord(index, raw, data))
            continue
        stripped = line.strip(" \t\r")
        if not stripped:
            continue
        # The decoder's C scanner directly: this loop runs once per record on the hot path.
        try:
            data, end = scan(stripped, 0)
            if end == len(stripped):
                records.append(IncomingRecord(index, raw, data))
                continue
        except (StopIteration, ValueError, ArithmeticError, RecursionError):
            pass
        try:
            records.append(IncomingRecord(index, raw, _decoder.decode(stripped)))
        except RecursionError:
            error = "invalid JSON: nested too deeply to decode"
            records.append(IncomingRecord(index, raw, parse_error=error))
        except (ValueError, ArithmeticError) as exc:
            records.append(IncomingRecord(index, raw, parse_error=f"invalid JSON: {exc}"))
    _check_count(records, most)
    return records


def parse_csv(text: str, most=None) -> list[IncomingRecord]:
    """CSV with a header row; empty cells are absent values."""
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="_extra_values")
    try:
        if not reader.fieldnames:
            raise UnparseableBody("CSV has no header row")
        records = []
        for index, row in enumerate(reader):
            _check_count(records, most)
            raw = json.dumps(row)
            if None in row.values():
                error = "fewer values than header columns"
                records.append(IncomingRecord(index=index, raw=raw, parse_error=error))
                continue
            data = {key: value for key, value in row.items() if value != ""}
            records.append(IncomingRecord(index=index, raw=raw, data=data))
    except csv.Error as exc:
        raise UnparseableBody(f"invalid CSV: {exc}") from None
    _check_count(records, most)
    return records


def _format_of(text, content_type):
    """ "json", "ndjson" or "csv": JSON content is read as JSON whatever it was labelled, so a bot
    with a wrong Content-Type loses nothing; other content needs a label that says what it is."""
    start = _whitespace.match(text).end()
    first = text[start : start + 1]
    if first == "[":
        return "json"
    if content_type in NDJSON_CONTENT_TYPES:
        return "ndjson"
    if first == "{":
        # One object (possibly over several lines) is JSON; several objects are one per line.
        try:
            parse_json(text)
        except UnparseableBody:
            return "ndjson"
        return "json"
    if content_type in CSV_CONTENT_TYPES:
        return "csv"
    if content_type in JSON_CONTENT_TYPES or content_type.endswith("+json"):
        return "json"
    raise UnsupportedContentType(
        f"cannot read a {content_type or 'body without Content-Type'} that is not JSON; "
        f"send {ACCEPTED_CONTENT_TYPES}"
    )


PARSERS = {"json": parse_json, "ndjson": parse_ndjson, "csv": parse_csv}


def parse_text(text: str, content_type: str, most=None) -> list[IncomingRecord]:
    """The body's records; TooManyRecords as soon as there are more than `most`."""
    form = _format_of(text, content_type)
    try:
        records = PARSERS[form](text, most)
    except UnparseableBody:
        # Labelled NDJSON but starting like a JSON array: a first line that is an array.
        if form != "json" or content_type not in NDJSON_CONTENT_TYPES:
            raise
        records = parse_ndjson(text, most)
    if not records and text.strip() not in ("", "[]"):
        raise UnparseableBody("no records found in a non-empty body")
    return records


FILE_CONTENT_TYPES = {
    "csv": "text/csv",
    "ndjson": "application/x-ndjson",
    "jsonl": "application/x-ndjson",
    "json": "application/json",
}
