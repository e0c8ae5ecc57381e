import os
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from tests.factories import PARAMS, log_in_as
from tradeops.models import ConfigRelease, ParamSpec
from tradeops.roles import OPERATOR, TEAM_LEAD
from tradeops.services import create_bot


@pytest.fixture
def bot_and_token(db):
    return create_bot(slug="alpha", name="Alpha perps")


@pytest.fixture
def bot(bot_and_token):
    return bot_and_token[0]


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Tests render admin pages without running collectstatic (no manifest)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Tests create many users; production hashing strength is not what they test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
