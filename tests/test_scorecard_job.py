"""The scorecard is computed by a job and stored; the experiment page only reads it."""

import datetime

import django_rq
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from experiments import services
from experiments.jobs import REFRESH_SCORECARDS, refresh_scorecards
from experiments.models import Experiment
from experiments.scorecard import refresh_scorecard
from tests.factories import draft, log_in_as, midnight, run_through, trade
from tradeops.models import JobRun
from tradeops.roles import OPERATOR, TEAM_LEAD
from tradeops.schedule import BY_NAME

JOB = "experiments.jobs.refresh_scorecards"
PAGE_QUERIES = 17  # session, user, permissions, the experiment and its relations, history


def started_five_days_ago(baseline, people):
    """A running experiment: the baseline won 1 a trade the day before, the candidate 3, ten
    trades each within one UTC day (started at midday: started at now - 5 days, the candidate's
    trades crossed midnight whenever the test ran after 14:00 UTC)."""
    start = midnight(5) + datetime.timedelta(hours=12)
    experiment = run_through(draft(baseline, people), people, now=start)
    for n in range(10):
        before = start - datetime.timedelta(days=1, hours=n)
        after = start + datetime.timedelta(hours=n)
        trade(baseline.bot, f"b{n}", before, 1, release=baseline)
        trade(baseline.bot, f"t{n}", after, 3, release=experiment.candidate_release)
    return experiment


def queued(queue):
    """The jobs waiting on the scorecards' queue (the slow one)."""
    return [job.func_name for job in django_rq.get_queue(BY_NAME[REFRESH_SCORECARDS].queue).jobs]


def test_the_job_stores_the_scorecard_of_running_and_reviewed_experiments(
    baseline, people, embedded, django_capture_on_commit_callbacks
):
    experiment = started_five_days_ago(baseline, people)
    waiting = draft(baseline, people, side_balance_pressure="0.4")
    before = timezone.now()

    refresh_scorecards()

    fan_out, unit = JobRun.objects.filter(name=REFRESH_SCORECARDS).order_by("started_at")
    experiment.refresh_from_db()
    assert fan_out.outcome == "succeeded" and fan_out.detail["units"] == [str(experiment.pk)]
    assert unit.outcome == "succeeded" and unit.detail == {"refreshed": True}
    assert unit.key == f"{fan_out.detail['period']}:{experiment.pk}"
    # As of the run's moment, taken as it begins (its JobRun row is written a moment later).
    assert before <= experiment.scorecard_computed_at <= unit.started_at
    assert experiment.scorecard["verdict"] == "before/after only"  # no shadow: no verdict
    assert experiment.scorecard["trades"] == {"baseline": 10, "test": 10}
    assert Experiment.objects.get(pk=waiting.pk).scorecard == {}  # a draft has none

    refresh_scorecards()  # a second run in the same period does nothing
    assert JobRun.objects.filter(name=REFRESH_SCORECARDS).count() == 3  # the second fan-out
    assert Experiment.objects.get(pk=experiment.pk).scorecard_computed_at < unit.finished_at

    # A refresh asked for now (on review) is a period of its own.
    with django_capture_on_commit_callbacks(execute=True):
        services.send_to_review(experiment, by=people["operator"], note="day 5")
    assert Experiment.objects.get(pk=experiment.pk).scorecard_computed_at > unit.finished_at


def test_a_slower_older_run_does_not_overwrite_a_newer_scorecard(baseline, people):
    experiment = started_five_days_ago(baseline, people)
    now = timezone.now()
    assert refresh_scorecard(experiment, now)
    assert not refresh_scorecard(experiment, now - datetime.timedelta(minutes=1))
    assert Experiment.objects.get(pk=experiment.pk).scorecard_computed_at == now


def test_a_decision_stores_the_scorecard_as_it_was_then(baseline, people, embedded):
    experiment = started_five_days_ago(baseline, people)
    refresh_scorecard(experiment, timezone.now() - datetime.timedelta(hours=2))
    services.send_to_review(experiment, by=people["operator"], note="day 5")
    decided_at = timezone.now()
    services.decide(
        experiment, decision="rollback", by=people["operator"], rationale="no", now=decided_at
    )

    # Trades after the decision change neither the decision's scorecard nor the shown one.
    trade(baseline.bot, "late", decided_at, -50, release=experiment.candidate_release)
    refresh_scorecards()
    experiment.refresh_from_db()
    decision = experiment.decisions.get()
    assert decision.scorecard["trades"] == {"baseline": 10, "test": 10}
    assert experiment.scorecard == decision.scorecard
    assert experiment.scorecard_computed_at == decided_at
    assert experiment.shown_scorecard() == (decision.scorecard, decided_at)


def test_start_and_review_queue_a_refresh(
    baseline, people, redis_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        experiment = run_through(draft(baseline, people), people)
    assert queued(redis_queue) == [JOB]
    with django_capture_on_commit_callbacks(execute=True):
        services.send_to_review(experiment, by=people["operator"], note="day 5")
    assert queued(redis_queue) == [JOB, JOB]


def test_an_operator_recomputes_from_the_page_in_the_background(
    baseline, people, redis_queue, django_capture_on_commit_callbacks
):
    experiment = started_five_days_ago(baseline, people)
    operator = Client()
    log_in_as(operator, "olga", OPERATOR)
    page = reverse("admin:experiments_experiment_change", args=[experiment.pk])
    assert "Recompute scorecard" in operator.get(page).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            reverse("admin:experiments_experiment_changelist"),
            {"action": "refresh_scorecard", "_selected_action": [experiment.pk]},
            follow=True,
        )
    assert "being recomputed" in response.content.decode()
    assert response.redirect_chain == [(page, 302)]  # back on the experiment
    assert queued(redis_queue) == [JOB]
    assert not Experiment.objects.get(pk=experiment.pk).scorecard  # not in the request


def test_the_page_shows_the_stored_scorecard_and_when_it_was_computed(
    baseline, people, django_assert_max_num_queries
):
    experiment = started_five_days_ago(baseline, people)
    lead = Client()
    log_in_as(lead, "lara", TEAM_LEAD)
    page = reverse("admin:experiments_experiment_change", args=[experiment.pk])

    # The same few reads whatever the trade count: no KPI or trade query.
    with django_assert_max_num_queries(PAGE_QUERIES):
        before = lead.get(page).content.decode()
    assert "not computed yet" in before and "Verdict" not in before

    refresh_scorecard(experiment, datetime.datetime(2026, 11, 25, 9, 30, tzinfo=datetime.UTC))
    with django_assert_max_num_queries(PAGE_QUERIES):
        after = lead.get(page).content.decode()
    assert "Computed at 2026-11-25 09:30 UTC" in after and "Verdict: before/after only" in after
