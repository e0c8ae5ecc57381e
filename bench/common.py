"""What every benchmark shares: Django set up, a throw-away PostgreSQL database, peak memory.

Import it first: `from common import peak_rss_mib, throwaway_database` (scripts run as
`python bench/NAME.py`, so this folder is on the path).
"""

import os
import resource
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeops.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def peak_rss_mib():
    """This process's peak resident memory. Linux's VmHWM starts again at exec, where ru_maxrss
    keeps the parent's: a child process started to measure reports its own."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def throwaway_database(name=None, drop=True):
    """A migrated test database next to DATABASE_URL's, dropped afterwards.

    `name` names it, and a database of that name is kept if it exists (migrated), so that a large
    data set is loaded once and measured by later runs; `drop=False` keeps it afterwards.
    """
    if connection.vendor != "postgresql":
        sys.exit("the benchmarks measure PostgreSQL: set DATABASE_URL=postgres://...")
    setup_test_environment()
    if name:
        connection.settings_dict["TEST"]["NAME"] = name
    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, serialize=False, keepdb=name is not None
    )
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=not drop)


def timed(fn, *args, **kwargs):
    """(seconds, result) of one call."""
    began = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - began, result


def report(name, ours, bare, bare_name="bare"):
    """Min and median of interleaved timings (seconds) against their bare twin, and the ratio."""
    ours_median, bare_median = statistics.median(ours), statistics.median(bare)
    print(
        f"{name}: min {min(ours) * 1000:.0f} ms, median {ours_median * 1000:.0f} ms | "
        f"{bare_name}: min {min(bare) * 1000:.0f} ms, median {bare_median * 1000:.0f} ms | "
        f"ratio (median) {ours_median / bare_median:.2f}"
    )
