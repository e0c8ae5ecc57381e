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

import apprise
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from integrity import delivery
from integrity.delivery import SEND_TIMEOUT_SECONDS
from integrity.models import AlertChannel, AlertDelivery, IntegrityIncident

logger = logging.getLogger(__name__)

Event = AlertDelivery.Event
Kind = IntegrityIncident.Kind

# The paths the plan requires to be tested and confirmed firing.
CRITICAL_PATHS = [Kind.BLOCKED_MALFORMED_TRADE, Kind.UNKNOWN_EXIT_RATE, Kind.MISSED_SCHEDULE]


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
    """A test alert down each critical path, delivered now: proof the path fires."""
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
    return delivery.deliver(alert, send_to_channel, now)


def deliver_due_alerts(now=None):
    return delivery.deliver_due(
        AlertDelivery.objects.select_related("channel"), send_to_channel, now
    )


_HTTP_CODE = re.compile(r"error=(\d{3})")


def send_to_channel(alert):
    """(response code or None, error text or '') for one attempt of a message with a `channel`,
    a `title` and a `body` (an alert, or another app's message to the same channels)."""
    channel = alert.channel
    if channel.kind == AlertChannel.Kind.EMAIL:
        recipients = [address.strip() for address in channel.target.split(",") if address.strip()]
        send_mail(alert.title, alert.body, None, recipients)
        return None, ""
    sender = apprise.Apprise()
    if not sender.add(_with_timeouts(channel.target)):
        return None, f"not a valid Apprise URL: {channel.target.split('://')[0]}://…"
    result = sender.notify(body=alert.body, title=alert.title)
    if result:
        return 200, ""
    logs = "\n".join(str(entry) for entry in result.logs())
    code = _HTTP_CODE.search(logs)
    return (int(code.group(1)) if code else None), (logs or "delivery failed")[-2000:]


def _with_timeouts(url):
    """Bound each attempt: Apprise's cto/rto URL arguments (connect and read timeout)."""
    joiner = "&" if "?" in url else "?"
    extra = [f"{arg}={SEND_TIMEOUT_SECONDS}" for arg in ("cto", "rto") if f"{arg}=" not in url]
    return url + (joiner + "&".join(extra) if extra else "")


def firing_paths(bot=None, *, as_of=None):
    """For each critical path: when a test alert last got through (up to `as_of`) on an active
    channel that covers `bot` (None: any channel). Missing paths have None."""
    if bot is not None:
        return firing_paths_of([bot], as_of=as_of)[bot.pk]
    return _latest_per_path(_tests_through(as_of or timezone.now()))


def firing_paths_of(bots, *, as_of=None):
    """firing_paths of each bot, by pk, read in one query (a list's page of bots)."""
    tests = _tests_through(as_of or timezone.now())
    return {bot.pk: _latest_per_path(tests, covering={None, bot.pk}) for bot in bots}


def _tests_through(as_of):
    """{(the channel's bot id, None for a channel of every bot; path): last got through}."""
    rows = (
        AlertDelivery.objects.tests_through()
        .filter(channel__is_active=True, sent_at__lte=as_of)
        .values_list("channel__bot", "path")
        .annotate(last=Max("sent_at"))
    )
    return {(channel_bot, path): last for channel_bot, path, last in rows}


def _latest_per_path(tests, covering=None):
    return {
        path: max(
            (
                sent
                for (channel_bot, tested), sent in tests.items()
                if tested == path and (covering is None or channel_bot in covering)
            ),
            default=None,
        )
        for path in CRITICAL_PATHS
    }
