"""The daily digest: the daily review's five items in a few lines, with a link, pushed at each
bot's digest hour through the alert channels (email, or Slack, Telegram and others through
Apprise), delivered at least once like the alerts (integrity.delivery).

Digests are of live bots: a shadow's dry-run closes are never money, so they are no digest of
their own; the live bot's digest names them on a line of their own, apart from its P&L."""

from django.conf import settings
from django.db.models import Count
from django.urls import reverse

from cadence.models import DailyReview, DigestMessage
from cadence.selectors import DAY, daily_review, missed_review, review_deadline
from integrity import delivery
from integrity.alerts import send_to_channel
from kpis.queries import utc_day
from tradeops.models import Bot, Trade


def review_url(bot, day):
    path = reverse("admin:cadence_daily_review", args=[bot.slug, day.isoformat()])
    return settings.TRADEOPS_BASE_URL.rstrip("/") + path


def digest_text(bot, day, now):
    """(title, body) of `bot`'s digest of `day`, as of `now`: the day's review so far."""
    review = daily_review(bot, day, now)
    current = review["health"]["current"]
    state = current.state if current else "no state reported"
    transitions = review["health"]["transitions"]
    closes = review["closes"]
    incidents = review["incidents"]
    open_now = len([i for i in incidents["opened"] if not i.is_resolved])
    trend = review["rejections"]["reasons"]
    top = ", ".join(
        f"{r['reason']} {r['shares'][-1]:.0%} (30d {r['baseline_share']:.0%})"
        if r["shares"][-1] is not None
        else f"{r['reason']} - (30d {r['baseline_share']:.0%})"
        for r in trend
    )
    body = "\n".join(
        [
            f"Health: {state}, {len(transitions)} transition(s) in 24 h",
            f"Closes {review['window']}: {closes['count']}, net P&L {closes['net_pnl'] or 0:.2f}",
            f"Unknown exit reasons: {review['unknown_exits']}",
            f"Integrity alerts: {len(incidents['opened'])} opened ({open_now} still open), "
            f"{len(incidents['acknowledged'])} acknowledged, {len(incidents['resolved'])} resolved",
            f"Top rejection reasons today: {top or 'none in the last 30 days'}",
            f"Daily review: {_review_state(bot, review, now)}",
            *_shadow_line(bot, review),
            review_url(bot, day),
        ]
    )
    return f"[DIGEST] {bot.slug} {day}: {state}, {closes['count']} closes", body


def _shadow_line(bot, review):
    """The shadow's closes over the review's period, said to be dry-run: [] without a shadow."""
    shadow = Bot.objects.filter(shadow_of=bot).select_related("current_release").first()
    if shadow is None:
        return []
    closes = Trade.objects.filter(
        bot=shadow,
        status=Trade.Status.CLOSED,
        closed_at__gt=review["since"],
        closed_at__lte=review["until"],
    ).aggregate(n=Count("id"))["n"]
    runs = shadow.current_release.tag if shadow.current_release else "no release"
    return [f"Shadow {shadow.slug} (dry-run, not money): runs {runs}, {closes} closes"]


def _review_state(bot, review, now):
    signed = review["signed_off"]
    if signed is not None:
        state = f"signed off by {signed.signed_off_by} at {signed.signed_off_at:%H:%M} UTC"
    else:
        state = review_deadline(bot, now)
    yesterday = DailyReview.objects.filter(bot=bot, day=utc_day(now) - DAY).exists()
    missed = missed_review(bot, now, yesterday)
    return state + (f"; {missed} was not signed off: {review_url(bot, missed)}" if missed else "")


def deliver_due_digests(now=None):
    return delivery.deliver_due(
        DigestMessage.objects.select_related("channel"), send_to_channel, now
    )
