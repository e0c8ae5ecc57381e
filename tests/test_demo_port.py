"""`make demo PORT=8001` (issue 23, section 6): the demo's alert and digest links lead where it
is served, not to port 8000, unless the user's .env names a base URL of its own."""

import sys

from tests.test_readme_commands import checkout, run  # noqa: F401 (the copied checkout)

# Stands in for the venv's Python under `make demo`: the set-up steps are skipped and the
# server, instead of serving, says which base URL its settings link to.
PYTHON = """#!/bin/sh
case "$2" in
  migrate|load_demo) exit 0;;
  run_embedded) exec {python} manage.py shell -c \\
    "from django.conf import settings; print('links to', settings.TRADEOPS_BASE_URL)";;
esac
exec {python} "$@"
"""


def served_links(copy, *make_args):
    python = copy.parent / "python"
    python.write_text(PYTHON.format(python=sys.executable))
    python.chmod(0o755)
    done = run(["make", "-o", ".venv/.installed-stamp", "demo", f"PY={python}", *make_args], copy)
    assert done.returncode == 0, done.stdout + done.stderr
    return next(line for line in done.stdout.splitlines() if line.startswith("links to"))


def test_the_demo_on_another_port_links_to_that_port(checkout):  # noqa: F811
    assert served_links(checkout, "PORT=8001") == "links to http://127.0.0.1:8001"


def test_the_demo_links_to_port_8000_by_default(checkout):  # noqa: F811
    assert served_links(checkout) == "links to http://127.0.0.1:8000"


def test_a_base_url_of_the_users_own_in_env_wins(checkout):  # noqa: F811
    (checkout / ".env").write_text("TRADEOPS_BASE_URL=https://ops.example\n")

    assert served_links(checkout, "PORT=8001") == "links to https://ops.example"
