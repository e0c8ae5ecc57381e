import json
import os
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from experiments import services as experiment_services
from experiments.releases import approve_release, create_release
from ingestion.parsing import parse_json
from ingestion.services import ingest_records
from tradeops.models import ConfigRelease, ParamSpec
from tradeops.roles import OPERATOR, TEAM_LEAD
from tradeops.services import create_bot


@pytest.fixture
def bot_and_token(db):
    return create_bot(slug="alpha", name="Alpha perps")


@pytest.fixture
def bot(bot_and_token):
    return bot_and_token[0]


def closed_trade(**overrides):
    """A well-formed closed short trade; override fields to break one rule at a time."""
    record = {
        "external_id": "T-1",
        "symbol": "BTCUSDT",
        "side": "short",
        "status": "closed",
        "opened_at": "2026-11-02T10:00:00Z",
        "closed_at": "2026-11-02T12:30:00+00:00",
        "qty": "0.5",
        "entry_price": "50000",
        "exit_price": "49800",
        "leverage": "5",
        "gross_pnl": "100",
        "fees": "5.5",
        "funding": "0.25",
        "net_pnl": "94.25",
        "exit_reason": "take_profit",
        "release": "v1.4.0",
        "est_fees": "5",
        "est_funding": "0.2",
        "est_slippage_bps": "1.5",
    }
    record.update(overrides)
    return {key: value for key, value in record.items() if value is not None}


def open_trade(**overrides):
    record = closed_trade(**overrides)
    for key in ("closed_at", "exit_price", "gross_pnl", "fees", "funding", "net_pnl"):
        record.pop(key, None)
    record["status"] = "open"
    record["exit_reason"] = ""
    return record


def ingest(bot, kind, *records, source="test"):
    """Ingest Python records through the real parser (as a JSON array) and service."""
    return ingest_records(bot, kind, parse_json(json.dumps(list(records))), source=source)


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Tests render admin pages without running collectstatic (no manifest)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def log_in_as(client, username, role):
    """A staff user in the role's group (Team lead, Operator, Viewer), logged in on `client`."""
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Tests create many users; production hashing strength is not what they test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# -- the decision framework's cast and baseline ---------------------------------------------

PARAMS = {
    "fib_proximity_bps": 18,
    "entry_zone_tolerance_pct": "0.35",
    "side_balance_pressure": "0",
    "risk_per_trade_pct": "0.5",
}


@pytest.fixture
def people(db):
    return {
        "lead": log_in_as(Client(), "lena", TEAM_LEAD),
        "lead2": log_in_as(Client(), "leo", TEAM_LEAD),
        "operator": log_in_as(Client(), "otto", OPERATOR),
    }


@pytest.fixture
def baseline(bot, people):
    for key, category, value_type, low, high in [
        ("fib_proximity_bps", "strategy", "int", 1, 200),
        ("entry_zone_tolerance_pct", "strategy", "decimal", "0.05", "2"),
        ("side_balance_pressure", "strategy", "decimal", "0", "1"),
        ("risk_per_trade_pct", "risk", "decimal", "0.1", "3"),
        ("order_type", "execution", "str", None, None),
    ]:
        ParamSpec.objects.create(
            key=key, category=category, value_type=value_type, min_value=low, max_value=high
        )
    release = ConfigRelease.objects.create(
        bot=bot,
        version=1,
        tag="v1.4.0",
        params=PARAMS,
        created_by=people["operator"],
        approved_by=people["lead"],
        approved_at=timezone.now(),
        is_baseline=True,
    )
    return release


def candidate(baseline, people, tag="v1.5.0", **changes):
    release = create_release(based_on=baseline, changes=changes, tag=tag, by=people["operator"])
    return approve_release(release, by=people["lead"])


def draft(baseline, people, lever="side_balance_pressure", **changes):
    changes = changes or {"side_balance_pressure": "0.3"}
    return experiment_services.create_experiment(
        bot=baseline.bot,
        name=f"A {lever}",
        lever=lever,
        candidate=candidate(baseline, people, tag=f"c-{ConfigRelease.objects.count()}", **changes),
        success_criteria="short share below 65%, expectancy and drawdown not worse",
        by=people["operator"],
    )


def run_through(experiment, people, until="start"):
    experiment_services.submit(experiment, by=people["operator"], note="ready")
    if until == "submit":
        return experiment
    experiment_services.approve(experiment, by=people["lead"], note="go")
    if until == "approve":
        return experiment
    return experiment_services.start(experiment, by=people["operator"], note="deployed")


# -- a real server: gunicorn on the test database -------------------------------------------


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """A gunicorn (2 sync workers) serving the app on the test database, as in production.

    Tests using it need `transactional_db`, so what they create is committed and visible to it.
    """
    db = settings.DATABASES["default"]
    port = _free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": "test-only-secret-key",
        "DEBUG": "False",
        "SECURE_SSL_REDIRECT": "False",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    command = [sys.executable, "-m", "gunicorn", "tradeops.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "120"]
    with open(log, "wb") as output:
        server = subprocess.Popen(
            command, env=env, cwd=settings.BASE_DIR, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
