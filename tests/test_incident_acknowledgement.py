"""Acknowledging an incident, from its page or the list: who may, with a note that is kept and
audited, and shown on the incident's page."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrity.models import IntegrityIncident
from integrity.services import acknowledge_incident, open_or_bump_incident
from tests.factories import log_in_as
from tradeops.audit import history
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER

INCIDENTS = reverse("admin:integrity_integrityincident_changelist")
ACKNOWLEDGE_BUTTON = re.compile(
    r'value="acknowledge">(?:(?!</form>).)*>Acknowledge</button>', re.DOTALL
)


@pytest.fixture
def incident(bot):
    return open_or_bump_incident(
        bot=bot,
        kind=IntegrityIncident.Kind.ORPHAN_FILLS,
        severity=IntegrityIncident.Severity.WARNING,
        title="Fills without a trade",
    )


def page(client, incident):
    return client.get(reverse("admin:integrity_integrityincident_change", args=[incident.pk]))


def acknowledge(client, incident, note):
    """The Acknowledge button's post, then the note page's confirm."""
    client.post(INCIDENTS, {"action": "acknowledge", "_selected_action": [incident.pk]})
    return client.post(
        INCIDENTS,
        {
            "action": "acknowledge",
            "_selected_action": [incident.pk],
            "confirm": "yes",
            "note": note,
        },
        follow=True,
    )


@pytest.mark.parametrize("role", [OPERATOR, TEAM_LEAD])
def test_the_incident_page_acknowledges_with_a_note(client, incident, role):
    user = log_in_as(client, "ops", role)
    assert ACKNOWLEDGE_BUTTON.search(page(client, incident).content.decode())

    note_page = client.post(INCIDENTS, {"action": "acknowledge", "_selected_action": [incident.pk]})
    assert 'name="note"' in note_page.content.decode()
    acknowledge(client, incident, "orphans from the 02:00 resend; the dev is on it")

    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == ("acknowledged", user)
    row = history(incident).get()
    assert (row.action, row.actor, row.from_state, row.to_state, row.note) == (
        "acknowledged",
        user,
        "open",
        "acknowledged",
        "orphans from the 02:00 resend; the dev is on it",
    )
    shown = page(client, incident).content.decode()
    assert "orphans from the 02:00 resend; the dev is on it" in shown
    assert not ACKNOWLEDGE_BUTTON.search(shown)  # done: no button any more


def test_no_note_no_acknowledgement(client, incident):
    operator = log_in_as(client, "ops", OPERATOR)

    acknowledge(client, incident, "  ")

    incident.refresh_from_db()
    assert incident.status == "open" and not history(incident).exists()
    with pytest.raises(ValidationError, match="a note is required"):
        acknowledge_incident(incident, user=operator, note="")


def test_a_viewer_gets_no_button_and_their_post_changes_nothing(client, incident):
    log_in_as(client, "watcher", VIEWER)
    assert not ACKNOWLEDGE_BUTTON.search(page(client, incident).content.decode())

    response = acknowledge(client, incident, "seen")

    assert response.status_code in (200, 403)
    incident.refresh_from_db()
    assert incident.status == "open" and incident.acknowledged_by is None
    assert not history(incident).exists()


def test_the_list_action_asks_for_the_note_too(client, bot, incident):
    other = open_or_bump_incident(
        bot=bot, kind=IntegrityIncident.Kind.TRADE_CONFLICT, severity="critical", title="Conflict"
    )
    log_in_as(client, "ops", OPERATOR)

    client.post(
        INCIDENTS,
        {"action": "acknowledge", "_selected_action": [incident.pk, other.pk], "confirm": "yes"},
    )
    assert IntegrityIncident.objects.filter(status="open").count() == 2
    client.post(
        INCIDENTS,
        {
            "action": "acknowledge",
            "_selected_action": [incident.pk, other.pk],
            "confirm": "yes",
            "note": "both from the same resend",
        },
    )

    assert IntegrityIncident.objects.filter(status="acknowledged").count() == 2
    assert [row.note for row in history(other)] == ["both from the same resend"]
