"""The intraday circuit breaker: every minute, for each active live bot, today's equity change
(UTC day) against the bot's threshold (`Bot.breaker_pct`, default -3%), and the bot's safety
instability today. It acts before the daily rollback triggers, which stay as they are.

It trips on
- **equity:** today's change is the threshold or worse (`<=`: exactly -3.00% trips). Today's
  change is the equity now against the equity at 00:00 UTC, both read by kpis.queries.equity_at
  (the last equity snapshot, or the starting equity plus the P&L closed before): as the daily
  rollback trigger reads a day;
- **HALT:** the bot entered HALT today (HealthEvent.instability);
- **repeated safety events:** more kill-switch, degraded or safety-trigger events and entries
  into DEGRADED or HALT today than the bot's `safety_events_per_day` (the integrity check's rule,
  over the UTC day).

A trip sets the bot to stop_entries (unless it is already stopped further) through
tradeops.services.set_trading_mode, as "circuit breaker", and opens a critical incident naming
the figure, which alerts. Each cause trips once a UTC day (the incident's key is the day and the
cause), the equity once per step of the threshold the loss reaches (-3%, -6%, -9%...): the
breaker never resumes a bot, and once a Team lead has resumed it after a trip, it stops it again
only on a new cause or a loss one step deeper. A trip while the bot is already stopped opens its
incident all the same, saying so. The mode is read with the bot's row held, so a resume or a
stop at the same moment is seen. Shadows are not watched: they trade no money and
follow their live bot's mode.

Each run also keeps the bot's reading (`Bot.breaker_reading_pct`, `breaker_read_at`) for the
command center's card, which shows it with its headroom.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from integrity.models import IntegrityIncident
from integrity.services import open_or_bump_incident
from kpis.queries import day_start, equity_at, utc_day
from tradeops.models import Bot, HealthEvent, TradingMode
from tradeops.scheduling import recorded_job
from tradeops.services import set_trading_mode

logger = logging.getLogger(__name__)
BREAKER_ACTOR = "circuit breaker"
CHECK_CIRCUIT_BREAKERS = "integrity.circuit_breakers"
Kind = IntegrityIncident.Kind


def todays_change(bot, now):
    """(today's equity change in %, the equity at 00:00 UTC, the equity now), or None when the
    account size is unknown."""
    opening = equity_at(bot, day_start(utc_day(now)))
    current = equity_at(bot, now)
    if not opening or current is None:
        return None
    return (current - opening) / opening * 100, opening, current


def trips(bot, now, change):
    """[(cause, title, detail)] of what trips the breaker now."""
    found = []
    if change is not None and change[0] <= bot.breaker_pct:
        pct, opening, current = change
        found.append(
            (
                "equity",
                f"Circuit breaker: {bot.slug} equity {pct:.2f}% today ({opening:.2f} → "
                f"{current:.2f}), at or past its {bot.breaker_pct}% threshold",
                {"change_pct": f"{pct:.4f}", "opening": str(opening), "now": str(current)},
            )
        )
    events = HealthEvent.instability(bot, day_start(utc_day(now)), now)
    halt = next((event for event in events if event.is_halt_entry), None)
    if halt is not None:
        found.append(
            (
                "halt",
                f"Circuit breaker: {bot.slug} entered HALT at {halt.ts:%H:%M:%S} UTC",
                {"halt_at": halt.ts.isoformat()},
            )
        )
    if len(events) > bot.safety_events_per_day:
        found.append(
            (
                "safety_events",
                f"Circuit breaker: {bot.slug} had {len(events)} kill/degraded/safety events today "
                f"(threshold {bot.safety_events_per_day})",
                {"events": [f"{event.ts:%H:%M:%S} {event.kind} {event.state}" for event in events]},
            )
        )
    return found


def trip_key(day, cause, change_pct, threshold):
    """The incident key of a trip: once a UTC day per cause, and for the equity once per step
    of the threshold the loss reaches (-3%, then -6%, -9%...), so a bot a Team lead resumed
    after a trip is stopped again if the loss deepens by another step."""
    if cause != "equity":
        return f"{day.isoformat()}:{cause}"
    return f"{day.isoformat()}:equity:{int(change_pct / threshold)}"


def check_bot(bot, now):
    """Read the bot's breaker (kept on `bot`, which the run stores) and trip it for each cause
    not yet tripped at this step today; returns [(bot, cause)] tripped now."""
    change = todays_change(bot, now)
    bot.breaker_reading_pct = change[0].quantize(Decimal("0.0001")) if change else None
    bot.breaker_read_at = now
    tripped = []
    for cause, title, detail in trips(bot, now, change):
        key = trip_key(utc_day(now), cause, change and change[0], bot.breaker_pct)
        if IntegrityIncident.objects.filter(bot=bot, kind=Kind.CIRCUIT_BREAKER, key=key).exists():
            continue  # tripped at this step today already: resumed since, it stays so
        with transaction.atomic():
            # The mode as it is now, the row held: a resume or a stop meanwhile is seen.
            mode = Bot.objects.select_for_update().values_list("trading_mode", flat=True)
            if mode.get(pk=bot.pk) == TradingMode.TRADE:
                # Its row changes; this object keeps the reading the run stores with the others.
                set_trading_mode(
                    bot, TradingMode.STOP_ENTRIES, by=BREAKER_ACTOR, note=title, now=now
                )
                said = f"{title}: entries stopped"
            else:
                said = f"{title}: entries were already stopped"
            open_or_bump_incident(
                bot=bot,
                kind=Kind.CIRCUIT_BREAKER,
                key=key,
                severity=IntegrityIncident.Severity.CRITICAL,
                title=said,
                detail={**detail, "cause": cause, "threshold_pct": str(bot.breaker_pct)},
            )
        tripped.append((bot, cause))
    return tripped


def check_circuit_breakers(now=None):
    """Every active live bot's breaker; returns [(bot, cause)] tripped by this run."""
    now = now or timezone.now()
    checked, tripped, failed = [], [], []
    for bot in Bot.objects.live().filter(is_active=True).order_by("pk"):
        # One bot's failure must not leave the others unwatched this minute.
        try:
            tripped_now = check_bot(bot, now)
        except Exception:
            logger.exception("circuit breaker of %s", bot.slug)
            failed.append(bot.slug)
            continue
        checked.append(bot)
        tripped += tripped_now
    Bot.objects.bulk_update(checked, ["breaker_reading_pct", "breaker_read_at"])
    if failed:
        raise RuntimeError(f"circuit breaker failed for {', '.join(failed)} (logged)")
    return tripped


@recorded_job(CHECK_CIRCUIT_BREAKERS)
def check_circuit_breakers_job(now):
    """The intraday circuit breaker, every minute on the minute queue."""
    return {"tripped": [f"{bot.slug}:{cause}" for bot, cause in check_circuit_breakers(now)]}
