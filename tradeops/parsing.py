"""Turning request bodies and files into records, each with the exact text it arrived as.

Numbers are parsed as Decimal (never float), so money keeps every digit the bot sent.
"""

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

_decoder = json.JSONDecoder(parse_float=Decimal)
_whitespace = re.compile(r"[ \t\n\r]*")

NDJSON_CONTENT_TYPES = {"application/x-ndjson", "application/jsonl", "application/ndjson"}


class UnparseableBody(ValueError):
    """The body as a whole cannot be read; it is quarantined whole."""


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


def parse_json(text: str) -> list[IncomingRecord]:
    """A JSON array of records (or a single record object), each kept as its exact source text."""
    pos = _whitespace.match(text).end()
    if text.startswith("{", pos):
        return [_decode_one(text, pos, 0)[0]]
    if not text.startswith("[", pos):
        raise UnparseableBody("expected a JSON array of records")
    records = []
    pos = _whitespace.match(text, pos + 1).end()
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            record, pos = _decode_one(text, pos, len(records))
            records.append(record)
            pos = _whitespace.match(text, pos).end()
            if text.startswith("]", pos):
                pos += 1
                break
            if not text.startswith(",", pos):
                raise UnparseableBody(f"expected ',' or ']' at character {pos}")
            pos = _whitespace.match(text, pos + 1).end()
    if _whitespace.match(text, pos).end() != len(text):
        raise UnparseableBody(f"unexpected data after the JSON array at character {pos}")
    return records


def _decode_one(text, pos, index):
    try:
        data, end = _decoder.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise UnparseableBody(f"invalid JSON: {exc}") from None
    return IncomingRecord(index=index, raw=text[pos:end], data=data), end


def parse_ndjson(text: str) -> list[IncomingRecord]:
    """One JSON record per line; a line that is not JSON is its own refused record."""
    records = []
    scan = _decoder.scan_once
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        index = len(records)
        # The decoder's C scanner directly: this loop runs once per record on the hot path.
        try:
            data, end = scan(stripped, 0)
            if end == len(stripped):
                records.append(IncomingRecord(index, line, data))
                continue
        except (StopIteration, json.JSONDecodeError):
            pass
        try:
            records.append(IncomingRecord(index, line, _decoder.decode(stripped)))
        except json.JSONDecodeError as exc:
            records.append(IncomingRecord(index, line, parse_error=f"invalid JSON: {exc}"))
    return records


def parse_csv(text: str) -> list[IncomingRecord]:
    """CSV with a header row; empty cells are absent values."""
    reader = csv.DictReader(io.StringIO(text), restkey="_extra_values")
    if not reader.fieldnames:
        raise UnparseableBody("CSV has no header row")
    records = []
    for index, row in enumerate(reader):
        raw = json.dumps(row)
        if None in row.values():
            records.append(
                IncomingRecord(index=index, raw=raw, parse_error="fewer values than header columns")
            )
            continue
        data = {key: value for key, value in row.items() if value != ""}
        records.append(IncomingRecord(index=index, raw=raw, data=data))
    return records


def parse_body(body: bytes, content_type: str) -> list[IncomingRecord]:
    text = decode_text(body)
    if content_type in NDJSON_CONTENT_TYPES:
        return parse_ndjson(text)
    if content_type == "text/csv":
        return parse_csv(text)
    return parse_json(text)


def parse_file(path) -> list[IncomingRecord]:
    suffix = str(path).lower().rsplit(".", 1)[-1]
    text = decode_text(Path(path).read_bytes())
    if suffix == "csv":
        return parse_csv(text)
    if suffix in ("ndjson", "jsonl"):
        return parse_ndjson(text)
    if suffix == "json":
        return parse_json(text)
    raise ValueError(f"{path}: unsupported file type; use .ndjson, .jsonl, .json or .csv")
