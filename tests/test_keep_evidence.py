"""A keep says what it rests on (issue 21, section 4): without a concurrent 'better' verdict the
Operator must say so explicitly, the confirming Team lead sees it, and the audit keeps it."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from experiments import services
from experiments.models import ExperimentDecision
from tests.factories import draft, midnight, run_through
from tradeops.audit import history

EXPERIMENTS = reverse("admin:experiments_experiment_changelist")


@pytest.fixture
def reviewed(baseline, people):
    """Experiment A, 6 days in and in review, with no trades: its verdict is not 'better'."""
    experiment = run_through(draft(baseline, people), people, now=midnight(6))
    return services.send_to_review(experiment, by=people["operator"], note="day 6")


def test_a_keep_without_a_better_verdict_is_refused_unless_said_so(reviewed, people):
    with pytest.raises(ValidationError, match="verdict is .* not 'better'"):
        services.decide(reviewed, decision="keep", by=people["operator"], rationale="fine")
    reviewed.refresh_from_db()
    assert reviewed.status == "review" and not ExperimentDecision.objects.exists()

    kept, _ = services.decide(
        reviewed,
        decision="keep",
        by=people["operator"],
        rationale="the spread looks better to me",
        without_better=True,
    )

    assert kept.status == "keep_pending"
    logged = ExperimentDecision.objects.get(experiment=kept)
    assert logged.kept_without_better and logged.scorecard["verdict"] != "better"
    assert "[kept without a concurrent 'better' verdict]" in history(kept).last().note


def test_a_rollback_needs_no_better_verdict(reviewed, people):
    rolled, _ = services.decide(
        reviewed, decision="rollback", by=people["operator"], rationale="no"
    )

    assert rolled.status == "decided"
    assert not ExperimentDecision.objects.get(experiment=rolled).kept_without_better


def test_the_operator_ticks_it_on_the_decision_page_and_the_confirming_lead_sees_it(
    reviewed, people
):
    operator, other_lead = Client(), Client()
    operator.force_login(people["operator"])
    other_lead.force_login(people["lead2"])
    decide = {"action": "decide", "_selected_action": [reviewed.pk], "decision": "keep"}

    page = operator.post(EXPERIMENTS, decide).content.decode()
    unticked = operator.post(EXPERIMENTS, {**decide, "confirm": "yes", "note": "go"}, follow=True)
    reviewed.refresh_from_db()
    status_unticked = reviewed.status
    operator.post(EXPERIMENTS, {**decide, "confirm": "yes", "note": "go", "without_better": "on"})
    reviewed.refresh_from_db()
    confirm_page = other_lead.post(
        EXPERIMENTS, {"action": "confirm_keep", "_selected_action": [reviewed.pk]}
    ).content.decode()

    assert "Keep without a &#x27;better&#x27; verdict" in page
    assert status_unticked == "review"
    assert "not &#x27;better&#x27;" in unticked.content.decode()
    assert reviewed.status == "keep_pending"
    assert "Kept without a concurrent 'better' verdict" in confirm_page
    assert str(people["operator"]) in confirm_page
