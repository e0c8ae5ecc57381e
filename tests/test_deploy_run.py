"""deploy/run, the production set-up's one command, started as an operator would against the test
PostgreSQL and a Redis of its own: requests go through nginx (a bot sending slowly holds an
nginx connection, never one of gunicorn's workers), the schedule's minute jobs run on the RQ
workers, there is exactly one scheduler, and TERM stops the lot."""

import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests
from django.conf import settings
from redis import Redis
from rq.cron import CronScheduler

from experiments.services import make_baseline
from tests import servers
from tests.test_production_setup import SlowSender
from tradeops.models import JobRun
from tradeops.services import create_bot

pytestmark = pytest.mark.django_db(transaction=True)

DEPLOY_RUN = str(servers.DEPLOY / "run")


def until(condition, timeout, what, log=None):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no {what} after {timeout} s\n{log.read_text()[-4000:] if log else ''}"
            )
        time.sleep(0.5)


def answers(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of its own: the scheduler and workers share nothing with the suite's."""
    port = servers.free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(tmp_path)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    until(lambda: answers(port), 10, "redis")
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait()


@pytest.fixture
def deploy_env(own_redis, tmp_path):
    database = settings.DATABASES["default"]
    return {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        ),
        "REDIS_URL": own_redis,
        "SECRET_KEY": "test-only-secret-key",
        "DEBUG": "False",
        "SECURE_SSL_REDIRECT": "False",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LISTEN": f"127.0.0.1:{servers.free_port()}",
        "GUNICORN_BIND": f"127.0.0.1:{servers.free_port()}",
        "GUNICORN_WORKERS": "2",
        "WORKERS": "1",
        "RUN_DIR": str(tmp_path / "run"),
    }


def test_one_command_serves_through_nginx_and_runs_the_schedule_on_workers(
    deploy_env, bot_and_token, baseline, people, tmp_path
):
    make_baseline(baseline, by=people["lead"], note="the live config")
    _, token = bot_and_token
    slow_token = create_bot(slug="bad-line")[1]
    url = f"http://{deploy_env['LISTEN']}"
    port = int(deploy_env["LISTEN"].rsplit(":", 1)[1])
    log = tmp_path / "deploy.log"
    with open(log, "wb") as output:
        running = subprocess.Popen(
            [DEPLOY_RUN],
            env=deploy_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        until(lambda: answers(port) or running.poll() is not None, 120, "nginx", log)
        assert running.poll() is None, log.read_text()

        # Eight bots on a bad line, four times gunicorn's workers, hold nginx connections only.
        let_go = threading.Event()
        senders = [SlowSender(url, slow_token, f"SLOW-{n}", let_go) for n in range(8)]
        for sender in senders:
            sender.start()
        assert all(sender.started_body.wait(timeout=30) for sender in senders)
        pulls = [
            requests.get(
                f"{url}/api/v1/config", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            for _ in range(5)
        ]
        login = requests.get(f"{url}/admin/login/", timeout=10)
        let_go.set()
        for sender in senders:
            sender.join(timeout=60)
        assert [pull.status_code for pull in pulls] == [200] * 5
        assert login.status_code == 200 and "csrfmiddlewaretoken" in login.text
        assert all(sender.response.startswith(b"HTTP/1.1 200") for sender in senders)

        # The minute's loop watch, enqueued by the scheduler, run by a worker.
        until(
            lambda: (
                JobRun.objects.filter(name="integrity.watch_bot_loop", outcome="succeeded")
                .exclude(rq_job_id="")
                .exists()
            ),
            90,
            "scheduled minute job",
            log,
        )
        assert len(CronScheduler.all(Redis.from_url(deploy_env["REDIS_URL"]))) == 1
        second = subprocess.run(
            [DEPLOY_RUN],
            env={**deploy_env, "RUN_DIR": str(tmp_path / "second")},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode != 0
        assert "a scheduler already runs on this Redis" in second.stderr
    finally:
        running.send_signal(signal.SIGTERM)
        status = running.wait(timeout=90)
    assert status == 0, log.read_text()[-4000:]
    assert not answers(port)
    assert not answers(int(deploy_env["GUNICORN_BIND"].rsplit(":", 1)[1]))
    assert "deploy/run: stopped" in log.read_text()
