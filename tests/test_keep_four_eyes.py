"""Four eyes on a keep (plan section 3): an Operator logs keep / rollback / iterate as before;
a rollback or an iteration takes effect at once, a keep only once a Team lead other than who
logged it confirms it. Meanwhile the bot runs the candidate, under the rollback triggers."""

import datetime
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from experiments import services
from experiments.jobs import evaluate_triggers_job
from experiments.models import Experiment
from tests.factories import candidate, draft, log_in_as, midnight, run_through
from tradeops.audit import history
from tradeops.models import ConfigRelease, HealthEvent, ReleaseChange
from tradeops.roles import OPERATOR

EXPERIMENTS = reverse("admin:experiments_experiment_changelist")
CONFIRM_BUTTON = re.compile(r'value="confirm_keep">(?:(?!</form>).)*>Confirm keep</button>', re.S)


@pytest.fixture
def reviewed(baseline, people):
    """Experiment A, 6 days in and in review: its candidate is what the bot runs."""
    experiment = run_through(draft(baseline, people), people, now=midnight(6))
    return services.send_to_review(experiment, by=people["operator"], note="day 6")


def keep(experiment, by):
    experiment, _ = services.decide(
        experiment, decision="keep", by=by, rationale="less one-sided", without_better=True
    )
    return experiment


def baseline_tag(bot):
    return ConfigRelease.objects.get(bot=bot, is_baseline=True).tag


def test_a_logged_keep_changes_nothing_the_bot_runs(reviewed, people):
    bot = reviewed.bot
    changes = ReleaseChange.objects.count()

    kept = keep(reviewed, people["operator"])

    bot.refresh_from_db()
    assert (kept.status, kept.decision) == ("keep_pending", "keep")
    assert kept.get_status_display() == "Keep awaiting confirmation"
    assert kept.keep_logged_by == people["operator"] and kept.ended_at is None
    assert baseline_tag(bot) == "v1.4.0"
    assert bot.current_release == kept.candidate_release
    assert ReleaseChange.objects.count() == changes
    row = history(kept).last()
    assert (row.action, row.from_state, row.to_state, row.actor) == (
        "keep",
        "review",
        "keep_pending",
        people["operator"],
    )
    assert kept.decisions.get().decided_by == people["operator"]


def test_a_second_team_lead_confirms_and_the_candidate_becomes_the_baseline(reviewed, people):
    kept = keep(reviewed, people["operator"])

    confirmed = services.confirm_keep(
        kept, by=people["lead"], note="weekly review: side mix 62/38, expectancy held"
    )

    bot = confirmed.bot
    bot.refresh_from_db()
    assert confirmed.status == "decided" and confirmed.decision == "keep"
    assert (confirmed.keep_confirmed_by, confirmed.ended_at) == (
        people["lead"],
        confirmed.keep_confirmed_at,
    )
    assert baseline_tag(bot) == confirmed.candidate_release.tag
    assert bot.current_release == confirmed.candidate_release
    change = bot.current_change
    assert (change.reason, change.by) == ("decision", "lena")
    assert change.reference.endswith("keep confirmed")
    row = history(confirmed).last()
    assert (row.action, row.from_state, row.to_state, row.actor, row.note) == (
        "confirm keep",
        "keep_pending",
        "decided",
        people["lead"],
        "weekly review: side mix 62/38, expectancy held",
    )
    assert history(confirmed.candidate_release).last().action == "baseline"


def test_who_logged_the_keep_does_not_confirm_it(reviewed, people):
    kept = keep(reviewed, people["lead"])

    with pytest.raises(ValidationError, match="four-eyes: lena logged the keep of"):
        services.confirm_keep(kept, by=people["lead"], note="mine")
    with pytest.raises(PermissionDenied):
        services.confirm_keep(kept, by=people["operator"], note="me too")

    kept.refresh_from_db()
    assert kept.status == "keep_pending" and baseline_tag(kept.bot) == "v1.4.0"
    services.confirm_keep(kept, by=people["lead2"], note="second pair of eyes")
    assert baseline_tag(kept.bot) == kept.candidate_release.tag


def test_the_database_holds_the_four_eyes_too(reviewed, people):
    kept = keep(reviewed, people["operator"])

    with pytest.raises(IntegrityError, match="experiment_keep_four_eyes"), transaction.atomic():
        Experiment.objects.filter(pk=kept.pk).update(
            status="decided", keep_confirmed_by=people["operator"]
        )
    pending_unlogged = pytest.raises(IntegrityError, match="experiment_pending_keep_was_logged")
    with pending_unlogged, transaction.atomic():
        Experiment.objects.filter(pk=kept.pk).update(keep_logged_by=None)


def test_rollback_and_iterate_take_effect_at_once(reviewed, people):
    decided, _ = services.decide(
        reviewed, decision="rollback", by=people["operator"], rationale="worse"
    )

    decided.bot.refresh_from_db()
    assert decided.status == "decided"
    assert decided.bot.current_release == decided.baseline_release


def test_a_team_lead_may_roll_back_a_pending_keep_instead(reviewed, people):
    kept = keep(reviewed, people["operator"])
    with pytest.raises(PermissionDenied):
        services.decide(kept, decision="rollback", by=people["operator"], rationale="changed mind")
    with pytest.raises(ValidationError, match="it is keep_pending, not review"):
        services.decide(kept, decision="iterate", by=people["lead"], rationale="try 0.2")

    rolled, _ = services.decide(
        kept, decision="rollback", by=people["lead"], rationale="drawdown up at the review"
    )

    rolled.bot.refresh_from_db()
    assert (rolled.status, rolled.decision) == ("decided", "rollback")
    assert rolled.bot.current_release == rolled.baseline_release
    assert baseline_tag(rolled.bot) == "v1.4.0"
    assert [d.decision for d in rolled.decisions.order_by("decided_at", "pk")] == [
        "keep",
        "rollback",
    ]
    assert history(rolled).last().action == "roll back keep"


def test_b_waits_until_a_pending_keep_is_decided(reviewed, people):
    b = services.create_experiment(
        bot=reviewed.bot,
        name="B entry quality",
        lever="fib_proximity_bps",
        candidate=candidate(reviewed.baseline_release, people, tag="b", fib_proximity_bps=15),
        success_criteria="higher profit factor",
        by=people["operator"],
        prerequisite=reviewed,
    )
    run_through(b, people, until="approve")
    kept = keep(reviewed, people["operator"])

    with pytest.raises(ValidationError, match="which is keep_pending, not decided"):
        services.start(b, by=people["operator"], note="go")

    services.decide(kept, decision="rollback", by=people["lead"], rationale="no")
    assert services.start(b, by=people["operator"], note="go").status == "running"


def test_no_other_experiment_starts_while_a_keep_awaits(reviewed, people):
    other = run_through(
        draft(reviewed.baseline_release, people, lever="fib_proximity_bps", fib_proximity_bps=20),
        people,
        until="approve",
    )
    keep(reviewed, people["operator"])

    with pytest.raises(ValidationError, match="already running"):
        services.start(other, by=people["operator"], note="go")
    with pytest.raises(ValidationError, match="awaiting confirmation: cannot change the baseline"):
        services.make_baseline(
            reviewed.baseline_release, by=people["lead"], note="by hand", now=None
        )


def test_the_rollback_triggers_watch_a_pending_keep(reviewed, people, embedded):
    kept = keep(reviewed, people["operator"])
    HealthEvent.objects.create(
        bot=kept.bot,
        ts=midnight(0) - datetime.timedelta(hours=1),
        kind="state_change",
        state="HALT",
    )

    evaluate_triggers_job()

    kept.refresh_from_db()
    kept.bot.refresh_from_db()
    assert kept.status == "stopped" and kept.decision == ""
    assert kept.bot.current_release == kept.baseline_release
    assert kept.trigger_evidence["fired"][0]["trigger"] == "halt"
    with pytest.raises(ValidationError, match="it is stopped"):
        services.confirm_keep(kept, by=people["lead"], note="too late")


def test_the_confirm_keep_button_is_for_another_team_lead(reviewed, people):
    kept = keep(reviewed, people["lead"])
    page = reverse("admin:experiments_experiment_change", args=[kept.pk])
    lead, other_lead, operator = Client(), Client(), Client()
    lead.force_login(people["lead"])
    other_lead.force_login(people["lead2"])
    log_in_as(operator, "ops", OPERATOR)

    assert not CONFIRM_BUTTON.search(lead.get(page).content.decode())
    assert not CONFIRM_BUTTON.search(operator.get(page).content.decode())
    assert CONFIRM_BUTTON.search(other_lead.get(page).content.decode())
    assert "Roll back instead" in lead.get(page).content.decode()

    for client in (lead, operator):  # their own posts change nothing
        client.post(
            EXPERIMENTS,
            {
                "action": "confirm_keep",
                "_selected_action": [kept.pk],
                "confirm": "yes",
                "note": "x",
            },
        )
        kept.refresh_from_db()
        assert kept.status == "keep_pending"
    other_lead.post(
        EXPERIMENTS,
        {"action": "confirm_keep", "_selected_action": [kept.pk], "confirm": "yes", "note": "ok"},
    )
    kept.refresh_from_db()
    assert kept.status == "decided" and kept.keep_confirmed_by == people["lead2"]
