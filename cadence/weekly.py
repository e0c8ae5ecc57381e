"""The weekly review of a bot (plan section 6): the experiment scorecard, the keep / rollback /
iterate decision, and the next single-lever assignment. Reads only."""

import datetime

from django.db.models import Q
from django.utils import timezone

from cadence.models import WeeklyReview
from experiments.models import Experiment
from kpis.queries import day_start, utc_day

WEEK = datetime.timedelta(days=7)
QUEUED = (Experiment.Status.DRAFT, Experiment.Status.SUBMITTED, Experiment.Status.APPROVED)


def week_of(day):
    """The Monday of `day`'s ISO week."""
    return day - datetime.timedelta(days=day.weekday())


def iso_week(week):
    return f"{week:%G-W%V}"


def queued_experiments(bot):
    """The bot's experiments not yet started, in the order they were drafted: the candidates for
    the next single-lever assignment."""
    return list(
        Experiment.objects.filter(bot=bot, status__in=QUEUED)
        .select_related("baseline_release", "candidate_release")
        .order_by("created_at")
    )


def keep_awaiting_confirmation(bot):
    return Experiment.objects.filter(bot=bot, status=Experiment.Status.KEEP_PENDING).first()


def experiment_of_week(bot, week, now):
    """The experiment the week is about: the one live in it, else the latest that ran in it."""
    start, end = day_start(week), min(day_start(week) + WEEK, now)
    ran = Experiment.objects.filter(bot=bot, started_at__lt=end).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=start)
    )
    return (
        ran.select_related("baseline_release", "candidate_release", "bot")
        .order_by("-started_at")
        .first()
    )


def weekly_review(bot, week, now=None):
    now = now or timezone.now()
    experiment = experiment_of_week(bot, week, now)
    scorecard, computed_at = experiment.shown_scorecard() if experiment else (None, None)
    previous = (
        WeeklyReview.objects.filter(bot=bot, week__lt=week)
        .select_related("next_experiment", "assignee", "signed_off_by")
        .order_by("-week")
        .first()
    )
    return {
        "week": week,
        "iso_week": iso_week(week),
        "until": min(day_start(week) + WEEK, now),
        "experiment": experiment,
        "scorecard": scorecard,
        "scorecard_computed_at": computed_at,
        "decisions": list(experiment.decisions.select_related("decided_by")) if experiment else [],
        "keep_pending": keep_awaiting_confirmation(bot),
        "queue": queued_experiments(bot),
        "previous": previous,
        "signed_off": WeeklyReview.objects.filter(bot=bot, week=week)
        .select_related("next_experiment", "assignee", "signed_off_by", "confirmed_keep")
        .first(),
        "is_current": week == week_of(utc_day(now)),
    }


def as_weekly_record(bot, week, now):
    """The weekly review as the JSON a sign-off keeps (what the Team lead saw)."""
    review = weekly_review(bot, week, now)
    experiment = review["experiment"]
    return {
        "experiment": None
        if experiment is None
        else {"id": experiment.pk, "name": experiment.name, "status": experiment.status},
        "decision": experiment.decision if experiment else "",
        "scorecard": review["scorecard"],
        "scorecard_computed_at": review["scorecard_computed_at"].isoformat()
        if review["scorecard_computed_at"]
        else None,
        "queue": [
            {"id": exp.pk, "name": exp.name, "status": exp.status} for exp in review["queue"]
        ],
    }
