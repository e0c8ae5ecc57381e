"""The operating cadence (plan section 6): the command center, the daily review and its
sign-off, the weekly review, and the checklist derived from the data."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cadence.checklist import checklists
from cadence.models import DailyReview, TriggerHeadroom, WeeklyReview
from cadence.selectors import command_center, daily_review, rejection_trend
from cadence.services import (
    refresh_trigger_headroom,
    sign_off_daily_review,
    sign_off_weekly_review,
)
from cadence.weekly import iso_week, week_of
from experiments.releases import run_release
from integrity.services import acknowledge_incident, open_or_bump_incident
from tests.factories import draft, earlier_today, ingest, log_in_as, run_through, trade
from tradeops.models import AuditEvent, DecisionCount
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER
from tradeops.services import create_bot

UTC = datetime.UTC


def today():
    return timezone.now().astimezone(UTC).date()


def day_page(bot, day):
    return reverse("admin:cadence_daily_review", args=[bot.slug, day.isoformat()])


def state(bot, ts, value, detail=""):
    ingest(
        bot,
        "health",
        {"ts": ts.isoformat(), "kind": "state_change", "state": value, "detail": detail},
    )


# -- the command center ------------------------------------------------------------------


def test_the_command_center_shows_each_bot_at_a_glance(bot, baseline, people, monkeypatch):
    now = timezone.now()
    run_release(baseline, bot=bot, reason="baseline", reference="test", by=people["lead"], now=now)
    state(bot, now - datetime.timedelta(hours=30), "NORMAL")
    state(bot, now - datetime.timedelta(hours=3), "DEGRADED", "ws lag")
    trade(bot, "y1", now - datetime.timedelta(days=1), "12.5", release=baseline)
    # Today's close, and the page's clock the test's: a close 5 minutes before now was
    # yesterday's from 00:00 to 00:05 UTC ("today UTC 0").
    trade(bot, "t1", earlier_today(now), "-2", exit_reason="", release=baseline)
    monkeypatch.setattr("cadence.views.timezone", SimpleNamespace(now=lambda: now))
    open_or_bump_incident(
        bot=bot, kind="orphan_fills", severity="warning", title="Fills without a trade"
    )
    client = Client()
    log_in_as(client, "vera", VIEWER)

    page = client.get(reverse("admin:index")).content.decode()

    assert f'id="bot-{bot.slug}"' in page
    assert '<span class="badge DEGRADED"' in page
    assert "v1.4.0" in page  # what it runs
    assert "today UTC 1, net -2.00" in page
    assert "1 of " in page and "alert above 2%" in page  # the blank exit reason is unknown
    assert "1 warning" in page
    assert "checklist 0 of 6 done" in page  # no freeze, report, alert test, daily run or A
    assert "Immediate action checklist" in page


def test_the_command_center_reads_fifty_bots_in_as_many_queries_as_one(bot, baseline, people):
    now = timezone.now()
    with CaptureQueriesContext(connection) as one:
        command_center(now)
    for n in range(5):
        other, _ = create_bot(slug=f"bot-{n}", name=f"Bot {n}")
        trade(other, f"o{n}", now - datetime.timedelta(hours=1), "1")
        state(other, now - datetime.timedelta(hours=2), "NORMAL")
    with CaptureQueriesContext(connection) as six:
        cards = command_center(now)
    assert len(cards) == 6
    assert len(six) == len(one)


def test_a_viewer_and_an_operator_open_the_command_center_and_every_link_on_it(
    bot, baseline, people
):
    experiment = run_through(draft(baseline, people), people)
    refresh_trigger_headroom()
    trade(bot, "x", timezone.now() - datetime.timedelta(hours=1), "1", release=baseline)
    for role in (VIEWER, OPERATOR, TEAM_LEAD):
        client = Client()
        log_in_as(client, f"u-{role[:4].lower()}", role)
        response = client.get(reverse("admin:index"))
        assert response.status_code == 200
        page = response.content.decode()
        assert experiment.name in page and "safety events 0 of 3" in page
        links = {
            href
            for href in _hrefs(page)
            if href.startswith("/admin/") and "logout" not in href and "password" not in href
        }
        for href in links:
            response = client.get(href.replace("&amp;", "&"), follow=True)
            assert response.status_code == 200, href


def _hrefs(page):
    import re

    return re.findall(r'href="([^"]+)"', page)


# -- the daily review -----------------------------------------------------------------------


def test_the_daily_review_shows_the_plans_five_items(bot, baseline, people):
    day = today() - datetime.timedelta(days=1)
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=UTC)
    state(bot, start - datetime.timedelta(days=2), "NORMAL")
    state(bot, start + datetime.timedelta(hours=14), "HALT", "kill switch")
    state(bot, start + datetime.timedelta(hours=15), "NORMAL", "recovered")
    trade(bot, "a", start + datetime.timedelta(hours=9), "10", release=baseline)
    trade(
        bot, "b", start + datetime.timedelta(hours=10), "-4", exit_reason="weird", release=baseline
    )
    bot.known_exit_reasons = ["take_profit"]
    bot.save()

    review = daily_review(bot, day, timezone.now())

    assert review["health"]["current"].state == "NORMAL"
    assert [e.state for e in review["health"]["transitions"]] == ["HALT", "NORMAL"]
    assert review["closes"] == {"count": 2, "net_pnl": Decimal("6")}
    assert (review["unknown_exits"].unknown, review["unknown_exits"].closes) == (1, 2)
    assert review["unknown_exits"].above_threshold


def test_the_review_covers_the_time_since_the_last_sign_off(bot, baseline, people):
    day = today() - datetime.timedelta(days=1)
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=UTC)
    trade(bot, "before", start - datetime.timedelta(hours=2), "5", release=baseline)
    sign_off_daily_review(
        bot,
        day - datetime.timedelta(days=1),
        by=people["operator"],
        note="fine",
        now=start - datetime.timedelta(hours=1),
    )
    trade(bot, "after", start + datetime.timedelta(hours=1), "7", release=baseline)

    review = daily_review(bot, day, timezone.now())

    assert review["since"] == start - datetime.timedelta(hours=1)
    assert review["closes"] == {"count": 1, "net_pnl": Decimal("7")}


def test_incidents_opened_acknowledged_and_resolved_since_the_last_review(bot, people):
    incident = open_or_bump_incident(
        bot=bot, kind="orphan_fills", severity="warning", title="Fills without a trade"
    )
    acknowledge_incident(incident, user=people["operator"], note="on it")

    review = daily_review(bot, today(), timezone.now() + datetime.timedelta(seconds=1))

    assert review["incidents"]["opened"] == [incident]
    assert review["incidents"]["acknowledged"] == [incident]
    assert review["incidents"]["resolved"] == []


def test_the_rejection_trend_compares_daily_shares_with_the_30_day_baseline(bot):
    day = datetime.date(2026, 11, 30)
    for n in range(7, 37):  # the 30 days before the week: spread 60%, cap 40%
        past = day - datetime.timedelta(days=n)
        DecisionCount.objects.create(
            bot=bot, day=past, outcome="rejected", reason="spread_too_wide", count=6
        )
        DecisionCount.objects.create(
            bot=bot, day=past, outcome="rejected", reason="risk_cap_reached", count=4
        )
    DecisionCount.objects.create(
        bot=bot, day=day, outcome="rejected", reason="spread_too_wide", count=1
    )
    DecisionCount.objects.create(
        bot=bot, day=day, outcome="rejected", reason="risk_cap_reached", count=3
    )

    trend = rejection_trend(bot, day)

    spread, cap = trend["reasons"]
    assert (spread["reason"], spread["baseline_share"]) == ("spread_too_wide", 0.6)
    assert (cap["reason"], cap["baseline_share"]) == ("risk_cap_reached", 0.4)
    assert spread["shares"][-1] == 0.25 and cap["shares"][-1] == 0.75
    assert spread["shares"][0] is None  # no rejection that day: no share, not 0%
    assert trend["rejections"][-1] == 4


def test_an_operator_signs_off_the_daily_review_and_it_is_audited(bot, people):
    client = Client()
    client.force_login(people["operator"])
    day = today()

    response = client.post(day_page(bot, day), {"note": "All five checked; nothing odd."})

    assert response.status_code == 302
    review = DailyReview.objects.get(bot=bot, day=day)
    assert review.signed_off_by == people["operator"]
    assert review.items["closes"] == 0 and "health_state" in review.items
    event = AuditEvent.objects.get(subject_type="cadence.dailyreview", subject_id=review.pk)
    assert event.action == "sign off" and event.note == "All five checked; nothing odd."
    page = client.get(day_page(bot, day)).content.decode()
    assert "signed off" in page and "All five checked" in page


def test_a_day_is_signed_off_once(bot, people):
    now = timezone.now()
    sign_off_daily_review(bot, today(), by=people["operator"], note="first", now=now)
    client = Client()
    client.force_login(people["lead"])

    response = client.post(day_page(bot, today()), {"note": "second"})

    assert "already signed off by otto" in response.content.decode()
    assert DailyReview.objects.get().note == "first"


def test_a_late_sign_off_covers_its_day_and_the_next_review_starts_where_it_ended(
    bot, baseline, people
):
    day = today() - datetime.timedelta(days=2)
    next_day = day + datetime.timedelta(days=1)
    midnight = datetime.datetime.combine(next_day, datetime.time(), tzinfo=UTC)
    trade(bot, "in the day", midnight - datetime.timedelta(hours=12), "5", release=baseline)
    trade(bot, "after midnight", midnight + datetime.timedelta(hours=3), "7", release=baseline)
    late = midnight + datetime.timedelta(hours=8)  # signed off the next morning
    signed = sign_off_daily_review(bot, day, by=people["operator"], note="late", now=late)

    review = daily_review(bot, day, late)
    following = daily_review(bot, next_day, late + datetime.timedelta(hours=1))

    assert review["until"] == midnight and signed.items["until"] == midnight.isoformat()
    assert review["closes"] == {"count": 1, "net_pnl": Decimal("5")}  # as it was signed off
    assert following["since"] == midnight
    assert following["closes"] == {"count": 1, "net_pnl": Decimal("7")}  # not lost between


def test_unknown_exits_count_the_whole_24_h_after_a_recent_review(bot, baseline, people):
    bot.known_exit_reasons = ["take_profit"]
    bot.save()
    day = today() - datetime.timedelta(days=1)
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=UTC)
    trade(bot, "odd", start - datetime.timedelta(hours=6), "-3", exit_reason="weird")
    sign_off_daily_review(
        bot,
        day - datetime.timedelta(days=1),
        by=people["operator"],
        note="fine",
        now=start - datetime.timedelta(hours=4),
    )

    review = daily_review(bot, day, start + datetime.timedelta(hours=12))

    assert review["closes"]["count"] == 0  # none since the last review
    unknown = review["unknown_exits"]
    assert (unknown.unknown, unknown.closes) == (1, 1)  # but one in the 24 h the item names


@pytest.mark.parametrize(
    "path",
    [
        "review/daily/{slug}/2026-13-45/",
        "review/daily/{slug}/0001-01-01/",  # was a 500: the trend's 37 days overflowed
        "review/daily/{slug}/20261201/",  # the same day written another way
        "review/daily/{slug}/2026-W49-1/",
        "review/daily/{slug}/2026-12-01T00:00/",
        "review/weekly/{slug}/2026-W99/",
        "review/weekly/{slug}/0001-W01/",  # was a 500: the week before overflowed
        "review/weekly/{slug}/2026-W1/",
        "review/weekly/{slug}/2026-w49/",
        "review/daily/no-such-bot/2026-12-01/",
        "review/weekly/no-such-bot/2026-W49/",
    ],
)
def test_a_malformed_day_week_or_bot_is_not_found(bot, people, path):
    client = Client()
    client.force_login(people["operator"])

    response = client.get("/admin/" + path.format(slug=bot.slug))

    assert response.status_code == 404


def test_a_sign_off_posted_by_a_role_without_it_is_refused_whatever_it_carries(baseline, people):
    bot = baseline.bot
    week = reverse("admin:cadence_weekly_review", args=[bot.slug, iso_week(week_of(today()))])
    viewer = Client()
    log_in_as(viewer, "vera", VIEWER)
    operator = Client()
    operator.force_login(people["operator"])

    # An empty or invalid form was answered 200 with its errors, as if it might be signed.
    assert viewer.post(day_page(bot, today()), {}).status_code == 403
    assert viewer.post(week, {"note": ""}).status_code == 403
    assert operator.post(week, {}).status_code == 403
    assert not DailyReview.objects.exists() and not WeeklyReview.objects.exists()


def test_an_empty_sign_off_says_the_note_is_required(bot, people):
    client = Client()
    client.force_login(people["operator"])

    response = client.post(day_page(bot, today()), {})

    assert response.status_code == 200
    assert response.context["form"].errors == {"note": ["This field is required."]}
    assert not DailyReview.objects.exists()


def test_a_stale_form_posted_to_a_signed_off_review_says_why_nothing_was_stored(bot, people):
    sign_off_daily_review(bot, today(), by=people["operator"], note="first", now=timezone.now())
    client = Client()
    client.force_login(people["lead"])

    # Its field errors were on a form the signed-off page no longer shows: no word at all.
    page = client.post(day_page(bot, today()), {"note": ""}).content.decode()

    assert "Not stored: this review was already signed off." in page
    assert DailyReview.objects.get().note == "first"


def test_a_sign_off_needs_a_note_and_a_day_that_has_begun(bot, people):
    client = Client()
    client.force_login(people["operator"])
    assert client.post(day_page(bot, today()), {"note": "  "}).status_code == 200
    tomorrow = today() + datetime.timedelta(days=1)
    assert client.post(day_page(bot, tomorrow), {"note": "early"}).status_code == 404
    assert not DailyReview.objects.exists()


def test_a_viewer_cannot_sign_off_even_by_a_hand_made_post(bot):
    client = Client()
    log_in_as(client, "vera", VIEWER)
    page = client.get(day_page(bot, today()))
    assert page.status_code == 200 and "Sign off the daily review" not in page.content.decode()

    response = client.post(day_page(bot, today()), {"note": "sneaky"})

    assert response.status_code == 403
    assert not DailyReview.objects.exists()


def test_review_due_and_overdue_by_the_bots_hour(bot, people):
    bot.daily_review_due_hour = 10
    bot.save()
    day = today()
    early = datetime.datetime.combine(day, datetime.time(9), tzinfo=UTC)
    late = datetime.datetime.combine(day, datetime.time(11), tzinfo=UTC)
    assert command_center(early)[0].review_due == "due by 10:00 UTC"
    assert command_center(late)[0].review_due == "overdue since 10:00 UTC"
    sign_off_daily_review(bot, day, by=people["operator"], note="done", now=late)
    assert command_center(late)[0].review_due == "signed off"


def test_a_day_never_signed_off_stays_on_the_command_center_the_next_day(people, monkeypatch):
    bot, _ = create_bot(slug="alpha", now=timezone.now() - datetime.timedelta(days=3))
    day = today()
    yesterday = day - datetime.timedelta(days=1)
    early = datetime.datetime.combine(day, datetime.time(8), tzinfo=UTC)
    client = Client()
    client.force_login(people["operator"])
    # The page's clock is the test's: at 08:00 whatever the hour the test runs at (it counted
    # today's review overdue after 10:00, and raced midnight).
    monkeypatch.setattr("cadence.views.timezone", SimpleNamespace(now=lambda: early))

    (card,) = command_center(early)
    page = client.get(reverse("admin:index")).content.decode()

    # Past midnight today's review is only due: yesterday's dropped out of sight.
    assert card.review_due == "due by 10:00 UTC" and card.missed_day == yesterday
    assert f"{yesterday:%m-%d} not signed off" in page and day_page(bot, yesterday) in page
    overdue = 1 + (early.hour >= 10)  # the page is today's: yesterday's and maybe today's
    assert f"{overdue} daily review{'s' if overdue > 1 else ''} overdue" in page
    sign_off_daily_review(bot, yesterday, by=people["operator"], note="late", now=early)
    assert command_center(early)[0].missed_day is None


# -- the weekly review ---------------------------------------------------------------------


def test_a_team_lead_signs_off_the_week_with_the_next_single_lever_assignment(baseline, people):
    bot = baseline.bot
    queued = run_through(draft(baseline, people), people, until="submit")
    week = week_of(today())
    page = reverse("admin:cadence_weekly_review", args=[bot.slug, iso_week(week)])
    client = Client()
    client.force_login(people["lead"])
    due = today() + datetime.timedelta(days=3)

    response = client.post(
        page,
        {
            "note": "A is next.",
            "next_experiment": queued.pk,
            "assignee": people["operator"].pk,
            "assignment_due": due.isoformat(),
        },
    )

    assert response.status_code == 302, response.content.decode()
    review = WeeklyReview.objects.get(bot=bot, week=week)
    assert (review.next_experiment, review.assignee, review.assignment_due) == (
        queued,
        people["operator"],
        due,
    )
    assert AuditEvent.objects.filter(subject_type="cadence.weeklyreview").count() == 1


def test_an_operator_cannot_sign_off_the_weekly_review(baseline, people):
    week = week_of(today())
    page = reverse("admin:cadence_weekly_review", args=[baseline.bot.slug, iso_week(week)])
    client = Client()
    client.force_login(people["operator"])
    assert "Sign off the weekly review" not in client.get(page).content.decode()

    assert client.post(page, {"note": "mine"}).status_code == 403
    assert not WeeklyReview.objects.exists()


def test_the_next_assignment_must_be_a_queued_experiment_with_a_person_and_a_date(baseline, people):
    running = run_through(draft(baseline, people), people)
    with pytest.raises(Exception, match="not queued"):
        sign_off_weekly_review(
            baseline.bot,
            week_of(today()),
            by=people["lead"],
            note="x",
            next_experiment=running,
            assignee=people["operator"],
            assignment_due=today(),
        )
    queued = draft(baseline, people, lever="fib_proximity_bps", fib_proximity_bps=15)
    with pytest.raises(Exception, match="a person and a due date"):
        sign_off_weekly_review(
            baseline.bot, week_of(today()), by=people["lead"], note="x", next_experiment=queued
        )
    assert not WeeklyReview.objects.exists()


def weekly_page(bot, week=None):
    return reverse(
        "admin:cadence_weekly_review", args=[bot.slug, iso_week(week or week_of(today()))]
    )


def test_a_refused_weekly_sign_off_names_the_field(baseline, people):
    bot = baseline.bot
    queued = run_through(draft(baseline, people), people, until="submit")
    client = Client()
    client.force_login(people["lead"])
    yesterday = today() - datetime.timedelta(days=1)

    past = client.post(
        weekly_page(bot),
        {
            "note": "x",
            "next_experiment": queued.pk,
            "assignee": people["operator"].pk,
            "assignment_due": yesterday.isoformat(),
        },
    )
    # A person and a date for no experiment were dropped without a word.
    unassigned = client.post(
        weekly_page(bot),
        {"note": "x", "assignee": people["operator"].pk, "assignment_due": today().isoformat()},
    )

    assert past.context["form"].errors == {"assignment_due": [f"{yesterday} is in the past"]}
    assert list(unassigned.context["form"].errors) == ["next_experiment"]
    assert not WeeklyReview.objects.exists()


def test_the_pending_keep_box_shows_only_when_a_keep_awaits_confirmation(baseline, people):
    client = Client()
    client.force_login(people["lead"])

    page = client.get(weekly_page(baseline.bot)).content.decode()

    assert "Sign off the weekly review" in page
    assert "confirm_pending_keep" not in page and "Confirm the pending keep" not in page


def test_a_signed_off_week_shows_the_scorecard_it_was_signed_off_on(baseline, people, embedded):
    from experiments.jobs import refresh_scorecards
    from experiments.scorecard import refresh_scorecard

    experiment = run_through(draft(baseline, people), people)
    refresh_scorecards()
    experiment.refresh_from_db()
    signed_at = experiment.scorecard_computed_at
    sign_off_weekly_review(baseline.bot, week_of(today()), by=people["lead"], note="ok")
    later = signed_at + datetime.timedelta(hours=5, minutes=7)
    assert refresh_scorecard(experiment, later)  # the refresh job ran again since
    client = Client()
    client.force_login(people["operator"])

    page = client.get(weekly_page(baseline.bot)).content.decode()

    assert f"{signed_at:%Y-%m-%d %H:%M}" in page and f"{later:%Y-%m-%d %H:%M}" not in page
    assert "As it stood when the week was signed off." in page


def test_a_week_is_named_by_its_monday(baseline, people):
    with pytest.raises(Exception, match="not a Monday"):
        sign_off_weekly_review(
            baseline.bot,
            week_of(today()) + datetime.timedelta(days=1),
            by=people["lead"],
            note="x",
        )


# -- trigger headroom -----------------------------------------------------------------------


def test_the_headroom_job_stores_the_live_changes_distance_to_each_trigger(baseline, people):
    experiment = run_through(draft(baseline, people), people)
    refresh_trigger_headroom()
    headroom = TriggerHeadroom.objects.get(bot=baseline.bot)
    assert [line["trigger"] for line in headroom.lines] == [
        "daily_loss",
        "avg_loss",
        "safety_events",
    ]
    assert headroom.subject == str(experiment)

    experiment.status = "withdrawn"  # what a stop or decision leaves: no live change
    experiment.save()
    refresh_trigger_headroom()
    assert not TriggerHeadroom.objects.exists()


# -- the checklist --------------------------------------------------------------------------


def test_the_checklist_is_derived_from_the_data(baseline, people):
    bot = baseline.bot
    items = checklists([bot])[bot.pk].items
    assert [item.done for item in items] == [False, False, False, False, False, False]
    assert items[0].evidence == "baseline v1.4.0 approved; no freeze recorded"
    assert items[4].evidence == "not drafted"


def test_experiment_a_reviewed_within_seven_days_of_its_start(baseline, people):
    experiment = run_through(draft(baseline, people), people)
    experiment.plan_key = "A"
    experiment.save()
    bot = baseline.bot
    started, reviewed = checklists([bot])[bot.pk].items[4:]
    assert started.done and not reviewed.done
    assert reviewed.evidence.startswith("not decided yet; due by")
    late = timezone.now() + datetime.timedelta(days=8)
    assert "overdue since" in checklists([bot], late)[bot.pk].items[5].evidence


def test_the_fleet_is_paged_with_the_bots_needing_attention_first(bot):
    now = timezone.now()
    for n in range(54):
        create_bot(slug=f"quiet-{n:02d}", name=f"Quiet {n}")
    halted, _ = create_bot(slug="zz-halted", name="Halted")
    state(halted, now - datetime.timedelta(minutes=5), "HALT", "kill switch")
    client = Client()
    log_in_as(client, "vera", VIEWER)

    first = client.get(reverse("admin:index")).content.decode()
    second = client.get(reverse("admin:index") + "?page=2").content.decode()

    assert first.index('id="bot-zz-halted"') < first.index('id="bot-alpha"')
    assert "56 active bots" in first and "1 HALT" in first
    assert first.count('class="cc-card"') == 50 and second.count('class="cc-card"') == 6
    assert "Bots 1–50 of 56" in first


def test_a_page_of_cards_costs_the_same_queries_for_a_small_and_a_large_fleet(bot, people):
    client = Client()
    client.force_login(people["lead"])
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("admin:index"))
    for n in range(60):
        create_bot(slug=f"b-{n:02d}", name=f"Bot {n}")
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("admin:index"))
    assert len(large) == len(small)


def _keep_logged_by(baseline, people, who):
    from experiments import services as experiment_services

    started = timezone.now() - datetime.timedelta(days=6)
    experiment = draft(baseline, people)
    experiment_services.submit(experiment, by=people["operator"], note="ready", now=started)
    experiment_services.approve(experiment, by=people["lead"], note="go", now=started)
    experiment_services.start(experiment, by=people["operator"], note="deployed", now=started)
    experiment_services.send_to_review(experiment, by=people["operator"], note="day 6")
    experiment_services.decide(
        experiment, decision="keep", by=people[who], rationale="better", without_better=True
    )
    experiment.refresh_from_db()
    assert experiment.status == "keep_pending"
    return experiment


def test_the_weekly_sign_off_confirms_a_pending_keep_with_four_eyes(baseline, people):
    experiment = _keep_logged_by(baseline, people, "lead")
    week = week_of(today())
    with pytest.raises(Exception, match="lena"):
        sign_off_weekly_review(
            baseline.bot, week, by=people["lead"], note="keep it", confirm_pending_keep=True
        )
    assert not WeeklyReview.objects.exists()
    experiment.refresh_from_db()
    assert experiment.status == "keep_pending" and not experiment.candidate_release.is_baseline

    review = sign_off_weekly_review(
        baseline.bot, week, by=people["lead2"], note="keep it", confirm_pending_keep=True
    )

    experiment.refresh_from_db()
    experiment.candidate_release.refresh_from_db()
    assert review.confirmed_keep == experiment
    assert experiment.status == "decided" and experiment.candidate_release.is_baseline
    assert refresh_trigger_headroom() == []  # decided: no live change left to watch
