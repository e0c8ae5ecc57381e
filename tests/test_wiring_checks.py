"""Wiring named by strings checks itself (issue 25, section 3): a role grant, a permission
constant, a lifecycle move's permission or four-eyes field that names nothing fails the system
checks, so `manage.py check`, the tests (test_project's check --deploy) and every deploy."""

from django.core.management import call_command

from experiments import checks as experiment_checks
from experiments.lifecycle import LIFECYCLES, Move
from experiments.models import Experiment
from tradeops import checks, roles


def ids(errors):
    return [error.id for error in errors]


def test_the_wiring_as_it_is_passes():
    assert checks.check_role_grants() == []
    assert experiment_checks.check_lifecycles() == []
    call_command("check")


def test_a_mistyped_grant_fails_the_checks(monkeypatch):
    grants = {**roles.ROLE_GRANTS, roles.OPERATOR: ["experiments.aprove_experiment"]}
    monkeypatch.setattr(roles, "ROLE_GRANTS", grants)
    errors = checks.check_role_grants()
    assert ids(errors) == ["tradeops.E109"]
    assert "'Operator' grants 'experiments.aprove_experiment'" in errors[0].msg


def test_a_mistyped_permission_name_fails_the_checks(monkeypatch):
    monkeypatch.setattr(roles, "APPROVE_SCALING", "experiments.approve_scalingstepp")
    errors = checks.check_role_grants()
    assert ids(errors) == ["tradeops.E109"]
    assert errors[0].msg.startswith("APPROVE_SCALING = ")


def test_every_permission_a_role_grants_is_known():
    known = checks.known_permissions()
    assert "tradeops.approve_configrelease" in known
    assert "django_rq.admin" in known  # the queue dashboard's, from Meta.permissions
    assert all(name in known for grants in roles.ROLE_GRANTS.values() for name in grants)


def with_move(monkeypatch, model, name, move):
    lifecycle = LIFECYCLES[model]
    moves = {**lifecycle.moves, name: move}
    monkeypatch.setitem(LIFECYCLES, model, lifecycle._replace(moves=moves))


def test_a_mistyped_four_eyes_field_fails_the_checks(monkeypatch):
    approve = LIFECYCLES[Experiment].moves["approve"]
    with_move(monkeypatch, Experiment, "approve", approve._replace(not_by=(("submited_by", ""),)))
    errors = experiment_checks.check_lifecycles()
    assert ids(errors) == ["experiments.E001"]
    assert "'submited_by'" in errors[0].msg


def test_a_four_eyes_field_must_name_a_person(monkeypatch):
    approve = LIFECYCLES[Experiment].moves["approve"]
    with_move(monkeypatch, Experiment, "approve", approve._replace(not_by=(("bot", ""),)))
    assert ids(experiment_checks.check_lifecycles()) == ["experiments.E002"]


def test_a_mistyped_move_permission_fails_the_checks(monkeypatch):
    move = Move(("draft",), "submitted", "experiments.chnage_experiment")
    with_move(monkeypatch, Experiment, "submit", move)
    assert ids(experiment_checks.check_lifecycles()) == ["experiments.E003"]


def test_the_release_four_eyes_reads_a_field_and_a_method():
    from tradeops.models import ConfigRelease

    approve = LIFECYCLES[ConfigRelease].moves["approve"]
    assert [who for who, _ in approve.not_by] == ["created_by", "was_edited_by"]


def test_each_model_is_registered_once_where_its_admin_is_composed():
    from pathlib import Path

    from django.contrib import admin

    from tradeops.models import Bot, ConfigRelease

    # The Bot's one registration is the highest layer's that adds to it: the core's BotAdmin with
    # integrity's gate and the release push (experiments.admin.release_push).
    assert type(admin.site._registry[Bot]).__module__ == "experiments.admin.release_push"
    assert type(admin.site._registry[ConfigRelease]).__module__ == "experiments.admin.releases"
    apps = ("tradeops", "ingestion", "integrity", "kpis", "experiments", "cadence", "demo")
    root = Path(__file__).resolve().parents[1]
    sources = [p for app in apps for p in (root / app).rglob("*.py")]
    assert not [str(p) for p in sources if "site.unregister(" in p.read_text()]
