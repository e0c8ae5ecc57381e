"""Actions that behave (issue 23, section 3): a button is offered only when its action can
succeed now, or shown disabled with the service's reason, before anyone types a note; an action
on one object lands back on that object's page with a message in the team's words."""

import re

import pytest
from django.urls import reverse

from experiments import lifecycle
from integrity.models import IntegrityIncident
from integrity.services import open_or_bump_incident, resolve_incident
from tests.factories import draft, log_in_as, run_through
from tradeops.roles import OPERATOR, TEAM_LEAD

INCIDENTS = reverse("admin:integrity_integrityincident_changelist")
EXPERIMENTS = reverse("admin:experiments_experiment_changelist")


@pytest.fixture
def incident(bot):
    return open_or_bump_incident(
        bot=bot,
        kind=IntegrityIncident.Kind.ORPHAN_FILLS,
        severity=IntegrityIncident.Severity.WARNING,
        title="Fills without a trade",
    )


def test_start_is_not_offered_while_another_experiment_runs(baseline, people):
    run_through(draft(baseline, people), people)  # A runs
    b = run_through(
        draft(baseline, people, lever="fib_proximity_bps", fib_proximity_bps=20),
        people,
        until="approve",
    )
    assert "start" not in lifecycle.open_moves(b, people["operator"])
    assert lifecycle.open_moves(b, people["operator"]) == ["withdraw"]
    [(move, why)] = lifecycle.blocked_moves(b, people["operator"])
    assert move == "start"
    assert "another experiment is already running" in why


def test_start_is_not_offered_while_the_prerequisite_is_not_decided(baseline, people):
    a = run_through(draft(baseline, people), people, until="submit")
    b = draft(baseline, people, lever="fib_proximity_bps", fib_proximity_bps=20)
    b.prerequisite = a
    b.save()
    b = run_through(b, people, until="approve")
    assert "start" not in lifecycle.open_moves(b, people["operator"])
    why = dict(lifecycle.blocked_moves(b, people["operator"]))["start"]
    assert why == f"{b.name} is queued after {a.name}, which is submitted, not decided"


def test_a_resolved_incident_refuses_acknowledge_before_the_note(client, incident):
    resolve_incident(incident)
    log_in_as(client, "ops", OPERATOR)

    note_page = client.post(INCIDENTS, {"action": "acknowledge", "_selected_action": [incident.pk]})
    text = note_page.content.decode()
    assert "Not possible now: Fills without a trade is resolved, not open" in text
    assert 'name="note"' not in text

    page = client.get(reverse("admin:integrity_integrityincident_change", args=[incident.pk]))
    text = page.content.decode()
    assert re.search(r"<button[^>]*disabled[^>]*>Acknowledge</button>", text)
    assert "Fills without a trade is resolved, not open" in text


def test_acknowledging_one_incident_lands_back_on_it_with_its_new_state(client, incident):
    log_in_as(client, "ops", OPERATOR)
    response = client.post(
        INCIDENTS,
        {
            "action": "acknowledge",
            "_selected_action": [incident.pk],
            "confirm": "yes",
            "note": "orphans from the resend; the dev is on it",
        },
    )
    own_page = reverse("admin:integrity_integrityincident_change", args=[incident.pk])
    assert response.status_code == 302 and response.url == own_page
    shown = [str(m) for m in client.get(own_page).context["messages"]]
    assert shown == ["Integrity incident Fills without a trade: acknowledged"]


def test_approving_one_experiment_lands_back_on_it_in_the_teams_words(client, baseline, people):
    experiment = run_through(draft(baseline, people), people, until="submit")
    client.force_login(people["lead"])
    response = client.post(
        EXPERIMENTS,
        {
            "action": "approve",
            "_selected_action": [experiment.pk],
            "confirm": "yes",
            "note": "one change, thresholds frozen",
        },
        follow=True,
    )
    own_page = reverse("admin:experiments_experiment_change", args=[experiment.pk])
    assert response.redirect_chain[-1][0] == own_page
    shown = [str(m) for m in response.context["messages"]]
    assert shown == ["A side_balance_pressure approved; an Operator may start it now"]
    assert not any("done" in message for message in shown)


def test_acting_on_several_objects_stays_on_the_list(client, bot, incident):
    other = open_or_bump_incident(
        bot=bot,
        kind=IntegrityIncident.Kind.ORPHAN_FILLS,
        severity=IntegrityIncident.Severity.WARNING,
        title="More fills without a trade",
        key="other",
    )
    log_in_as(client, "lead", TEAM_LEAD)
    response = client.post(
        INCIDENTS,
        {
            "action": "acknowledge",
            "_selected_action": [incident.pk, other.pk],
            "confirm": "yes",
            "note": "both seen",
        },
    )
    assert response.status_code == 302 and response.url.startswith(INCIDENTS)


def test_the_experiment_page_shows_start_disabled_with_why_and_its_note_page_refuses_first(
    client, baseline, people
):
    a = run_through(draft(baseline, people), people, until="submit")
    b = draft(baseline, people, lever="fib_proximity_bps", fib_proximity_bps=20)
    b.prerequisite = a
    b.save()
    b = run_through(b, people, until="approve")
    client.force_login(people["operator"])
    why = f"{b.name} is queued after {a.name}, which is submitted, not decided"

    page = client.get(reverse("admin:experiments_experiment_change", args=[b.pk])).content
    note_page = client.post(EXPERIMENTS, {"action": "start", "_selected_action": [b.pk]}).content

    assert re.search(r"<button[^>]*disabled[^>]*>Start</button>", page.decode())
    assert why in page.decode()
    assert f"Not possible now: {why}" in note_page.decode()
    assert 'name="note"' not in note_page.decode()


def test_approving_a_queued_experiment_says_when_it_can_start(client, baseline, people):
    a = run_through(draft(baseline, people), people, until="submit")
    b = draft(baseline, people, lever="fib_proximity_bps", fib_proximity_bps=20)
    b.prerequisite = a
    b.save()
    b = run_through(b, people, until="submit")
    client.force_login(people["lead"])

    response = client.post(
        EXPERIMENTS,
        {"action": "approve", "_selected_action": [b.pk], "confirm": "yes", "note": "good"},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse(
        "admin:experiments_experiment_change", args=[b.pk]
    )
    assert f"{b.name} approved; it starts after {a.name} is decided" in response.content.decode()
