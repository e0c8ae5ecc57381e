"""The bot-facing ingestion API: POST /api/v1/ingest/<kind> with a bearer token.

A bot can rely on the status: 200 means every record is accounted for in the counts (stored,
unchanged or quarantined); 400/401/411/413/415 mean nothing was stored and sending the same body
again will not help; 429 and 503 mean "retry later" (see Retry-After). No valid batch gets a 5xx
other than 503.
"""

import functools
import logging
import zlib

from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ingestion.heartbeats import TooManyHeartbeats
from ingestion.parsing import TooManyRecords, UnparseableBody, UnsupportedContentType
from ingestion.quarantine import quarantine_unparseable_body
from ingestion.services import (
    BatchLimits,
    client_throttled_for,
    ingest_body,
    record_failed_token,
)
from tradeops.clients import client_address
from tradeops.models import IngestBatch
from tradeops.services import authenticate_bot_token
from tradeops.signals import batch_received

logger = logging.getLogger(__name__)

BEARER = "bearer "
DATABASE_RETRY_AFTER_SECONDS = 5
GZIP_FIRST_SLICE = 256
GZIP_LARGEST_SLICE = 256 * 1024


class BodyRefused(Exception):
    def __init__(self, status, error):
        super().__init__(error)
        self.status = status


def error_response(status, message, retry_after=None, **extra):
    response = JsonResponse({"error": message, **extra}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def database_unavailable_is_503(view):
    """The database cannot take the batch now: the bot is told to retry, in JSON."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except DatabaseError:
            # Down, restarting, out of connections, or still contended after the retries.
            logger.exception("ingestion: database unavailable")
            return error_response(
                503,
                "database unavailable or busy; nothing was stored, retry later",
                retry_after=DATABASE_RETRY_AFTER_SECONDS,
            )

    return wrapped


def bot_token_required(view):
    """The bot's bearer token, checked as for every bot API call. A valid token is always let in,
    whoever else shares the sender's address (a proxy, a NAT); a missing, wrong or revoked one is
    counted against the address (401), and an address that sent too many waits (429). The view
    gets the bot as `request.bot`."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        request.bot = authenticate_bot_token(_bearer_token(request))
        if request.bot is None:
            client = client_address(request)
            retry_after = client_throttled_for(client)
            if retry_after:
                return error_response(
                    429, "too many invalid API tokens from this address", retry_after
                )
            record_failed_token(client)
            return error_response(401, "missing, invalid or revoked API token")
        return view(request, *args, **kwargs)

    return wrapped


def _bearer_token(request):
    header = request.headers.get("Authorization", "")
    if header[: len(BEARER)].lower() != BEARER:
        return None
    return header[len(BEARER) :].strip()


def _read_body(request, limit):
    """The whole body, whatever its framing, up to `limit` bytes (decompressed, if gzip).

    Without a Content-Length (Transfer-Encoding: chunked), Django reads nothing; the stream is read
    to its end instead where the server marks it as terminated (gunicorn does), and refused with 411
    where it cannot be (so a body is never taken for empty).
    """
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared and not declared.isdigit():
        raise BodyRefused(400, "invalid Content-Length")
    if declared and int(declared) > limit:
        raise _too_large(limit)
    terminated = request.META.get("wsgi.input_terminated")
    if not declared and not terminated:
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            raise BodyRefused(411, "send the body with a Content-Length header")
        return b""
    try:
        if declared:
            body = _read_up_to(request, int(declared))
        else:
            body = _read_up_to(request.META["wsgi.input"], limit + 1)
    except Exception as exc:  # the server's own framing errors (bad chunk sizes, early close...)
        raise BodyRefused(400, f"could not read the body: {exc}") from None
    # A body cut short (the connection dropped) is not taken for a complete, smaller batch.
    if declared and len(body) != int(declared):
        raise BodyRefused(400, f"body ended after {len(body)} of {declared} bytes; send it again")
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _read_up_to(stream, most):
    """Up to `most` bytes, to the end of the stream: a server may return fewer bytes per read."""
    parts, size = [], 0
    while size < most:
        part = stream.read(min(64 * 1024, most - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _decoded(body, encoding, limit):
    """The body inflated per its Content-Encoding; one that does not inflate is unparseable.

    Several gzip members one after another are one body (RFC 1952), each read to its end. A
    member is fed in slices that double from GZIP_FIRST_SLICE, so what zlib copies past a
    member's end is at most about the member's own size: linear in the body however many members
    it has (a body of half a million empty members is read in well under a second).
    """
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BodyRefused(415, f"unsupported Content-Encoding {encoding!r}; send gzip or none")
    view = memoryview(body)
    parts, size, start = [], 0, 0
    while start < len(body):
        inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
        end, step = start, GZIP_FIRST_SLICE
        while not inflater.eof:
            if end >= len(body):
                raise UnparseableBody(f"{encoding} body is cut short")
            piece = view[end : end + step]
            end, step = end + len(piece), min(2 * step, GZIP_LARGEST_SLICE)
            try:
                part = inflater.decompress(piece, limit + 1 - size)
            except zlib.error as exc:
                raise UnparseableBody(f"body is not valid {encoding}: {exc}") from None
            size += len(part)
            if size > limit:
                raise _too_large(limit)
            if part:
                parts.append(part)
        start = end - len(inflater.unused_data)
    return b"".join(parts)


def _too_large(limit):
    return BodyRefused(413, f"body larger than {limit} bytes; send the records in smaller batches")


@csrf_exempt
@require_POST
@database_unavailable_is_503
@bot_token_required
def ingest(request, kind):
    bot = request.bot
    limit = settings.INGEST_MAX_BODY_BYTES
    source = f"api:{client_address(request)}"
    try:
        body = _read_body(request, limit)
        if not body:
            return error_response(400, "empty body; send a JSON array, NDJSON or CSV of records")
        try:
            body = _decoded(body, request.headers.get("Content-Encoding", ""), limit)
        except UnparseableBody as exc:
            quarantine_unparseable_body(bot, kind, body, str(exc), source=source)
            raise
        result = ingest_body(
            bot,
            kind,
            body,
            content_type=request.content_type,
            source=source,
            limits=BatchLimits.from_settings(),
        )
    except BodyRefused as refused:
        return error_response(refused.status, str(refused))
    except TooManyRecords as exc:
        return error_response(413, str(exc), max_records=exc.most)
    except TooManyHeartbeats as exc:
        return error_response(429, str(exc), exc.retry_after)
    except UnsupportedContentType as exc:
        return error_response(415, str(exc))
    except UnparseableBody as exc:
        return error_response(400, f"unparseable body: {exc}", quarantined=1)
    batch_received.send(sender=IngestBatch, bot=bot)
    return JsonResponse(result.as_dict())
