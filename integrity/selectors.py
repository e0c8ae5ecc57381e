"""Reads of the integrity app that other screens show."""

from django.utils import timezone

from integrity.models import IntegrityIncident
from tradeops.models import HealthEvent

Kind = IntegrityIncident.Kind


def stabilization_exit_criteria(window, now=None):
    """The plan's section 1 exit criteria for a freeze, from the data of the window (up to now
    while it runs): [{"criterion", "passed", "evidence"}]. An incident counts if it was open at
    any time in the window."""
    now = now or timezone.now()
    bot = window.bot
    end = min(now, window.effective_end)
    last_state = (
        HealthEvent.objects.filter(bot=bot, kind=HealthEvent.Kind.STATE_CHANGE, ts__lte=end)
        .order_by("-ts")
        .first()
    )
    seen = IntegrityIncident.objects.filter(
        bot=bot, last_seen_at__gte=window.starts_at, opened_at__lt=end
    )

    def no_incidents(criterion, *kinds):
        count = seen.filter(kind__in=kinds).count()
        return {
            "criterion": criterion,
            "passed": count == 0,
            "evidence": f"{count} incident(s) in the window",
        }

    return [
        {
            "criterion": "system NORMAL",
            "passed": last_state is None or last_state.state == HealthEvent.State.NORMAL,
            "evidence": "no state change reported"
            if last_state is None
            else f"{last_state.state} since {last_state.ts:%Y-%m-%d %H:%M} UTC",
        },
        no_incidents(
            "no malformed trade persistence",
            Kind.BLOCKED_MALFORMED_TRADE,
            Kind.MALFORMED_STORED_TRADE,
            Kind.TRADE_CONFLICT,
        ),
        no_incidents("no spike in unknown exit reasons", Kind.UNKNOWN_EXIT_RATE),
        no_incidents("no abnormal safety triggers", Kind.SAFETY_EVENTS),
    ]
