"""The loop with the bot, watched (docs/design.md, "The loop with the bot"): every minute, for each
active bot that has a current release, three critical incidents kept in step with what the bot
says.

- **Config drift:** its last heartbeat reports another release than its current one, and has
  for longer than the bot's grace (`Bot.drift_grace_minutes`, default 5) counted from the later
  of the change of current release and the first heartbeat reporting the release it runs (a
  bot that swaps to a wrong release on its own gets the same grace). Resolved when a heartbeat
  reports the current release. A bot that never sent a heartbeat reports nothing to drift from.
- **Bot silent:** no heartbeat and no batch of records for `Bot.silent_after_minutes` (default
  15), counted from when the bot was created if it never spoke. Resolved when it speaks again.
- **Bot ignores stop:** the bot was told to stop (`Bot.trading_mode` stop_entries or exit_all)
  longer than `Bot.stop_grace_minutes` ago (default 3), and its last heartbeat still reports a
  less strict mode, or none (a bot that does not say it stopped is taken as trading), or it has
  not sent one since. Resolved when a heartbeat reports the mode (or a stricter one), or when a
  Team lead resumes trading.

Opened through the integrity services (open_or_bump_incident, so they alert), refreshed while
they last, resolved (with a resolved notice) at the first run that no longer finds them.
"""

import datetime
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from integrity.checks import Finding
from integrity.models import IntegrityIncident
from integrity.services import record_finding, resolve_incident
from tradeops.models import Bot, IngestBatch

Kind = IntegrityIncident.Kind
LOOP_KINDS = (Kind.CONFIG_DRIFT, Kind.BOT_SILENT, Kind.BOT_IGNORES_STOP)
MINUTE = datetime.timedelta(minutes=1)


@dataclass(frozen=True)
class Drift:
    """The bot's last heartbeat reports another release than its current one: what it runs, what
    it should, since when, and when the drift becomes an incident (after the bot's grace)."""

    running: str
    expected: str
    since: datetime.datetime
    last_heartbeat_at: datetime.datetime
    grace: datetime.timedelta

    @property
    def incident_after(self):
        return self.since + self.grace

    def is_incident(self, now):
        return now - self.since > self.grace


def drift(bot):
    """The bot's drift, or None when its last heartbeat reports its current release (or it sent
    none, or has no current release). The one rule the watch and the bot's page read."""
    pulse = getattr(bot, "pulse", None)
    if pulse is None or bot.current_release is None:
        return None
    expected = bot.current_release.tag
    if pulse.running_release == expected:
        return None
    changed_at = bot.current_change.at if bot.current_change else pulse.running_since
    return Drift(
        running=pulse.running_release,
        expected=expected,
        since=max(changed_at, pulse.running_since),
        last_heartbeat_at=pulse.last_heartbeat_at,
        grace=bot.drift_grace_minutes * MINUTE,
    )


def config_drift(bot, now):
    found = drift(bot)
    if found is None or not found.is_incident(now):
        return None
    minutes = int((now - found.since) / MINUTE)
    return Finding(
        Kind.CONFIG_DRIFT,
        IntegrityIncident.Severity.CRITICAL,
        f"{bot.slug} runs {found.running}, not its current release {found.expected}, "
        f"for {minutes} min (grace {bot.drift_grace_minutes} min)",
        1,
        {
            "running_release": found.running,
            "current_release": found.expected,
            "since": found.since.isoformat(),
            "last_heartbeat_at": found.last_heartbeat_at.isoformat(),
        },
    )


def bot_silent(bot, now):
    pulse = getattr(bot, "pulse", None)
    heard = [
        moment
        for moment in (pulse and pulse.last_heartbeat_at, bot.last_batch_at, bot.created_at)
        if moment
    ]
    last = max(heard)
    if now - last <= bot.silent_after_minutes * MINUTE:
        return None
    return Finding(
        Kind.BOT_SILENT,
        IntegrityIncident.Severity.CRITICAL,
        f"{bot.slug} silent for {int((now - last) / MINUTE)} min: no heartbeat or record "
        f"(limit {bot.silent_after_minutes} min)",
        1,
        {
            "last_heartbeat_at": pulse.last_heartbeat_at.isoformat() if pulse else None,
            "last_batch_at": bot.last_batch_at.isoformat() if bot.last_batch_at else None,
        },
    )


def bot_ignores_stop(bot, now):
    if not bot.is_stopped:
        return None
    pulse = getattr(bot, "pulse", None)
    reported = pulse.trading if pulse else ""
    if bot.applies_mode(reported):
        return None
    if now - bot.trading_changed_at <= bot.stop_grace_minutes * MINUTE:
        return None
    minutes = int((now - bot.trading_changed_at) / MINUTE)
    heard = (
        f"reports {reported or 'no trading mode'} (heartbeat {pulse.last_heartbeat_at:%H:%M} UTC)"
        if pulse
        else "has sent no heartbeat"
    )
    return Finding(
        Kind.BOT_IGNORES_STOP,
        IntegrityIncident.Severity.CRITICAL,
        f"Bot ignores stop: {bot.slug} was set to {bot.trading_mode} {minutes} min ago and still "
        f"{heard} (grace {bot.stop_grace_minutes} min)",
        1,
        {
            "trading_mode": bot.trading_mode,
            "reported": reported,
            "since": bot.trading_changed_at.isoformat(),
            "by": bot.trading_changed_by,
            "last_heartbeat_at": pulse.last_heartbeat_at.isoformat() if pulse else None,
        },
    )


def watched_bots():
    """Active bots with a current release, each with its pulse, its current release and change,
    and when its last batch came (one index probe each): one query for the fleet."""
    last_batch = IngestBatch.objects.filter(bot=OuterRef("pk")).order_by("-received_at")
    return (
        Bot.objects.filter(is_active=True, current_release__isnull=False)
        .select_related("pulse", "current_release", "current_change")
        .annotate(last_batch_at=Subquery(last_batch.values("received_at")[:1]))
    )


def watch_bot_loop(now=None):
    """Open, refresh or resolve the drift, silence and stop incidents of every bot; returns the
    findings as [(bot, finding)]. An incident of a bot no longer watched (deactivated, or with no
    current release) is resolved too."""
    now = now or timezone.now()
    found = []
    for bot in watched_bots():
        for finding in (config_drift(bot, now), bot_silent(bot, now), bot_ignores_stop(bot, now)):
            if finding is not None:
                record_finding(bot, finding)
                found.append((bot, finding))
    still = {(bot.pk, finding.kind) for bot, finding in found}
    unresolved = IntegrityIncident.objects.filter(kind__in=LOOP_KINDS).exclude(
        status=IntegrityIncident.Status.RESOLVED
    )
    for incident in unresolved:
        if (incident.bot_id, incident.kind) not in still:
            resolve_incident(incident)
    return found
