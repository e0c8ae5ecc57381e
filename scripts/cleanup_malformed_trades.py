#!/usr/bin/env python
"""Operator script of the plan's runbook: dry-run first, review, apply second.

    scripts/cleanup_malformed_trades.py --dry-run --bot demo-perp   # writes and prints a plan
    scripts/cleanup_malformed_trades.py --apply 7                   # moves exactly those rows
    scripts/cleanup_malformed_trades.py --restore 7                 # puts them back

A thin wrapper over `manage.py cleanup_malformed_trades`: same service, same checks.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeops.settings")

from django.core.management import execute_from_command_line  # noqa: E402

if __name__ == "__main__":
    execute_from_command_line(["manage.py", "cleanup_malformed_trades", *sys.argv[1:]])
