"""Alerting: which channel hears about which incident, and delivering it at least once.

Creating an alert only writes AlertDelivery rows (in the caller's transaction). The dispatcher
(`deliver_due_alerts`, a job every minute) sends each due row through integrity.delivery: claimed
with a conditional UPDATE, so two workers never send the same alert twice, every attempt
recorded, a failed one retried with exponential back-off; a slow or broken channel costs only its
own timeout and never stops the others.
"""

import datetime
import logging
import re
from dataclasses import dataclass

import apprise
from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from integrity import delivery, outbound
from integrity.delivery import NO_ANSWER, SEND_TIMEOUT_SECONDS, http_error
from integrity.models import AlertChannel, AlertDelivery, IntegrityIncident
from tradeops.audit import person, record_audit

logger = logging.getLogger(__name__)

Event = AlertDelivery.Event
Kind = IntegrityIncident.Kind
Confirmation = AlertDelivery.Confirmation

# The paths the plan requires to be tested and confirmed firing.
CRITICAL_PATHS = [Kind.BLOCKED_MALFORMED_TRADE, Kind.UNKNOWN_EXIT_RATE, Kind.MISSED_SCHEDULE]
# A test alert's confirmation link works this long after it is sent.
CONFIRM_WITHIN = datetime.timedelta(days=7)
_CONFIRM_SALT = "integrity.alerts.confirm-test-alert"


def _incident_message(incident, event):
    prefix = {Event.RESOLVED: "RESOLVED", Event.REPEAT: "STILL OPEN"}.get(event, "")
    severity = incident.severity.upper()
    title = f"[{severity}]{' ' + prefix if prefix else ''} {incident.bot.slug}: {incident.title}"
    link = settings.TRADEOPS_BASE_URL.rstrip("/") + reverse(
        "admin:integrity_integrityincident_change", args=[incident.pk]
    )
    body = (
        f"{incident.title}\n"
        f"Bot: {incident.bot.slug}\nSeverity: {incident.severity}\nStatus: {incident.status}\n"
        f"Opened: {incident.opened_at:%Y-%m-%d %H:%M:%S} UTC, occurrences: {incident.occurrences}\n"
        f"{link}"
    )
    return title, body


def queue_incident_alerts(incident, event):
    """One delivery per active channel that takes this incident (opened/resolved: once only)."""
    title, body = _incident_message(incident, event)
    now = timezone.now()
    created = []
    for channel in AlertChannel.objects.filter(is_active=True):
        if not channel.accepts(incident):
            continue
        try:
            with transaction.atomic():
                created.append(
                    AlertDelivery.objects.create(
                        channel=channel,
                        incident=incident,
                        event=event,
                        path=incident.kind,
                        title=title,
                        body=body,
                        next_attempt_at=now,
                    )
                )
        except IntegrityError:
            pass  # this channel already has this notice: de-duplicated
    return created


def queue_repeats(now=None):
    """Repeat notices for incidents still open (not acknowledged), per channel interval."""
    now = now or timezone.now()
    created = []
    open_incidents = IntegrityIncident.objects.filter(status=IntegrityIncident.Status.OPEN)
    for channel in AlertChannel.objects.filter(is_active=True, repeat_minutes__gt=0):
        last_notice = dict(
            channel.deliveries.filter(
                incident__status=IntegrityIncident.Status.OPEN,
                event__in=[Event.OPENED, Event.REPEAT],
            )
            .values_list("incident")
            .annotate(last=Max("created_at"))
        )
        due_before = now - datetime.timedelta(minutes=channel.repeat_minutes)
        for incident in open_incidents.select_related("bot"):
            last = last_notice.get(incident.pk)
            if last is None or last > due_before or not channel.accepts(incident):
                continue
            title, body = _incident_message(incident, Event.REPEAT)
            created.append(
                AlertDelivery.objects.create(
                    channel=channel,
                    incident=incident,
                    event=Event.REPEAT,
                    path=incident.kind,
                    title=title,
                    body=body,
                    next_attempt_at=now,
                )
            )
    return created


def send_test_alerts(channel, *, user=None):
    """A test alert down each critical path, delivered now. It proves the path fires once it is
    confirmed as received: by the recipient opening the link it carries, or, for a webhook
    receiver, by its 2xx answer. A switched-off channel is sent nothing (ValueError)."""
    if not channel.is_active:
        raise ValueError(f"{channel} is switched off")
    now = timezone.now()
    deliveries = [
        AlertDelivery.objects.create(
            channel=channel,
            event=Event.TEST,
            path=path,
            title=f"[TEST] TradeOps alert path: {path.label}",
            body=f"Test of the '{path.label}' alert path to {channel.name}, requested by "
            f"{user or 'TradeOps'} at {now:%Y-%m-%d %H:%M:%S} UTC. No action needed.",
            next_attempt_at=now,
            requested_by=user,
        )
        for path in CRITICAL_PATHS
    ]
    return [deliver(test) for test in deliveries]


def deliver(alert, now=None):
    """Claim and send one alert delivery; record the attempt. Returns it as stored."""
    return _confirm_answered([delivery.deliver(alert, _send_alert, now)])[0]


def deliver_due_alerts(now=None):
    return _confirm_answered(
        delivery.deliver_due(AlertDelivery.objects.select_related("channel"), _send_alert, now)
    )


def confirmation_url(alert):
    """The link a test alert carries: signed, so only who received the alert has it (it is
    added when sending, never stored with the alert's text that the admin shows)."""
    token = signing.dumps(alert.pk, salt=_CONFIRM_SALT)
    path = reverse("admin:integrity_alertdelivery_confirm", args=[token])
    return settings.TRADEOPS_BASE_URL.rstrip("/") + path


def test_alert_confirmed_by(token):
    """The test alert a confirmation link names; ValueError for a link altered or expired."""
    try:
        pk = signing.loads(token, salt=_CONFIRM_SALT, max_age=CONFIRM_WITHIN)
        return AlertDelivery.objects.tests().select_related("channel").get(pk=pk)
    except (signing.BadSignature, AlertDelivery.DoesNotExist):
        raise ValueError("This confirmation link is not valid, or has expired.") from None


def confirm_test_alert(alert, *, by, now=None):
    """Whoever opened the link of `alert` says it arrived: the path counts as tested from now.
    Once only: False if it was already confirmed."""
    now = now or timezone.now()
    with transaction.atomic():
        confirmed = (
            AlertDelivery.objects.tests()
            .filter(pk=alert.pk, confirmed_at__isnull=True)
            .update(confirmed_at=now, confirmed_via=Confirmation.LINK, confirmed_by=person(by))
        )
        if confirmed:
            record_audit(alert, "confirmed received", actor=by, at=now)
    alert.refresh_from_db()
    return bool(confirmed)


def _confirm_answered(alerts):
    """A test alert a webhook receiver took with a 2xx is confirmed by that answer."""
    for alert in alerts:
        if (
            alert.event == Event.TEST
            and alert.status == AlertDelivery.Status.SENT
            and alert.confirmed_at is None
            and alert.channel.answers
        ):
            AlertDelivery.objects.filter(pk=alert.pk, confirmed_at__isnull=True).update(
                confirmed_at=alert.sent_at, confirmed_via=Confirmation.ANSWER
            )
            alert.refresh_from_db()
    return alerts


def _send_alert(alert):
    body = alert.body
    if alert.event == Event.TEST:
        body += (
            "\n\nDid this reach you? The path counts as tested once you confirm it here "
            f"(open the link, then press Confirm): {confirmation_url(alert)}"
        )
    return send_message(alert.channel, alert.title, body)


def send_to_channel(message):
    """(response code or None, error text or '') for one attempt of a message with a `channel`,
    a `title` and a `body` (another app's message to the alert channels, e.g. a digest)."""
    return send_message(message.channel, message.title, message.body)


_HTTP_CODE = re.compile(r"error=(\d{3})")


def send_message(channel, title, body):
    """One attempt to `channel`, under the outbound policy. The error says why it failed in a
    few words, never what the receiver answered."""
    if channel.kind == AlertChannel.Kind.EMAIL:
        recipients = [address.strip() for address in channel.target.split(",") if address.strip()]
        send_mail(title, body, None, recipients)
        return None, ""
    scheme = channel.target.partition("://")[0].lower()
    if scheme in outbound.LOCAL_SCHEMES:
        return None, f"refused: {scheme}:// delivers on the TradeOps machine, not to a person"
    with outbound.guard() as refused:
        # Redirects are not followed (each connection is checked anyway).
        sender = apprise.Apprise(asset=apprise.AppriseAsset(http_redirects=False))
        added = sender.add(_with_timeouts(channel.target))
        result = sender.notify(body=body, title=title) if added else None
    if refused:
        return None, f"refused: {refused[0]}"
    if not added:
        return None, f"not a valid Apprise URL: {scheme}://…"
    if result:
        return 200, ""
    code = _HTTP_CODE.search("\n".join(str(entry) for entry in result.logs()))
    return (int(code.group(1)), http_error(int(code.group(1)))) if code else (None, NO_ANSWER)


def _with_timeouts(url):
    """Bound each attempt: Apprise's cto/rto URL arguments (connect and read timeout)."""
    joiner = "&" if "?" in url else "?"
    extra = [f"{arg}={SEND_TIMEOUT_SECONDS}" for arg in ("cto", "rto") if f"{arg}=" not in url]
    return url + (joiner + "&".join(extra) if extra else "")


@dataclass(frozen=True)
class FiringPath:
    """A critical path's latest confirmed test: when, and on which channel."""

    at: datetime.datetime
    channel: str

    def __str__(self):
        return f"{self.channel} {self.at:%Y-%m-%d %H:%M} UTC"


def firing_paths(bot=None, *, as_of=None):
    """For each critical path: its latest test alert confirmed as received (up to `as_of`) on an
    active channel that covers `bot` (None: any channel), a FiringPath. Missing paths have None."""
    if bot is not None:
        return firing_paths_of([bot], as_of=as_of)[bot.pk]
    return _latest_per_path(_confirmed_tests(as_of or timezone.now()))


def firing_paths_of(bots, *, as_of=None):
    """firing_paths of each bot, by pk, read in one query (a list's page of bots)."""
    tests = _confirmed_tests(as_of or timezone.now())
    return {bot.pk: _latest_per_path(tests, covering={None, bot.pk}) for bot in bots}


def _confirmed_tests(as_of):
    """[(the channel's bot id, None for a channel of every bot; path; FiringPath)]."""
    rows = (
        AlertDelivery.objects.confirmed_tests()
        .filter(channel__is_active=True, confirmed_at__lte=as_of)
        .values_list("channel__bot", "channel__name", "path")
        .annotate(last=Max("confirmed_at"))
    )
    return [(bot, path, FiringPath(last, name)) for bot, name, path, last in rows]


def _latest_per_path(tests, covering=None):
    return {
        path: max(
            (
                firing
                for channel_bot, tested, firing in tests
                if tested == path and (covering is None or channel_bot in covering)
            ),
            key=lambda firing: firing.at,
            default=None,
        )
        for path in CRITICAL_PATHS
    }
