"""What the command center and the daily review show, read from the data. Reads never write.

Everything a page of bots shows is read for all of them at once: a fixed number of queries for
one bot or five hundred (the command center's benchmark: bench/home.py).

The fleet is the live bots: a shadow (Bot.shadow_of) trades no money, so it is no card to review
and no daily review is due for it; it shows as a line in its live bot's card."""

import datetime
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Count, Exists, Max, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils import timezone

from cadence.models import DailyReview
from experiments.models import LIVE, Experiment
from integrity.models import IntegrityCheckRun, IntegrityIncident
from integrity.selectors import INTEGRITY_GATE_DAYS, integrity_gates
from kpis.queries import (
    Window,
    closes_per_bot_day,
    daily_decisions,
    day_start,
    exit_reasons_per_bot,
    utc_day,
)
from tradeops.models import Bot, HealthEvent, Trade

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
# The rejection reasons the daily review follows: the 30-day baseline's most frequent ones.
TRENDED_REJECTIONS = 3
TREND_DAYS = 7
BASELINE_DAYS = 30
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


def closes_url(bot, since, until, unknown=False):
    """The Trades list of `bot`'s closes in (since, until], the window a figure counts (only
    those with an unknown exit reason if `unknown`): the drill-down of that figure."""
    query = {"bot__id__exact": bot.pk, "status__exact": "closed"}
    if unknown:
        query["exit_reason"] = "(unknown)"  # tradeops.admin_lists.ExitReasonFilter.UNKNOWN
    query |= {"closed_at__gt": since.isoformat(), "closed_at__lte": until.isoformat()}
    return f"{reverse('admin:tradeops_trade_changelist')}?{urlencode(query)}"


@dataclass
class UnknownExits:
    """The unknown-exit check of the last 24 h: `until` - 24 h to `until`."""

    unknown: int
    closes: int
    bot: object
    until: datetime.datetime = None

    @property
    def url(self):
        """The trades this line counts: the unknown exits of the same 24 h."""
        return closes_url(self.bot, self.until - DAY, self.until, unknown=True)

    @property
    def threshold(self):
        return self.bot.unknown_exit_alert_share  # a Decimal share

    @property
    def share(self):
        return self.unknown / self.closes if self.closes else 0.0

    @property
    def above_threshold(self):
        return self.bot.unknown_exits_alarm(self.unknown, self.closes)

    def __str__(self):
        if not self.closes:
            return "no closes in the last 24 h"
        return (
            f"{self.unknown} of {self.closes} closes in the last 24 h ({self.share:.1%}; "
            f"alert above {self.threshold:.0%})"
        )


def unknown_exits(bot, reasons, until=None):
    """UnknownExits from {exit reason: closes} of `bot` (exit_reasons_per_bot) in the 24 h to
    `until`."""
    unknown = sum(n for reason, n in reasons.items() if Trade.is_unknown_exit(bot, reason))
    return UnknownExits(unknown, sum(reasons.values()), bot, until)


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


def past_review_hour(bot, now):
    return now.hour >= bot.daily_review_due_hour


def review_overdue(bot, now):
    """Today's daily review is not signed off and the bot's review hour has passed."""
    return bot.last_review_day != utc_day(now) and past_review_hour(bot, now)


def review_deadline(bot, now):
    """Of a daily review not signed off today: due by, or overdue since, the bot's hour."""
    hour = f"{bot.daily_review_due_hour:02d}:00 UTC"
    return f"overdue since {hour}" if past_review_hour(bot, now) else f"due by {hour}"


def review_due(bot, now):
    """Whether today's daily review is signed off, due, or overdue (past the bot's hour)."""
    if bot.last_review_day == utc_day(now):
        return "signed off"
    return review_deadline(bot, now)


def missed_review(bot, now, yesterday_signed_off):
    """Yesterday, if its review was due while the bot existed and was never signed off: past
    midnight today's review is only "due", and a missed day must not drop out of sight (the
    digest goes out before the review's hour by default)."""
    yesterday = utc_day(now) - DAY
    due = day_start(yesterday) + datetime.timedelta(hours=bot.daily_review_due_hour)
    if yesterday_signed_off or bot.created_at > due:
        return None
    return yesterday


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


def review_period(bot, day, now):
    """(since, until) of the day's review (review_window)."""
    return review_window(bot, day, now)[:2]


def review_window(bot, day, now):
    """(since, until) of the day's review: from the end of the last review before this day (or
    24 h before its own end) to its sign-off, or while it is not signed off to now. A review is
    done during its day and covers what happened since the one before; it never reaches past its
    day, so one signed off late (the next morning) keeps what it showed, and the next day's
    review starts where it ended. Third: the day of the sign-off it starts from, or None when it
    covers the 24 h to its end (no earlier review, or none ending before it)."""

    def end(reviewed, signed_off_at):
        return min(signed_off_at, day_start(reviewed) + DAY)

    signed = dict(
        DailyReview.objects.filter(bot=bot, day__lte=day)
        .order_by("-day")
        .values_list("day", "signed_off_at")[:2]
    )
    until = end(day, signed.get(day, now))
    last = next(((d, end(d, at)) for d, at in signed.items() if d < day), None)
    if last is not None and last[1] < until:
        return last[1], until, last[0]
    return until - DAY, until, None


def health_review(bot, until):
    """The state in force at `until` and the state changes in the 24 h before it."""
    changes = HealthEvent.objects.filter(bot=bot, kind=HealthEvent.Kind.STATE_CHANGE)
    current = changes.filter(ts__lte=until).order_by("-ts", "-id").first()
    transitions = list(changes.filter(ts__gt=until - DAY, ts__lte=until).order_by("ts", "id"))
    return current, transitions


def rejection_trend(bot, day):
    """The top rejection reasons of the 30 days before `day`: each one's share of the rejections
    on each of the 7 days up to `day`, and its 30-day baseline share."""
    window = Window(bot, BASELINE_DAYS + TREND_DAYS, day + DAY)
    rows = [row for row in daily_decisions(window) if row["outcome"] == "rejected"]
    baseline_start = day - datetime.timedelta(days=TREND_DAYS + BASELINE_DAYS - 1)
    baseline_end = day - datetime.timedelta(days=TREND_DAYS)
    days = [day - datetime.timedelta(days=n) for n in reversed(range(TREND_DAYS))]
    baseline, per_day = {}, {}
    for row in rows:
        if baseline_start <= row["day"] <= baseline_end:
            baseline[row["reason"]] = baseline.get(row["reason"], 0) + row["count"]
        if row["day"] >= days[0]:
            per_day.setdefault(row["day"], {})[row["reason"]] = row["count"]
    total = sum(baseline.values())
    top = sorted(baseline, key=lambda reason: (-baseline[reason], reason))[:TRENDED_REJECTIONS]
    day_totals = {d: sum(per_day.get(d, {}).values()) for d in days}
    return {
        "days": days,
        "baseline_days": BASELINE_DAYS,
        "reasons": [
            {
                "reason": reason,
                "baseline_share": baseline[reason] / total,
                "shares": [
                    per_day.get(d, {}).get(reason, 0) / day_totals[d] if day_totals[d] else None
                    for d in days
                ],
            }
            for reason in top
        ],
        "rejections": [day_totals[d] for d in days],
    }


def daily_review(bot, day, now=None):
    """The plan's daily review of `bot` for the UTC `day` (section 6), as of `now`."""
    now = now or timezone.now()
    since, until, since_review = review_window(bot, day, now)
    current, transitions = health_review(bot, until)
    closes = Trade.objects.filter(
        bot=bot, status=Trade.Status.CLOSED, closed_at__gt=since, closed_at__lte=until
    )
    # The unknown-exit count looks at 24 h, however recent the last review.
    reasons = exit_reasons_per_bot([bot], until - DAY, until).get(bot.pk, {})
    totals = closes.aggregate(closes=Count("id"), net=Sum("net_pnl"))
    incidents = IntegrityIncident.objects.filter(bot=bot).order_by("opened_at")
    return {
        "since": since,
        "until": until,
        # The window's name on the page: what "since" means for this review.
        "window": f"since the {since_review:%m-%d} sign-off"
        if since_review
        else "in the last 24 h",
        "closes_url": closes_url(bot, since, until),
        "health": {"current": current, "transitions": transitions},
        "closes": {"count": totals["closes"], "net_pnl": totals["net"]},
        "unknown_exits": unknown_exits(bot, reasons, until),
        "incidents": {
            "opened": list(incidents.filter(opened_at__gt=since, opened_at__lte=until)),
            "acknowledged": list(
                incidents.filter(acknowledged_at__gt=since, acknowledged_at__lte=until)
            ),
            "resolved": list(incidents.filter(resolved_at__gt=since, resolved_at__lte=until)),
        },
        "rejections": rejection_trend(bot, day),
        "signed_off": DailyReview.objects.filter(bot=bot, day=day)
        .select_related("signed_off_by")
        .first(),
    }


def as_record(review):
    """The daily review as the JSON a sign-off keeps (what the person saw)."""
    health = review["health"]
    return {
        "since": review["since"].isoformat(),
        "until": review["until"].isoformat(),
        "health_state": health["current"].state if health["current"] else None,
        "transitions": [
            {"ts": event.ts.isoformat(), "state": event.state, "detail": event.detail}
            for event in health["transitions"]
        ],
        "closes": review["closes"]["count"],
        "net_pnl": str(review["closes"]["net_pnl"] or 0),
        "unknown_exits": review["unknown_exits"].unknown,
        "closes_24h": review["unknown_exits"].closes,
        "incidents": {
            what: [{"id": i.pk, "title": i.title, "severity": i.severity} for i in incidents]
            for what, incidents in review["incidents"].items()
        },
        "top_rejections": [
            {"reason": r["reason"], "baseline_share": round(r["baseline_share"], 4)}
            for r in review["rejections"]["reasons"]
        ],
    }
