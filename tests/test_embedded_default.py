"""The embedded default (SQLite, no Redis) works end to end, as `make demo` runs it."""

import concurrent.futures
import contextlib
import datetime
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

import django_rq
import pytest
import requests
from django.conf import settings

from tests import servers
from tests.factories import closed_trade

PROJECT = settings.BASE_DIR
GRACE = datetime.timedelta(minutes=5)  # Bot.drift_grace_minutes' default


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT,
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
    # Experiment A's verdict against its shadow, read on SQLite as on PostgreSQL.
    scorecard = manage("scorecard", env=env)
    assert scorecard.returncode == 0, scorecard.stderr
    assert "twin trades" in scorecard.stdout and "shadow demo-perp-shadow" in scorecard.stdout


def test_rq_queue_reaches_the_configured_redis(settings):
    assert settings.REDIS_URL, "the suite runs against a real Redis (REDIS_URL)"
    queue = django_rq.get_queue("default")
    assert queue.connection.ping() is True


# -- the embedded default, live: `make demo`'s server runs the schedule ------------------------

SPEED = 60  # the schedule's clock: a minute a second


@pytest.fixture(scope="module")
def embedded_demo(tmp_path_factory):
    """A fresh demo database as `make demo` makes it (SQLite, no Redis), served by `make demo`'s
    server, run_embedded, with the schedule in its process on a clock SPEED times the wall
    clock's. Yields the server's URL, a token of the demo bot and the database's path."""
    run_dir = tmp_path_factory.mktemp("embedded")
    database = run_dir / "db.sqlite3"
    env = {"PATH": os.environ["PATH"], "DEBUG": "True", "DATABASE_URL": f"sqlite:///{database}"}
    assert manage("migrate", "--noinput", env=env).returncode == 0
    demo = manage("load_demo", "--days", "10", env=env)
    assert demo.returncode == 0, demo.stderr
    token = manage("create_token", "demo-perp", env=env).stdout.split()[-1]
    port = servers.free_port()
    command = [sys.executable, "manage.py", "run_embedded", "--noreload"]
    command += ["--clock-speed", str(SPEED), f"127.0.0.1:{port}"]
    with servers._serving(command, port, run_dir / "server.log", env=env, cwd=PROJECT):
        yield {
            "url": f"http://127.0.0.1:{port}",
            "token": token,
            "database": database,
            "log": run_dir / "server.log",
        }


def rows(database, sql, *params):
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        return db.execute(sql, params).fetchall()


def drift_incidents(database):
    return rows(
        database,
        "SELECT i.status, i.title FROM integrity_integrityincident i "
        "JOIN tradeops_bot b ON b.id = i.bot_id WHERE b.slug = 'demo-perp' AND i.kind = ?",
        "config_drift",
    )


def test_a_bot_reporting_the_wrong_release_gets_its_drift_incident_from_the_schedule(
    embedded_demo,
):
    """Issue 23: from a fresh demo, with nothing but `make demo`'s server started, a heartbeat
    with the wrong release opens the drift incident by itself within the bot's grace (5 min,
    plus the loop watch's minute)."""
    database = embedded_demo["database"]
    ((current,),) = rows(
        database,
        "SELECT r.tag FROM tradeops_bot b JOIN tradeops_configrelease r "
        "ON r.id = b.current_release_id WHERE b.slug = 'demo-perp'",
    )
    wrong = "v1.4.0" if current != "v1.4.0" else "v1.3.0"
    sent_at = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    answer = requests.post(
        f"{embedded_demo['url']}/api/v1/ingest/health",
        json=[{"ts": sent_at.isoformat(), "kind": "heartbeat", "running_release": wrong}],
        headers={"Authorization": f"Bearer {embedded_demo['token']}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1

    def found_by_the_watch():
        """The schedule's times of the finished loop watch runs that found the drift."""
        watches = rows(
            database,
            "SELECT key, detail FROM tradeops_jobrun "
            "WHERE name = ? AND outcome = 'succeeded' ORDER BY key",
            "integrity.watch_bot_loop",
        )
        return [
            datetime.datetime.fromisoformat(key)
            for key, detail in watches
            if "demo-perp:config_drift" in json.loads(detail)["incidents"]
        ]

    deadline = time.monotonic() + 60
    while not (found := found_by_the_watch()):
        assert time.monotonic() < deadline, embedded_demo["log"].read_text()[-3000:]
        time.sleep(0.2)

    ((status, title),) = drift_incidents(database)
    assert status == "open"
    assert f"runs {wrong}, not its current release {current}" in title
    # Opened by the scheduled loop watch, in-process (no RQ job), as of the schedule's clock:
    # its first run past the grace (5 min from the heartbeat), not later than its next minute.
    assert GRACE < found[0] - sent_at <= GRACE + datetime.timedelta(minutes=1, seconds=5)
    assert rows(database, "SELECT DISTINCT rq_job_id FROM tradeops_jobrun") == [("",)]


def test_requests_write_while_the_schedule_runs_on_sqlite(embedded_demo):
    """Bots' batches land while the schedule's jobs write (a minute's jobs a second here), on
    the embedded default's SQLite: none is refused with "database is locked"."""
    database = embedded_demo["database"]
    before = rows(database, "SELECT max(id) FROM tradeops_jobrun")[0][0]
    enough = threading.Event()

    def send(sender):
        answers = []
        while not enough.is_set():
            batch = [
                closed_trade(external_id=f"LIVE-{sender}-{len(answers)}-{n}") for n in range(20)
            ]
            answers.append(
                requests.post(
                    f"{embedded_demo['url']}/api/v1/ingest/trades",
                    json=batch,
                    headers={"Authorization": f"Bearer {embedded_demo['token']}"},
                    timeout=60,
                )
            )
        return answers

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        sending = [pool.submit(send, sender) for sender in range(4)]
        deadline = time.monotonic() + 60
        while (
            rows(database, "SELECT count(*) FROM tradeops_jobrun WHERE id > ?", before)[0][0] < 30
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        enough.set()
        answers = [answer for each in sending for answer in each.result()]

    assert {a.status_code for a in answers} == {200}, [
        a.text for a in answers if a.status_code != 200
    ][:3]
    assert {a.json()["accepted"] for a in answers} == {20}
    runs = rows(database, "SELECT name, outcome, error FROM tradeops_jobrun WHERE id > ?", before)
    assert not [run for run in runs if "locked" in run[2]]
    assert "database is locked" not in embedded_demo["log"].read_text()
