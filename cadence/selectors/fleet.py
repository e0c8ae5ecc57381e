"""The command center's reads: the fleet's cards, those needing attention first, each bot's
glance, gate reasons and shadow line. Everything a page of bots shows is read for all of them at
once: a fixed number of queries for one bot or five hundred (bench/home.py)."""

import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Exists, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from cadence.models import DailyReview
from cadence.selectors.reviews import (
    DAY,
    UTC,
    UnknownExits,
    missed_review,
    review_due,
    review_overdue,
    unknown_exits,
)
from experiments.models import LIVE, Experiment
from integrity.models import IntegrityCheckRun, IntegrityIncident
from integrity.selectors import INTEGRITY_GATE_DAYS, integrity_gates
from kpis.queries import (
    closes_per_bot_day,
    day_start,
    exit_reasons_per_bot,
    utc_day,
)
from tradeops.models import Bot, HealthEvent

_LONG_AGO = datetime.datetime(2000, 1, 1, tzinfo=UTC)
# Cards per page of the command center: a fleet of 500 is ten pages, those needing attention first.
CARDS_PER_PAGE = 50


def _state_changes(until):
    return HealthEvent.objects.filter(
        bot=OuterRef("pk"), kind=HealthEvent.Kind.STATE_CHANGE, ts__lte=until
    )


def _glance(now):
    """What the fleet's order and the cards both read per bot: its health state now, its last
    daily review, whether yesterday's was signed off and whether a critical incident is open."""
    reviews = DailyReview.objects.filter(bot=OuterRef("pk")).order_by("-day")
    return {
        "health_state": Subquery(_state_changes(now).order_by("-ts", "-id").values("state")[:1]),
        "last_review_day": Subquery(reviews.values("day")[:1]),
        "yesterday_signed_off": Exists(reviews.filter(day=utc_day(now) - DAY)),
        "critical_open": Exists(
            IntegrityIncident.objects.filter(
                bot=OuterRef("pk"), severity=IntegrityIncident.Severity.CRITICAL
            ).exclude(status=IntegrityIncident.Status.RESOLVED)
        ),
    }


def needs_attention(bot, now):
    """A person should look at this bot first: HALT or DEGRADED, stopped (by a person or the
    circuit breaker: only a Team lead resumes it), a critical incident open, or a daily review
    overdue or missed."""
    return (
        bot.health_state in (HealthEvent.State.HALT, HealthEvent.State.DEGRADED)
        or bot.is_stopped
        or bot.critical_open
        or review_overdue(bot, now)
        or missed_review(bot, now, bot.yesterday_signed_off) is not None
    )


def fleet_by_attention(now):
    """Every active bot, read lightly in one query, those needing attention first (HALT, then
    DEGRADED, then any other reason), then by slug: the order the command center pages by."""
    bots = (
        Bot.objects.live()
        .filter(is_active=True)
        .only("slug", "daily_review_due_hour", "created_at", "trading_mode")
        .annotate(**_glance(now))
    )
    states = {HealthEvent.State.HALT: 0, HealthEvent.State.DEGRADED: 1}
    for bot in bots:
        bot.needs_attention = needs_attention(bot, now)
    return sorted(
        bots,
        key=lambda bot: (states.get(bot.health_state, 2 if bot.needs_attention else 3), bot.slug),
    )


def cadence_bots(now, bots=None):
    """Active live bots (or `bots`' pks), each with its current health state and since when, its
    last daily review, and its shadow (what it runs, its pulse), in one query."""
    changes = _state_changes(now)
    reviews = DailyReview.objects.filter(bot=OuterRef("pk")).order_by("-day")
    queryset = (
        Bot.objects.live().filter(is_active=True)
        if bots is None
        else Bot.objects.filter(pk__in=bots)
    )
    return list(
        queryset.select_related(
            "current_release",
            "trigger_headroom",
            "shadow__current_release",
            "shadow__pulse",
        )
        .annotate(
            **_glance(now),
            last_review_at=Subquery(reviews.values("signed_off_at")[:1]),
            last_review_by=Subquery(reviews.values("signed_off_by__username")[:1]),
        )
        # Since: the first report of the current state after the last report of another one.
        .annotate(
            other_state_at=Coalesce(
                Subquery(
                    changes.exclude(state=OuterRef("health_state"))
                    .order_by("-ts", "-id")
                    .values("ts")[:1]
                ),
                _LONG_AGO,
            )
        )
        .annotate(
            health_since=Subquery(
                changes.filter(ts__gt=OuterRef("other_state_at"))
                .order_by("ts", "id")
                .values("ts")[:1]
            )
        )
        .order_by("slug")
    )


def gate_reasons(bots, now):
    """{bot id: why the integrity gate's last INTEGRITY_GATE_DAYS full UTC days are not all
    clean, in words ("no integrity check run on 12-05, 12-06; violations on 12-04")}, for the
    bots with such a day, in one query: the days integrity.selectors counts as clean."""
    today = utc_day(now)
    days = [today - datetime.timedelta(days=n) for n in range(INTEGRITY_GATE_DAYS, 0, -1)]
    worst = {
        (bot, day): violations
        for bot, day, violations in IntegrityCheckRun.objects.filter(
            bot__in=bots, started_at__gte=day_start(days[0]), started_at__lt=day_start(today)
        )
        .annotate(day=TruncDate("started_at", tzinfo=UTC))
        .values_list("bot", "day")
        .annotate(worst=Max("violations"))
        .order_by()
    }
    reasons = {}
    for bot in bots:
        unchecked = [f"{d:%m-%d}" for d in days if (bot.pk, d) not in worst]
        violated = [f"{d:%m-%d}" for d in days if worst.get((bot.pk, d))]
        words = [
            *([f"no integrity check run on {', '.join(unchecked)}"] if unchecked else []),
            *([f"violations on {', '.join(violated)}"] if violated else []),
        ]
        if words:
            reasons[bot.pk] = "; ".join(words)
    return reasons


@dataclass
class ShadowLine:
    """A live bot's shadow, as a line of the live bot's card: dry-run, never money."""

    bot: Bot
    closes_today: int

    @property
    def runs(self):
        return self.bot.current_release

    @property
    def heartbeat_at(self):
        pulse = getattr(self.bot, "pulse", None)
        return pulse.last_heartbeat_at if pulse else None


@dataclass
class Card:
    """One bot on the command center."""

    bot: Bot
    live: Experiment | None
    closes: dict  # "today"/"yesterday": (closes, net P&L)
    unknown: UnknownExits
    incidents: dict  # severity: open or acknowledged incidents
    gate: object
    gate_reason: str | None  # why the gate's days are not all clean, in words
    checklist: object
    review_due: str  # "signed off", "due by 10:00 UTC" or "overdue since 10:00 UTC"
    missed_day: datetime.date | None  # yesterday, if its review was never signed off
    headroom: list = field(default_factory=list)
    shadow: ShadowLine | None = None

    @property
    def breaker_used(self):
        """How much of the circuit breaker's threshold today's loss has used, 0 to 1 (a gain
        uses none): the card's meter."""
        reading, limit = self.bot.breaker_reading_pct, self.bot.breaker_pct
        if reading is None or reading >= 0:
            return 0
        return min(float(reading / limit), 1.0)

    @property
    def live_day(self):
        """(day N, of the horizon) of the live experiment."""
        if self.live is None or self.live.started_at is None:
            return None
        return (utc_day(self.now) - utc_day(self.live.started_at)).days + 1

    now: datetime.datetime = None


def command_center(now=None, bots=None):
    """The cards of the active bots (or `bots`), in a fixed number of queries."""
    from cadence.checklist import checklists

    now = now or timezone.now()
    bots = cadence_bots(now, bots)
    today = utc_day(now)
    shadows = {bot.pk: shadow for bot in bots if (shadow := getattr(bot, "shadow", None))}
    # The shadows' closes come with the live bots' (one query), each counted for its own bot.
    closes = closes_per_bot_day([*bots, *shadows.values()], today - DAY, today)
    reasons = exit_reasons_per_bot(bots, now - DAY, now)
    live = {
        exp.bot_id: exp
        for exp in Experiment.objects.filter(bot__in=bots, status__in=LIVE)
        .select_related("candidate_release")
        .order_by("started_at")
    }
    incidents = {}
    for bot_id, severity, n in (
        IntegrityIncident.objects.filter(bot__in=bots)
        .exclude(status=IntegrityIncident.Status.RESOLVED)
        .values_list("bot", "severity")
        .annotate(n=Count("id"))
        .order_by()
    ):
        incidents.setdefault(bot_id, {})[severity] = n
    gates = integrity_gates(bots, now)
    unclean = gate_reasons(bots, now)
    lists = checklists(bots, now, gates)
    cards = []
    for bot in bots:
        headroom = getattr(bot, "trigger_headroom", None)
        cards.append(
            Card(
                bot=bot,
                live=live.get(bot.pk),
                closes={
                    "today": closes.get((bot.pk, today), (0, None)),
                    "yesterday": closes.get((bot.pk, today - DAY), (0, None)),
                },
                unknown=unknown_exits(bot, reasons.get(bot.pk, {}), now),
                incidents=incidents.get(bot.pk, {}),
                gate=gates[bot.pk],
                gate_reason=unclean.get(bot.pk),
                checklist=lists[bot.pk],
                review_due=review_due(bot, now),
                missed_day=missed_review(bot, now, bot.yesterday_signed_off),
                headroom=headroom,
                shadow=ShadowLine(shadow, closes.get((shadow.pk, today), (0, None))[0])
                if (shadow := shadows.get(bot.pk))
                else None,
                now=now,
            )
        )
    return cards


# The daily review: the plan's five items for one bot and one UTC day.
