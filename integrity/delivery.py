"""Delivering at least once, for every kind of outgoing message (alerts, release pushes).

A message is a row (a `Delivery`: integrity.models) written in the caller's transaction; a worker
claims each due row with a conditional UPDATE, so two workers never send the same one twice,
sends it, and records the attempt (when, response code or error, how long) on the row. A failed
attempt is retried with exponential back-off until MAX_ATTEMPTS; each attempt is bounded by
SEND_TIMEOUT_SECONDS, so a slow or broken receiver costs only its own timeout.

The kinds differ only in how one attempt is sent: `send(row)` returns (response code or None,
error text or "" for success) and may raise, which counts as that attempt's error. The error is
a short reason ("HTTP 500 Internal Server Error", "refused: ..."), never what the receiver
answered: whoever reads the row must not learn what an internal service says.
"""

import datetime
import http
import time

from django.db import models
from django.db.models import Q
from django.utils import timezone

MAX_ATTEMPTS = 8
FIRST_RETRY = datetime.timedelta(minutes=1)
LONGEST_RETRY = datetime.timedelta(hours=1)
# A claim older than this belongs to a worker that died mid-send: the row is due again.
STALE_CLAIM = datetime.timedelta(minutes=5)
SEND_TIMEOUT_SECONDS = 5
# An attempt's error as kept in the row's attempt log (the last one is kept whole in `error`).
LOGGED_ERROR_CHARS = 300
# Whatever kept an attempt from an answer, said alike: a closed port, a reset, a timeout and a
# service that speaks another protocol must not be told apart (no port scanning by test sends).
NO_ANSWER = "no answer (connection refused, closed or timed out, or not the service expected)"
# What an attempt writes on its row: nothing else, so it never undoes a write made meanwhile
# (a test alert confirmed while it was being sent).
_ATTEMPT_FIELDS = [
    "attempts",
    "attempt_log",
    "response_code",
    "error",
    "status",
    "sent_at",
    "next_attempt_at",
]


def http_error(code):
    """A receiver's error answer as kept: its status, never its body."""
    try:
        return f"HTTP {code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed", "Failed (gave up)"
    # A newer message made this one moot before it got through (a later release change).
    SUPERSEDED = "superseded"


PENDING, SENDING, SENT, FAILED = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
)


def _due_now(now):
    """The row's own state that makes it due: pending and due, or claimed by a worker that
    died."""
    return Q(status=PENDING, next_attempt_at__lte=now) | Q(
        status=SENDING, claimed_at__lt=now - STALE_CLAIM
    )


def due(model, now):
    """`model`'s rows to send now: due, to a destination switched on (model.SWITCHED_ON)."""
    return model.objects.filter(_due_now(now), **{model.SWITCHED_ON: True})


def claim(row, now):
    """Take a due row for this worker; False if another worker already has it, or if its
    destination is switched off."""
    model = type(row)
    if not due(model, now).filter(pk=row.pk).exists():
        return False
    # The conditional UPDATE tests the row's own columns only: with a joined table in its
    # condition Django updates through a subquery, which PostgreSQL does not check again
    # against the row another worker has just claimed.
    return (
        model.objects.filter(_due_now(now), pk=row.pk).update(status=SENDING, claimed_at=now) == 1
    )


def backoff(attempts):
    """The wait after the `attempts`-th failed attempt: 1 min, doubling, at most 1 h."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def deliver(row, send, now=None):
    """Claim `row` and make one attempt with `send`. Returns the row as stored, attempted or, if
    another worker had it, as that worker left it."""
    now = now or timezone.now()
    if not claim(row, now):
        row.refresh_from_db()
        return row
    return _attempt(row, send, now)


def deliver_due(rows, send, now=None):
    """One attempt at each due row of the queryset `rows` this worker claims, oldest first;
    returns the rows attempted (not those another worker took meanwhile)."""
    now = now or timezone.now()
    due_rows = rows.filter(pk__in=due(rows.model, now).values("pk")).order_by("pk")
    return [_attempt(row, send, now) for row in due_rows if claim(row, now)]


def _attempt(row, send, now):
    """Send a claimed row once and record the attempt on it."""
    row.refresh_from_db()
    row.attempts += 1
    started, attempted_at = time.monotonic(), timezone.now()
    try:
        response_code, error = send(row)
    except Exception as exc:  # one receiver's failure is recorded, never raised into the others
        response_code, error = None, f"{type(exc).__name__}: {exc}"
    duration_ms = round((time.monotonic() - started) * 1000)
    row.attempt_log.append(
        {
            "at": attempted_at.isoformat(),
            "response_code": response_code,
            "error": error[:LOGGED_ERROR_CHARS],
            "duration_ms": duration_ms,
        }
    )
    row.response_code, row.error = response_code, error
    if not error:
        row.status, row.sent_at = SENT, timezone.now()
    elif row.attempts >= MAX_ATTEMPTS:
        row.status = FAILED
    else:
        row.status, row.next_attempt_at = PENDING, now + backoff(row.attempts)
    row.save(update_fields=_ATTEMPT_FIELDS)
    return row
