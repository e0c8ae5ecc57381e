"""Approving a queued experiment is one approval: its candidate release is approved with it,
under the same four-eyes rules, and the audit shows both."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from experiments import services
from experiments.models import Experiment
from experiments.plan import draft_from_plan
from tests.factories import log_in_as
from tradeops.audit import history
from tradeops.models import ConfigRelease
from tradeops.roles import TEAM_LEAD


def queued(baseline, by):
    """Experiment A as the plan's queue drafts it: its candidate release is a draft."""
    return draft_from_plan(
        bot=baseline.bot,
        key="A",
        lever="side_balance_pressure",
        value="0.3",
        tag="v1.5.0-a",
        by=by,
    )


def test_approving_the_experiment_approves_its_candidate_so_it_starts(baseline, people):
    experiment = queued(baseline, people["operator"])
    services.submit(experiment, by=people["operator"], note="ready")

    services.approve(experiment, by=people["lead"], note="one lever, risk unchanged")
    services.start(experiment, by=people["operator"], note="deployed")

    candidate = ConfigRelease.objects.get(tag="v1.5.0-a")
    assert candidate.is_approved and candidate.approved_by == people["lead"]
    assert experiment.status == Experiment.Status.RUNNING
    approved = history(candidate).get(action="approved")
    assert approved.actor == people["lead"]
    assert approved.note == f"with experiment {experiment.name} (#{experiment.pk}): " + (
        "one lever, risk unchanged"
    )
    assert [e.action for e in history(experiment)] == ["created", "submit", "approve", "start"]


def test_the_submitter_approves_neither(baseline, people):
    experiment = queued(baseline, people["operator"])
    services.submit(experiment, by=people["lead"], note="lead submits")

    with pytest.raises(ValidationError, match="four-eyes: lena submitted"):
        services.approve(experiment, by=people["lead"], note="self")

    assert not ConfigRelease.objects.get(tag="v1.5.0-a").is_approved
    services.approve(experiment, by=people["lead2"], note="second lead")
    assert ConfigRelease.objects.get(tag="v1.5.0-a").approved_by == people["lead2"]


def test_who_wrote_the_candidate_approves_neither(baseline, people):
    experiment = queued(baseline, people["lead"])
    services.submit(experiment, by=people["operator"], note="ready")

    with pytest.raises(ValidationError, match="four-eyes: lena created release v1.5.0-a"):
        services.approve(experiment, by=people["lead"], note="mine")

    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.SUBMITTED
    assert experiment.approved_by is None
    assert not ConfigRelease.objects.get(tag="v1.5.0-a").is_approved
    assert not history(experiment).filter(action="approve").exists()


def test_one_approval_in_the_admin(client, baseline, people):
    experiment = queued(baseline, people["operator"])
    services.submit(experiment, by=people["operator"], note="ready")
    log_in_as(client, "lea", TEAM_LEAD)

    client.post(
        reverse("admin:experiments_experiment_changelist"),
        {"action": "approve", "_selected_action": [experiment.pk], "confirm": "yes", "note": "ok"},
    )

    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.APPROVED
    assert ConfigRelease.objects.get(tag="v1.5.0-a").is_approved
