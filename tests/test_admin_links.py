"""Every link on a change page opens for who reads the page: "Created by / Approved by" and the
other read-only foreign keys to users are links only for who may view users (no role may),
plain text for everyone else."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from experiments import services
from experiments.models import Experiment, ScalingStep
from integrity.models import IntegrityIncident
from integrity.services import acknowledge_incident, open_or_bump_incident
from tests.factories import candidate, draft, log_in_as, run_through
from tradeops.models import AuditEvent, StabilizationWindow
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER
from tradeops.services import issue_api_token

CHANGE_LINK = re.compile(r'href="(/admin/\w+/\w+/\d+/change/)"')


@pytest.fixture
def pages(baseline, people):
    """A change page of each kind with a person on it, as {name: url}."""
    experiment = run_through(draft(baseline, people), people)
    services.send_to_review(experiment, by=people["operator"], note="5 days in")
    services.decide(experiment, decision="rollback", by=people["operator"], rationale="worse")
    step = ScalingStep.objects.create(
        bot=baseline.bot,
        param="risk_per_trade_pct",
        from_release=baseline,
        to_release=candidate(baseline, people, tag="v1.4.1", risk_per_trade_pct="0.55"),
        step_pct=10,
        proposed_by=people["operator"],
        approved_by=people["lead"],
    )
    freeze = StabilizationWindow.objects.create(
        bot=baseline.bot,
        starts_at=timezone.now(),
        ends_at=timezone.now(),
        reason="stabilise",
        created_by=people["lead"],
    )
    incident = open_or_bump_incident(
        bot=baseline.bot,
        kind=IntegrityIncident.Kind.ROLLBACK_TRIGGER,
        severity="critical",
        title="t",
    )
    acknowledge_incident(incident, user=people["operator"], note="on it")
    issue_api_token(baseline.bot, label="ci", created_by=people["lead"])
    token = baseline.bot.api_tokens.get(label="ci")
    audit = AuditEvent.objects.filter(actor=people["lead"]).first()
    objects = {
        "experiment": experiment,
        "decision": experiment.decisions.get(),
        "release": experiment.candidate_release,
        "scaling step": step,
        "freeze": freeze,
        "incident": incident,
        "API token": token,
        "audit event": audit,
    }
    return {
        name: reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
        for name, obj in objects.items()
    }


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, TEAM_LEAD])
def test_every_link_on_a_change_page_opens_for_its_reader(client, pages, people, role):
    log_in_as(client, "reader", role)
    for name, url in pages.items():
        page = client.get(url)
        assert page.status_code == 200, name
        links = set(CHANGE_LINK.findall(page.content.decode()))
        assert not any(link.startswith("/admin/auth/user/") for link in links), name
        for link in links:
            assert client.get(link).status_code == 200, f"{name}: {link}"

    experiment = client.get(pages["experiment"]).content.decode()
    # The people are still named, as text.
    for label, who in [("Created by", "otto"), ("Submitted by", "otto"), ("Approved by", "lena")]:
        assert re.search(rf"{label}:?</label>\s*<div class=\"readonly\">{who}</div>", experiment)


def test_who_may_view_users_keeps_the_link(pages, people):
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", password="pw"))
    page = admin.get(pages["experiment"]).content.decode()

    approver = reverse("admin:auth_user_change", args=[people["lead"].pk])
    assert f'href="{approver}"' in page
    assert admin.get(approver).status_code == 200


def test_an_editable_draft_keeps_its_fields_for_an_operator(client, baseline, people):
    """Only the read-only fields change: an Operator still edits a draft's form."""
    experiment = draft(baseline, people)
    log_in_as(client, "reader", OPERATOR)

    page = client.get(reverse("admin:experiments_experiment_change", args=[experiment.pk]))

    assert page.status_code == 200
    form = page.context["adminform"].form
    assert {"name", "lever", "candidate_release"} <= set(form.fields)
    assert "created_by" not in form.fields
    assert Experiment.objects.get().status == Experiment.Status.DRAFT
