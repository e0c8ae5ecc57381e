"""The daily review's reads: the bot's review hour and whether today's review is due or missed,
the review's window and figures, and the unknown exits and closes its lines link to."""

import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone

from cadence.models import DailyReview
from integrity.models import IntegrityIncident
from kpis.queries import (
    Window,
    daily_decisions,
    day_start,
    exit_reasons_per_bot,
    utc_day,
)
from tradeops.models import HealthEvent, Trade

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
# The rejection reasons the daily review follows: the 30-day baseline's most frequent ones.
TRENDED_REJECTIONS = 3
TREND_DAYS = 7
BASELINE_DAYS = 30


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
            f"alert above {self.bot.unknown_exit_alert_percent})"
        )


def unknown_exits(bot, reasons, until=None):
    """UnknownExits from {exit reason: closes} of `bot` (exit_reasons_per_bot) in the 24 h to
    `until`."""
    unknown = sum(n for reason, n in reasons.items() if Trade.is_unknown_exit(bot, reason))
    return UnknownExits(unknown, sum(reasons.values()), bot, until)


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
