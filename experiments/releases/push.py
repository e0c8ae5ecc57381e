"""Release push: a bot that wants it is told every change of its current release at its own
webhook, besides pulling GET /api/v1/config (experiments.releases.pull; docs/design.md, "The loop
with the bot").

run_release queues the push in the change's own transaction (`queue_release_push`), so a change
is pushed if and only if it is committed; the push job sends it once that transaction commits,
and the same job, every minute, retries what failed. Sending goes through integrity.delivery,
like alerts: claimed by one worker only, every attempt recorded, retried with back-off.

Each attempt is a POST of JSON signed with the bot's secret: HMAC-SHA256 over the raw body, hex,
in X-TradeOps-Signature as "sha256=<hex>". The body carries the moment it was signed (also in
X-TradeOps-Timestamp), so a captured push cannot be replayed later; docs/bot-api.md ("Push") shows
the bot's side of the check.
"""

import hashlib
import hmac
import http.client
import json
import secrets
import time
import urllib.error
import urllib.request

from django.db import transaction
from django.utils import timezone

from integrity import delivery, outbound
from integrity.delivery import NO_ANSWER, SEND_TIMEOUT_SECONDS, DeliveryStatus, http_error
from integrity.models import ReleasePush, ReleaseWebhook
from tradeops.audit import person, record_audit
from tradeops.scheduling import enqueue

Event = ReleasePush.Event
PUSH_JOB = "experiments.jobs.push_release_changes"
SIGNATURE_HEADER = "X-TradeOps-Signature"
TIMESTAMP_HEADER = "X-TradeOps-Timestamp"


def new_secret():
    return f"whsec_{secrets.token_urlsafe(32)}"


def set_up_release_push(bot, *, url, by, is_active=True, now=None):
    """The bot's webhook, with a new secret; `by` a user or the name of a command. Returns
    (webhook, secret): the only time the secret is readable outside the database, so the caller
    shows it once."""
    now = now or timezone.now()
    secret = new_secret()
    with transaction.atomic():
        webhook = ReleaseWebhook(
            bot=bot,
            url=url,
            is_active=is_active,
            secret=secret,
            secret_issued_at=now,
            created_by=person(by),
        )
        webhook.full_clean()
        webhook.save()
        record_audit(webhook, "set up", actor=by, to_state=_state(webhook), at=now)
    return webhook, secret


def change_release_push(webhook, *, url, is_active, by, now=None):
    """A new URL or on/off; the secret stays (issue_push_secret replaces it)."""
    stored = ReleaseWebhook.objects.get(pk=webhook.pk)
    if (stored.url, stored.is_active) == (url, is_active):
        return stored
    before, url_changed = _state(stored), stored.url != url
    stored.url, stored.is_active = url, is_active
    stored.full_clean()
    with transaction.atomic():
        stored.save(update_fields=["url", "is_active"])
        record_audit(
            stored,
            "changed",
            actor=by,
            from_state=before,
            to_state=_state(stored),
            data={"url_changed": url_changed},
            at=now,
        )
    return stored


def issue_push_secret(webhook, *, by, now=None):
    """Replace the webhook's secret; returns the new one (shown once). Pushes signed from now on
    use it, retries of earlier ones included."""
    now = now or timezone.now()
    secret = new_secret()
    with transaction.atomic():
        ReleaseWebhook.objects.filter(pk=webhook.pk).update(secret=secret, secret_issued_at=now)
        record_audit(webhook, "new secret", actor=by, at=now)
    return secret


def _state(webhook):
    # The audit shows where pushes go without the URL's own secrets.
    return f"{'on' if webhook.is_active else 'off'}: {webhook.masked_url}"


def queue_release_push(change, now=None):
    """Called by run_release in its transaction: a push of `change` if the bot has an active
    webhook, sent once the change commits. Pushes of earlier changes not yet through are
    superseded: a retry arriving after the newer change must not put an older release back."""
    webhook = ReleaseWebhook.objects.filter(bot_id=change.bot_id, is_active=True).first()
    if webhook is None:
        return None
    now = now or timezone.now()
    webhook.pushes.filter(status=DeliveryStatus.PENDING, event=Event.RELEASE_CHANGE).update(
        status=DeliveryStatus.SUPERSEDED
    )
    push = ReleasePush.objects.create(
        webhook=webhook, change=change, event=Event.RELEASE_CHANGE, next_attempt_at=now
    )
    enqueue(PUSH_JOB)
    return push


def queue_trading_push(bot, now=None):
    """tradeops.signals.trading_mode_changed, in the change's transaction: a push of the bot's
    config with its new trading mode, if it has an active webhook and a config to push. An
    earlier mode's push not yet through is superseded (each push carries the mode as it is when
    sent, and its trading_version, so the bot never goes back to an older one)."""
    webhook = ReleaseWebhook.objects.filter(bot=bot, is_active=True).first()
    if webhook is None or bot.current_change_id is None:
        return None
    now = now or timezone.now()
    webhook.pushes.filter(status=DeliveryStatus.PENDING, event=Event.TRADING_CHANGE).update(
        status=DeliveryStatus.SUPERSEDED
    )
    push = ReleasePush.objects.create(
        webhook=webhook,
        change_id=bot.current_change_id,
        event=Event.TRADING_CHANGE,
        next_attempt_at=now,
    )
    enqueue(PUSH_JOB)
    return push


def trading_mode_changed(sender, *, bot, now, **kwargs):
    """The tradeops.signals.trading_mode_changed receiver (connected in experiments.apps)."""
    queue_trading_push(bot, now)


def send_test_push(webhook, *, user=None, now=None):
    """A push marked as a test, carrying the config the bot should run now, delivered at once
    (and retried like any push): proof the bot hears pushes. A switched-off webhook is sent
    nothing (ValueError)."""
    if not webhook.is_active:
        raise ValueError("the release push is switched off")
    now = now or timezone.now()
    push = ReleasePush.objects.create(
        webhook=webhook,
        change_id=webhook.bot.current_change_id,
        event=Event.TEST,
        next_attempt_at=now,
        requested_by=user,
    )
    return delivery.deliver(push, _send, now)


def deliver_due_pushes(now=None):
    return delivery.deliver_due(
        ReleasePush.objects.select_related("webhook__bot__shadow_of", "change__release"),
        _send,
        now,
    )


def push_body(push, timestamp):
    """The raw body of one attempt: what GET /api/v1/config answered right after the change (the
    bot's own serializer, Bot.running_config), its change id, and the moment it is signed. The
    trading mode in it is the bot's when the attempt is sent: a retry never carries an older
    one than a push sent before it."""
    bot, change = push.webhook.bot, push.change
    config = None
    if change is not None:
        # The config as this change left it, also when the bot has moved on since.
        bot.current_release, bot.current_change = change.release, change
        config = bot.running_config()
    body = {
        "event": push.event,
        "push_id": push.pk,
        "change_id": push.change_id,
        "timestamp": timestamp,
        "config": config,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def signature(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirected push is an error to fix, not to follow (a POST would turn into a GET)."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _send(push):
    """One attempt: (response code, error text or "" for a 2xx), under the outbound policy."""
    # The bot checks the timestamp against its own clock: the real time of sending, whatever
    # clock queued the push.
    timestamp = int(time.time())
    body = push_body(push, timestamp)
    request = urllib.request.Request(
        push.webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "TradeOps-push",
            "X-TradeOps-Event": push.event,
            "X-TradeOps-Push": str(push.pk),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(push.webhook.secret, body),
        },
    )
    with outbound.guard() as refused:
        try:
            with _opener.open(request, timeout=SEND_TIMEOUT_SECONDS) as response:
                return response.status, ""
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code, http_error(exc.code)
        except (OSError, http.client.HTTPException):
            # URLError, a reset, a timeout or a non-HTTP answer: all one to whoever reads it.
            return None, f"refused: {refused[0]}" if refused else NO_ANSWER
