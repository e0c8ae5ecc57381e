"""The cadence's pages inside the admin (thin: the reads are in cadence.selectors, cadence.weekly
and cadence.checklist, the writes in cadence.services). Every role reads them; signing off needs
the role's permission, which the services check."""

import datetime
import re
from collections import Counter

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from cadence.checklist import checklists
from cadence.selectors import (
    CARDS_PER_PAGE,
    command_center,
    daily_review,
    fleet_by_attention,
    missed_review,
    review_overdue,
    utc_day,
)
from cadence.services import sign_off_daily_review, sign_off_weekly_review
from cadence.weekly import (
    iso_week,
    keep_awaiting_confirmation,
    queued_experiments,
    week_of,
    weekly_review,
)
from experiments.admin.helpers import scorecard_html
from integrity.selectors import integrity_gates
from kpis.charts import Series, line_chart
from tradeops.models import Bot
from tradeops.roles import OPERATOR, SIGN_OFF_DAILY_REVIEW, SIGN_OFF_WEEKLY_REVIEW, TEAM_LEAD

VIEW_CADENCE = "cadence.view_dailyreview"
DAY_IN_URL = re.compile(r"\d{4}-\d{2}-\d{2}")
WEEK_IN_URL = re.compile(r"\d{4}-W\d{2}")


def _may_view(request):
    if not request.user.has_perm(VIEW_CADENCE):
        raise PermissionDenied


def command_center_context(request):
    """The page of cards asked for, of the whole fleet ordered by attention; the summary counts
    the whole fleet."""
    if not request.user.has_perm(VIEW_CADENCE):
        return {"cards": None}
    now = timezone.now()
    fleet = fleet_by_attention(now)
    page = Paginator(fleet, CARDS_PER_PAGE).get_page(request.GET.get("page"))
    order = {bot.pk: n for n, bot in enumerate(page)}
    cards = sorted(command_center(now, bots=list(order)), key=lambda card: order[card.bot.pk])
    return {
        "cards": cards,
        "page": page,
        "fleet": len(fleet),
        "now": now,
        "states": sorted(Counter(bot.health_state for bot in fleet if bot.health_state).items()),
        # Reviews past their hour: today's, and yesterday's never signed off.
        "overdue": sum(
            review_overdue(bot, now)
            + (missed_review(bot, now, bot.yesterday_signed_off) is not None)
            for bot in fleet
        ),
        "attention": sum(bot.needs_attention for bot in fleet),
        "stopped": sum(bot.is_stopped for bot in fleet),
    }


class DailySignOffForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="What you checked and anything to follow up: kept with the sign-off.",
    )


# No bot reports anything before the Unix epoch; earlier days would only overflow the date
# arithmetic of the trend and the links to the day or week before.
EARLIEST_DAY = datetime.date(1970, 1, 1)


def _day(text):
    """The UTC day of a URL, written one way only: YYYY-MM-DD."""
    try:
        day = datetime.date.fromisoformat(text) if DAY_IN_URL.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None or day < EARLIEST_DAY:
        raise Http404(f"not a day: {text}")
    return day


def _may_sign_off(request, permission):
    """A sign-off posted by who may not give it is refused before its form is even read."""
    if request.method == "POST" and not request.user.has_perm(permission):
        raise PermissionDenied


def _refuse(form, exc):
    """The service's refusal on the form: under the field it names, if the form has it."""
    for name, errors in exc.update_error_dict({}).items():
        form.add_error(name if name in form.fields else None, errors)


def todays_review(request, slug):
    return redirect("admin:cadence_daily_review", slug, utc_day(timezone.now()).isoformat())


def daily_review_page(request, slug, day):
    _may_view(request)
    _may_sign_off(request, SIGN_OFF_DAILY_REVIEW)
    bot, day, now = get_object_or_404(Bot, slug=slug), _day(day), timezone.now()
    if day > utc_day(now):
        raise Http404(f"{day} has not begun yet (UTC)")
    form = DailySignOffForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            sign_off_daily_review(
                bot, day, by=request.user, note=form.cleaned_data["note"], now=now
            )
        except ValidationError as exc:
            _refuse(form, exc)
        else:
            messages.success(request, f"Signed off the daily review of {bot.slug} for {day}.")
            return redirect("admin:cadence_daily_review", bot.slug, day.isoformat())
    review = daily_review(bot, day, now)
    return TemplateResponse(
        request,
        "admin/cadence/daily_review.html",
        {
            **admin.site.each_context(request),
            "title": f"Daily review: {bot.slug}, {day}",
            "bot": bot,
            "day": day,
            "review": review,
            "chart": rejection_chart(review["rejections"]),
            "rejection_days": rejection_days(review["rejections"], utc_day(now)),
            "form": form,
            "may_sign_off": request.user.has_perm(SIGN_OFF_DAILY_REVIEW),
            "previous_day": day - datetime.timedelta(days=1),
            "next_day": day + datetime.timedelta(days=1) if day < utc_day(now) else None,
        },
    )


def rejection_days(trend, today):
    """[(MM-DD, rejections, is today)]: today's count is of the hours gone by, said so."""
    return [
        (f"{day:%m-%d}", count, day == today)
        for day, count in zip(trend["days"], trend["rejections"], strict=True)
    ]


def rejection_chart(trend):
    """The daily share of each top rejection reason over the week, each against its 30-day
    baseline share (a dashed line in the same colour)."""
    series = []
    for reason in trend["reasons"]:
        name = reason["reason"]
        series.append(Series(name, reason["shares"]))
        series.append(
            Series(
                f"{name} ({trend['baseline_days']}d baseline)",
                [reason["baseline_share"]] * len(trend["days"]),
                dashed=True,
                same_color_as=name,
            )
        )
    return line_chart(
        "Top rejection reasons: share of the day's rejections",
        [day.isoformat() for day in trend["days"]],
        series,
        y_format="percent",
        x_title="day (UTC)",
        y_title="share of rejections",
    )


def _people():
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[OPERATOR, TEAM_LEAD])
        .distinct()
        .order_by("username")
    )


class WeeklySignOffForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="The week's conclusion: kept with the sign-off.",
    )
    next_experiment = forms.ModelChoiceField(
        queryset=None,
        required=False,
        help_text="The next single-lever test: one of the bot's queued experiments.",
    )
    assignee = forms.ModelChoiceField(queryset=None, required=False)
    assignment_due = forms.DateField(
        required=False,
        help_text="A UTC day, today or later.",
        # The admin's date field (YYYY-MM-DD, with its calendar), not the browser's locale's.
        widget=AdminDateWidget,
    )
    confirm_pending_keep = forms.BooleanField(
        required=False,
        label="Confirm the pending keep",
        help_text="The candidate becomes the baseline for good. Not by the person who logged it.",
    )

    def __init__(self, *args, bot, keep_pending, **kwargs):
        super().__init__(*args, **kwargs)
        queue = [exp.pk for exp in queued_experiments(bot)]
        self.fields["next_experiment"].queryset = bot.experiments.filter(pk__in=queue)
        self.fields["assignee"].queryset = _people()
        if keep_pending is None:
            del self.fields["confirm_pending_keep"]  # nothing to confirm: no box to tick


def this_weeks_review(request, slug):
    return redirect("admin:cadence_weekly_review", slug, iso_week(week_of(utc_day(timezone.now()))))


def _week(text):
    """The Monday of a URL's ISO week, written one way only: YYYY-Www."""
    try:
        week = datetime.datetime.strptime(text + "-1", "%G-W%V-%u").date()
    except ValueError:
        week = None
    if week is None or not WEEK_IN_URL.fullmatch(text) or week < EARLIEST_DAY:
        raise Http404(f"not an ISO week: {text}")
    return week


def weekly_review_page(request, slug, week):
    _may_view(request)
    _may_sign_off(request, SIGN_OFF_WEEKLY_REVIEW)
    bot, week, now = get_object_or_404(Bot, slug=slug), _week(week), timezone.now()
    if week > utc_day(now):
        raise Http404(f"the week of {week} has not begun yet (UTC)")
    form = WeeklySignOffForm(
        request.POST if request.method == "POST" else None,
        bot=bot,
        keep_pending=keep_awaiting_confirmation(bot),
    )
    if form.is_bound and form.is_valid():
        try:
            sign_off_weekly_review(bot, week, by=request.user, now=now, **form.cleaned_data)
        except ValidationError as exc:
            _refuse(form, exc)
        else:
            messages.success(
                request, f"Signed off the weekly review of {bot.slug} for {iso_week(week)}."
            )
            return redirect("admin:cadence_weekly_review", bot.slug, iso_week(week))
    review = weekly_review(bot, week, now)
    scorecard = _scorecard(review, bot.quote_currency)
    return TemplateResponse(
        request,
        "admin/cadence/weekly_review.html",
        {
            **admin.site.each_context(request),
            "title": f"Weekly review: {bot.slug}, {iso_week(week)}",
            "bot": bot,
            "review": review,
            "scorecard": scorecard,
            "form": form,
            "may_sign_off": request.user.has_perm(SIGN_OFF_WEEKLY_REVIEW),
            "previous_week": iso_week(week - datetime.timedelta(days=7)),
            "next_week": None
            if review["is_current"]
            else iso_week(week + datetime.timedelta(days=7)),
        },
    )


def _scorecard(review, currency):
    """A signed-off week shows the scorecard the Team lead signed off on; a week not signed off
    yet, the experiment's latest."""
    if review["signed_off"] is not None:
        items = review["signed_off"].items
        scorecard, computed_at = items.get("scorecard"), items.get("scorecard_computed_at")
        computed_at = computed_at and datetime.datetime.fromisoformat(computed_at)
    else:
        scorecard, computed_at = review["scorecard"], review["scorecard_computed_at"]
    return scorecard_html(scorecard, computed_at, currency) if scorecard else None


def checklist_page(request):
    _may_view(request)
    now = timezone.now()
    bots = list(Bot.objects.live().filter(is_active=True).order_by("slug"))
    lists = checklists(bots, now, integrity_gates(bots, now))
    return TemplateResponse(
        request,
        "admin/cadence/checklist.html",
        {
            **admin.site.each_context(request),
            "title": "Immediate action checklist",
            "rows": [(bot, lists[bot.pk]) for bot in bots],
            "now": now,
        },
    )
