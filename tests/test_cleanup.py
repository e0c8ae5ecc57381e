"""The cleanup SOP: dry-run first, apply second, restore if needed, and no row is ever lost."""

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse

from integrity.cleanup import (
    CleanupRefused,
    _fingerprint,
    _snapshot,
    apply_cleanup,
    plan_cleanup,
    restore_cleanup,
)
from integrity.models import CleanupPlan
from tests.factories import closed_trade, ingest, log_in_as
from tradeops.audit import history
from tradeops.models import Fill, QuarantinedRecord, Trade
from tradeops.roles import OPERATOR, TEAM_LEAD
from tradeops.services import create_bot

FILL = {
    "trade_external_id": "BAD",
    "ts": "2026-11-02T10:00:00Z",
    "side": "sell",
    "price": "50000",
    "qty": "0.5",
    "fee": "1",
    "liquidity": "taker",
}


@pytest.fixture
def legacy(bot):
    """Two good trades and one stored before today's P&L rule, with a fill."""
    ingest(
        bot,
        "trades",
        closed_trade(external_id="G1"),
        closed_trade(external_id="G2"),
        closed_trade(external_id="BAD"),
    )
    ingest(bot, "fills", {**FILL, "external_id": "F-BAD"})
    Trade.objects.filter(external_id="BAD").update(net_pnl=Decimal("999"))
    return bot


def fingerprint(trade):
    return _fingerprint(_snapshot(trade.pk))


def everything():
    trades = list(Trade.objects.order_by("pk").values())
    fills = list(Fill.objects.order_by("pk").values())
    return trades, fills


def test_dry_run_plans_exactly_the_failing_rows_and_changes_nothing(legacy):
    before = everything()
    plan = plan_cleanup(legacy, by="otto")

    assert [row["external_id"] for row in plan.rows] == ["BAD"]
    assert plan.rows[0]["action"] == "move_to_quarantine"
    assert "net_pnl 999" in plan.rows[0]["reasons"][0]
    assert len(plan.rows[0]["fingerprint"]) == 64
    assert (plan.planned_by, plan.status) == ("otto", "planned")
    assert everything() == before


def test_apply_moves_rows_whole_into_quarantine_and_restore_brings_them_back(legacy):
    before = everything()
    plan = plan_cleanup(legacy, by="otto")

    apply_cleanup(plan.pk, by="lena")

    assert set(Trade.objects.values_list("external_id", flat=True)) == {"G1", "G2"}
    assert not Fill.objects.exists()
    moved = QuarantinedRecord.objects.get(reason="cleanup")
    assert moved.source == f"cleanup plan {plan.pk}"
    assert '"external_id": "F-BAD"' in moved.raw and '"net_pnl": "999' in moved.raw
    plan.refresh_from_db()
    assert (plan.status, plan.applied_by) == ("applied", "lena")

    restore_cleanup(plan.pk, by="lena")

    assert everything() == before  # same ids, same values: nothing lost
    assert not QuarantinedRecord.objects.filter(reason="cleanup").exists()
    plan.refresh_from_db()
    assert plan.status == "restored"


def test_apply_is_refused_when_a_row_changed_since_the_dry_run(legacy):
    plan = plan_cleanup(legacy, by="otto")
    Trade.objects.filter(external_id="BAD").update(exit_reason="stop_loss")

    with pytest.raises(CleanupRefused, match="BAD changed since the dry run"):
        apply_cleanup(plan.pk, by="lena")
    assert Trade.objects.filter(external_id="BAD").exists()


def test_apply_is_refused_when_a_fill_of_the_row_changed(legacy):
    plan = plan_cleanup(legacy, by="otto")
    Fill.objects.update(fee=Decimal("2"))
    with pytest.raises(CleanupRefused, match="changed"):
        apply_cleanup(plan.pk, by="lena")


def test_a_plan_is_applied_once_and_a_missing_plan_is_refused(legacy):
    plan = plan_cleanup(legacy, by="otto")
    apply_cleanup(plan.pk, by="lena")
    with pytest.raises(CleanupRefused, match="is applied, not planned"):
        apply_cleanup(plan.pk, by="lena")
    with pytest.raises(CleanupRefused, match="no cleanup plan 9999"):
        apply_cleanup(9999, by="lena")
    with pytest.raises(CleanupRefused, match="is planned, not applied"):
        restore_cleanup(plan_cleanup(legacy, by="otto").pk, by="lena")


def test_command_runs_the_sop(legacy, capsys):
    call_command("cleanup_malformed_trades", "--dry-run", "--bot", legacy.slug, "--by", "otto")
    out = capsys.readouterr().out
    plan = CleanupPlan.objects.get()
    assert f"Cleanup plan {plan.pk}" in out and "move_to_quarantine   trade BAD" in out

    call_command("cleanup_malformed_trades", "--apply", str(plan.pk), "--by", "lena")
    assert "1 trade(s) moved to quarantine" in capsys.readouterr().out
    with pytest.raises(CommandError, match="refused"):
        call_command("cleanup_malformed_trades", "--apply", str(plan.pk))
    call_command("cleanup_malformed_trades", "--restore", str(plan.pk))
    assert Trade.objects.filter(external_id="BAD").exists()


@pytest.mark.django_db(transaction=True)
def test_operator_script_wraps_the_command(legacy):
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    result = subprocess.run(
        [
            sys.executable,
            "scripts/cleanup_malformed_trades.py",
            "--dry-run",
            "--bot",
            "alpha",
            "--by",
            "script",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "move_to_quarantine" in result.stdout
    assert CleanupPlan.objects.get().planned_by == "script"


def test_operator_dry_runs_from_the_admin_but_only_a_team_lead_applies(client, legacy):
    log_in_as(client, "otto", OPERATOR)
    client.post(
        reverse("admin:tradeops_bot_changelist"),
        {"action": "cleanup_dry_run", "_selected_action": [legacy.pk]},
    )
    plan = CleanupPlan.objects.get()
    apply_url = reverse("admin:integrity_cleanupplan_changelist")
    client.post(
        apply_url, {"action": "apply_plan", "_selected_action": [plan.pk], "confirm": "yes"}
    )
    plan.refresh_from_db()
    assert plan.status == "planned"

    log_in_as(client, "lena", TEAM_LEAD)
    client.post(apply_url, {"action": "apply_plan", "_selected_action": [plan.pk]})
    plan.refresh_from_db()
    assert plan.status == "planned"  # the confirmation page first
    client.post(
        apply_url, {"action": "apply_plan", "_selected_action": [plan.pk], "confirm": "yes"}
    )
    plan.refresh_from_db()
    assert (plan.status, plan.applied_by) == ("applied", "admin:lena")


def test_a_plan_edited_to_name_another_bots_trade_is_refused_and_moves_nothing(legacy):
    plan = plan_cleanup(legacy, by="otto")
    other = create_bot(slug="victim")[0]
    ingest(other, "trades", closed_trade(external_id="V1"))
    victim_trade = Trade.objects.get(bot=other)
    # Someone with database access points the stored plan at the other bot's trade.
    plan.rows = [
        {**plan.rows[0], "trade_id": victim_trade.pk, "fingerprint": fingerprint(victim_trade)}
    ]
    plan.save()

    with pytest.raises(CleanupRefused, match="another bot than alpha"):
        apply_cleanup(plan.pk, by="lena")
    assert Trade.objects.filter(pk=victim_trade.pk).exists()
    assert not QuarantinedRecord.objects.filter(reason="cleanup").exists()


def test_the_dry_run_apply_and_restore_are_each_in_the_audit_trail(legacy):
    plan = plan_cleanup(legacy, by="otto")
    apply_cleanup(plan.pk, by="lena")
    restore_cleanup(plan.pk, by="lena")

    rows = [(e.action, e.actor_name, e.from_state, e.to_state) for e in history(plan)]
    assert rows == [
        ("dry run", "otto", "", "planned"),
        ("apply", "lena", "planned", "applied"),
        ("restore", "lena", "applied", "restored"),
    ]
    assert "1 trade(s): BAD" in history(plan).last().note
