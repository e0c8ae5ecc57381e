"""Real servers for the tests that go through HTTP as a bot does: gunicorn on the test database,
and the production set-up's nginx in front of it (deploy/)."""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time

from django.conf import settings

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOY = settings.BASE_DIR / "deploy"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _serving(command, port, log, **popen):
    """Run `command` (its output to `log`) until it listens on `port`; stop it afterwards."""
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **popen)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a worker stuck in a request: the test is over anyway
            process.kill()
            process.wait()


@contextlib.contextmanager
def gunicorn(run_dir, *options, **env):
    """gunicorn serving the app on the test database; yields its port. `options` are gunicorn's
    command-line options (they override deploy/gunicorn.conf.py's when given with -c)."""
    db = settings.DATABASES["default"]
    port = free_port()
    log = run_dir / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": "test-only-secret-key",
        "DEBUG": "False",
        "SECURE_SSL_REDIRECT": "False",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        **env,
    }
    command = [sys.executable, "-m", "gunicorn", *options, "--bind", f"127.0.0.1:{port}"]
    command.append("tradeops.wsgi:application")
    with _serving(command, port, log, env=env, cwd=settings.BASE_DIR):
        yield port


@contextlib.contextmanager
def nginx(run_dir, upstream_port):
    """nginx from deploy/nginx.conf.template in front of 127.0.0.1:`upstream_port`; yields its
    port."""
    port = free_port()
    # Its workers may run as another user than the tests (nobody, under root).
    run_dir.chmod(0o777)
    # As envsubst with the three names: nginx's own $variables stay.
    values = {"LISTEN": f"127.0.0.1:{port}", "UPSTREAM": f"127.0.0.1:{upstream_port}"}
    values["RUN_DIR"] = str(run_dir)
    template = (DEPLOY / "nginx.conf.template").read_text()
    config = run_dir / "nginx.conf"
    config.write_text(re.sub(r"\$\{(\w+)\}", lambda m: values[m[1]], template))
    command = [NGINX, "-c", str(config), "-p", str(run_dir), "-g", "daemon off;"]
    with _serving(command, port, run_dir / "nginx.out"):
        yield port
