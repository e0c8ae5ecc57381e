"""Project-level guarantees: deploy checks, roles, and read-only evidence in the admin."""

import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from tests.factories import closed_trade, ingest
from tradeops.models import Trade
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER, ensure_roles
from tradeops.services import authenticate_bot_token


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "False",
        "SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-0123456789",
        "ALLOWED_HOSTS": "tradeops.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "FIELD_ENCRYPTION_KEY": "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg=",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = {"PATH": os.environ["PATH"], "DEBUG": "False"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_roles_exist_with_their_permissions():
    ensure_roles()  # idempotent: runs after migrate already
    perms = {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.prefetch_related("permissions__content_type")
    }
    assert {"tradeops.view_trade", "tradeops.view_quarantinedrecord"} <= perms[VIEWER]
    assert all(p.split(".")[1].startswith("view_") for p in perms[VIEWER])
    assert "integrity.change_integrityincident" in perms[OPERATOR]
    # Operators draft releases; only a Team lead approves them and changes the baseline.
    assert "tradeops.add_configrelease" in perms[OPERATOR]
    assert "tradeops.approve_configrelease" not in perms[OPERATOR]
    assert "tradeops.approve_configrelease" in perms[TEAM_LEAD]
    assert "experiments.approve_experiment" not in perms[OPERATOR]
    assert "experiments.approve_scalingstep" in perms[TEAM_LEAD]
    assert not any("change_trade" in p or "delete_" in p for p in perms[TEAM_LEAD])


@pytest.fixture
def viewer_client(client, db):
    user = User.objects.create_user("vera", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=VIEWER))
    client.force_login(user)
    return client


ADMIN_MODELS = [
    "tradeops_bot",
    "tradeops_apitoken",
    "tradeops_paramspec",
    "tradeops_configrelease",
    "tradeops_trade",
    "tradeops_fill",
    "tradeops_decisioncount",
    "tradeops_healthevent",
    "tradeops_equitysnapshot",
    "tradeops_quarantinedrecord",
    "tradeops_ingestbatch",
    "integrity_integrityincident",
    "tradeops_jobrun",
    "kpis_kpisnapshot",
    "kpis_baselinereport",
    "tradeops_stabilizationwindow",
    "tradeops_auditevent",
    "experiments_experiment",
    "experiments_experimentdecision",
    "experiments_scalingstep",
]


@pytest.mark.parametrize("model", ADMIN_MODELS)
def test_viewer_can_read_every_list(viewer_client, bot, model):
    ingest(bot, "trades", closed_trade(), closed_trade(external_id="bad", qty="0"))
    response = viewer_client.get(reverse(f"admin:{model}_changelist"))
    assert response.status_code == 200


def test_ingested_trades_are_read_only_even_for_a_superuser(admin_client, bot):
    ingest(bot, "trades", closed_trade())
    trade = bot.trades.get()
    page = admin_client.get(reverse("admin:tradeops_trade_change", args=[trade.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert admin_client.get(reverse("admin:tradeops_trade_add")).status_code == 403
    delete = admin_client.post(reverse("admin:tradeops_trade_delete", args=[trade.pk]))
    assert delete.status_code == 403


def test_quarantined_record_page_shows_errors_and_payload(admin_client, bot):
    ingest(bot, "trades", closed_trade(external_id="bad", side="sideways"))
    record = bot.quarantined_records.get()
    page = admin_client.get(reverse("admin:tradeops_quarantinedrecord_change", args=[record.pk]))
    assert b"must be one of long, short" in page.content
    assert b"sideways" in page.content


def test_trade_list_shows_readable_figures_in_utc(admin_client, bot):
    ingest(bot, "trades", closed_trade(qty="0.5", net_pnl="94.25"))
    page = admin_client.get(reverse("admin:tradeops_trade_changelist")).content.decode()
    assert ">94.25<" in page
    # Moments to the minute under a header that says UTC (issue 23: the list fits 1,400 px).
    assert "closed utc" in page.lower() and "2026-11-02" in page and "10:00" in page
    # The quantity is on the trade's own page, as readable.
    trade = Trade.objects.get(bot=bot)
    detail = admin_client.get(reverse("admin:tradeops_trade_change", args=[trade.pk]))
    assert "0.5" in detail.content.decode() and "0.500000000000" not in detail.content.decode()


def test_team_lead_issues_and_revokes_tokens_in_the_admin(client, bot_and_token):
    bot, first_token = bot_and_token
    lead = User.objects.create_user("lena", password="pw", is_staff=True)
    lead.groups.add(Group.objects.get(name=TEAM_LEAD))
    client.force_login(lead)

    issued = client.post(
        reverse("admin:tradeops_bot_changelist"),
        {"action": "issue_token", "_selected_action": [bot.pk]},
    )
    [(_, new_token)] = issued.context["issued"]
    assert authenticate_bot_token(new_token) == bot

    first = bot.api_tokens.get(prefix=first_token[:12])
    client.post(
        reverse("admin:tradeops_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [first.pk]},
    )
    first.refresh_from_db()
    assert first.revoked_by == lead
    assert authenticate_bot_token(first_token) is None
    assert authenticate_bot_token(new_token) == bot


def test_viewer_cannot_revoke_tokens(viewer_client, bot_and_token):
    bot, token = bot_and_token
    viewer_client.post(
        reverse("admin:tradeops_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [bot.api_tokens.get().pk]},
    )
    assert authenticate_bot_token(token) == bot


@pytest.mark.parametrize("value", [5, "take_profit", ["take_profit", 3], [""]])
def test_exit_reason_vocabulary_must_be_a_list_of_names(admin_client, bot, value):
    from django.core.exceptions import ValidationError

    bot.known_exit_reasons = value
    with pytest.raises(ValidationError, match="list of exit reason strings"):
        bot.full_clean()
