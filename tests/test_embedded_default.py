"""The embedded default (SQLite, no Redis) works end to end, as `make demo` runs it."""

import json
import os
import subprocess
import sys

import django_rq


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], env=env, capture_output=True, text=True, check=False
    )


def test_demo_loads_on_sqlite_without_redis(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "True",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    migrate = manage("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stderr

    demo = manage("load_demo", "--days", "10", "--end-date", "2026-11-01", env=env)

    assert demo.returncode == 0, demo.stderr
    assert "quarantined=6" in demo.stdout  # 5 malformed trades, one of them sent twice
    assert "log in as one of" in demo.stdout
    # No Redis: the critical alert is delivered in-process, here to the console mail backend.
    assert "Subject: [CRITICAL] demo-perp: Blocked malformed trade persistence" in demo.stdout
    count = manage(
        "shell", "-c", "from tradeops.models import Trade; print(Trade.objects.count())", env=env
    )
    assert int(count.stdout.split()[-1]) > 300
    kpis = manage(
        "compute_kpis",
        "--bot",
        "demo-perp",
        "--days",
        "7",
        "--as-of",
        "2026-11-01",
        "--format",
        "json",
        env=env,
    )
    assert kpis.returncode == 0, kpis.stderr
    assert json.loads(kpis.stdout)["trades"] > 200


def test_rq_queue_reaches_the_configured_redis(settings):
    assert settings.REDIS_URL, "the suite runs against a real Redis (REDIS_URL)"
    queue = django_rq.get_queue("default")
    assert queue.connection.ping() is True
