"""The docs' commands run as written after the README's set-up command, `make demo`, with
nothing but the project's .env: no settings in the shell (docs/bot-api.md, "Command line")."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
NOT_COPIED = shutil.ignore_patterns(
    ".venv", ".git", ".env", "db.sqlite3*", "staticfiles", "var", "__pycache__", "*.egg-info"
)
# Stands in for the venv's Python under `make demo`: every step runs but those skipped, always
# serving and the 45-day load (20 s), which the commands below need nothing of.
PYTHON = """#!/bin/sh
case "$2" in {skipped}) exit 0;; esac
exec {python} "$@"
"""


def run(command, cwd):
    # A shell as a new user has it: PATH, and no TradeOps setting (DEBUG, SECRET_KEY...).
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture
def checkout(tmp_path):
    """A copy of the project, as cloned: no .env, no database."""
    copy = tmp_path / "tradeops"
    shutil.copytree(PROJECT, copy, ignore=NOT_COPIED)
    return copy


def make_demo(copy, skipped=("run_embedded", "load_demo")):
    python = copy.parent / "python"
    python.write_text(PYTHON.format(skipped="|".join(skipped), python=sys.executable))
    python.chmod(0o755)
    # The venv is this one: make is not to build it (-o), only to run the demo's steps.
    return run(["make", "-o", ".venv/.installed-stamp", "demo", f"PY={python}"], copy)


def manage(copy, *args):
    return run([sys.executable, "manage.py", *args], copy)


def test_readme_commands_run_as_written_after_make_demo(checkout):
    # Settings of the user's own in .env before the set-up (docs/operations.md, "Configuration",
    # invites it), without a final newline: make demo used to leave such a .env as it was.
    (checkout / ".env").write_text("TRADEOPS_BASE_URL=http://ops.example:8000")

    demo = make_demo(checkout)
    create_bot = manage(checkout, "create_bot", "my-bot", "--name", "BTC/ETH perps")
    token = manage(checkout, "create_token", "my-bot", "--label", "second")
    roles = manage(checkout, "setup_roles")

    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert create_bot.returncode == 0, create_bot.stderr
    assert "Created bot my-bot" in create_bot.stdout
    assert token.returncode == 0, token.stderr
    assert roles.returncode == 0, roles.stderr
    assert (checkout / ".env").read_text().splitlines() == [
        "TRADEOPS_BASE_URL=http://ops.example:8000",
        "DEBUG=True",
    ]


def test_a_new_checkout_gets_its_demo_settings_from_make_demo(checkout):
    demo = make_demo(checkout, skipped=("run_embedded", "load_demo", "migrate"))

    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "DEBUG=True" in (checkout / ".env").read_text().splitlines()
    check = manage(checkout, "check")
    assert check.returncode == 0, check.stderr


def test_make_demo_keeps_a_debug_setting_of_the_users_own(checkout):
    """A .env that sets DEBUG is the user's choice: production settings stay production, and
    need their SECRET_KEY, make demo included."""
    (checkout / ".env").write_text("DEBUG=False\n")

    demo = make_demo(checkout)
    create_bot = manage(checkout, "create_bot", "my-bot")

    assert (checkout / ".env").read_text() == "DEBUG=False\n"
    assert demo.returncode != 0
    assert create_bot.returncode != 0
    assert "Set the SECRET_KEY environment variable" in create_bot.stderr
