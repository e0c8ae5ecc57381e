"""The demo's operating cadence: the operator signed off the daily reviews of the days before
yesterday, but not yesterday's (the command center shows it missed, to practise on); the lead
the last week's weekly review (naming Experiment B, queued behind A, as the next single-lever
test), and the trigger headroom of A is computed as the job would."""

import datetime

from django.contrib.auth.models import User
from django.utils import timezone

from cadence.services import refresh_trigger_headroom, sign_off_daily_review, sign_off_weekly_review
from cadence.weekly import queued_experiments, week_of
from integrity.jobs import run_daily_integrity_checks
from tradeops.scheduling import enqueue

REVIEWED_DAYS = 4
MISSED_DAYS = 1  # yesterday: the one day the command center calls missed
DAILY_NOTES = [
    "Health NORMAL, closes in line, no unknown exits; rejection mix steady.",
    "One DEGRADED blip recovered within minutes; P&L fine. Watching the short share.",
    "Quiet day. Quarantined malformed trades from the bot's retry: ticket open with the dev.",
    "A running its candidate; side mix closer to balanced. Nothing to escalate.",
]


def demo_now(end_date):
    """The demo's clock: now for a demo ending today, or midday of one ending on an earlier
    day. (Capping today at midday too stamped the shadow's stale heartbeat hours old in the
    afternoon, so its drift incident opened at once instead of after its grace.)"""
    now = timezone.now()
    if end_date >= now.date():
        return now
    return datetime.datetime.combine(end_date, datetime.time(12), datetime.UTC)


def load_reviews(bot, end_date, lead_name, operator_name):
    lead = User.objects.get(username=lead_name)
    operator = User.objects.get(username=operator_name)
    now = demo_now(end_date)
    # The daily checks as the scheduler runs them (in-process without Redis), so the checklist's
    # "daily integrity checks scheduled" has its successful run.
    enqueue(run_daily_integrity_checks, end_date)
    for n in range(REVIEWED_DAYS):
        day = end_date - datetime.timedelta(days=MISSED_DAYS + REVIEWED_DAYS - n)
        sign_off_daily_review(
            bot,
            day,
            by=operator,
            note=DAILY_NOTES[n % len(DAILY_NOTES)],
            now=datetime.datetime.combine(day, datetime.time(9, 40), tzinfo=datetime.UTC),
        )
    queue = queued_experiments(bot)
    sign_off_weekly_review(
        bot,
        week_of(end_date - datetime.timedelta(days=7)),
        by=lead,
        note="A ran its first days clean: no trigger near its limit. Review A at day 5-7; "
        "B prepared to start once A is decided.",
        next_experiment=queue[0] if queue else None,
        assignee=operator,
        assignment_due=end_date + datetime.timedelta(days=3),
        now=now,
    )
    refresh_trigger_headroom(now)
