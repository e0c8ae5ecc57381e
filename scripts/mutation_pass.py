#!/usr/bin/env python
"""The mutation pass over the Phase 2 plan's rules (issue 25): each mutation below is a realistic
bug in one rule (a boundary flipped, an off-by-one, a condition dropped, a constant changed), and
the tests that cover the rule must fail on it.

Each mutation is applied, alone, to a throw-away copy of the working tree (the files git tracks
or would track, so uncommitted work is included; .venv and .env are symlinked), the rule's
covering tests run on it with `pytest -x -q --reuse-db`, and the file is put back. Before the
first mutation the same tests run once on the unmutated copy: a test failing there would make
every mutation look killed. An original snippet not found exactly once in its file stops the pass
before anything runs, so the list cannot rot silently when code moves.

Run it from the project folder, with the database and Redis the tests use (the variables are read
from the environment as pytest reads them; --reuse-db keeps the test database between runs, so
give the pass a DATABASE_URL no other run uses meanwhile):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops REDIS_URL=redis://127.0.0.1:6379/15 \\
        DEBUG=False SECRET_KEY=x SECURE_SSL_REDIRECT=False .venv/bin/python scripts/mutation_pass.py

    .venv/bin/python scripts/mutation_pass.py --list          # the mutations; nothing runs
    .venv/bin/python scripts/mutation_pass.py --only daily-loss-reset pnl-tolerance

It prints a Markdown table (id | rule | mutation | result | killed by) and exits 1 if any
mutation survived, 2 if the pass could not run (a snippet not found, a test failing unmutated).
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
# A mutation whose tests run this long is counted as killed by the timeout (a loop that never
# ends is a failure the suite would notice); the slowest covering set takes about a minute.
TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Mutation:
    id: str
    rule: str  # in the trading team's words
    path: str
    old: str  # found exactly once in `path`
    new: str
    tests: tuple  # pytest paths covering the rule, the most direct first (-x stops at the first)


TRIGGERS = "experiments/triggers.py"
RULES = "experiments/rules.py"
SCALING = "experiments/scaling.py"
LIFECYCLE = "experiments/lifecycle.py"
SHADOW = "experiments/verdicts/shadow.py"
LOOP = "integrity/loop.py"
BREAKER = "integrity/breaker.py"
BOUNDARIES = "tests/test_rule_boundaries.py"
ROLLBACK = (BOUNDARIES, "tests/test_rollback_triggers.py")
VALIDATION = (BOUNDARIES, "tests/test_trade_validation.py", "tests/test_trade_fast_path.py")
ONE_CHANGE = (BOUNDARIES, "tests/test_experiments.py", "tests/test_release_four_eyes.py")
SCALING_TESTS = (BOUNDARIES, "tests/test_scaling.py")
VERDICTS = (BOUNDARIES, "tests/test_verdicts.py")

MUTATIONS = [
    # -- the hard rollback triggers ------------------------------------------------------------
    Mutation(
        "daily-loss-boundary",
        "-3% daily loss trigger: a day counts only if worse than -3.0% (exactly -3.0% does not)",
        TRIGGERS,
        "if change < limit else []",
        "if change <= limit else []",
        ROLLBACK,
    ),
    Mutation(
        "daily-loss-reset",
        "2 consecutive daily losses: a good day in between resets the streak",
        TRIGGERS,
        "if change < limit else []",
        "if change < limit else streak",
        ROLLBACK,
    ),
    Mutation(
        "daily-loss-days",
        "the daily loss trigger fires on the 2nd losing day in a row, not the 3rd",
        TRIGGERS,
        "if len(streak) >= needed:",
        "if len(streak) > needed:",
        ROLLBACK,
    ),
    Mutation(
        "daily-loss-limit",
        "the daily loss limit frozen on a change is -3% of equity",
        RULES,
        '"daily_loss_pct": -3.0,',
        '"daily_loss_pct": -4.0,',
        ROLLBACK,
    ),
    Mutation(
        "avg-loss-boundary",
        "avg loss/trade trigger fires above 40% worse than the baseline, not at exactly 40%",
        TRIGGERS,
        'if worse <= subject.triggers["avg_loss_deterioration"]:',
        'if worse < subject.triggers["avg_loss_deterioration"]:',
        ROLLBACK,
    ),
    Mutation(
        "avg-loss-limit",
        "the avg loss deterioration limit frozen on a change is 40%",
        RULES,
        '"avg_loss_deterioration": 0.40,',
        '"avg_loss_deterioration": 0.50,',
        ROLLBACK,
    ),
    Mutation(
        "avg-loss-window",
        "avg loss/trade counts the losses of the day the change started",
        TRIGGERS,
        "days = (now.date() - subject.started_at.date()).days + 1",
        "days = (now.date() - subject.started_at.date()).days",
        ROLLBACK,
    ),
    Mutation(
        "safety-events",
        "3 kill-switch/degraded/safety events since the start roll the change back",
        TRIGGERS,
        "if len(events) < limit:",
        "if len(events) <= limit:",
        ROLLBACK,
    ),
    Mutation(
        "halt-at-once",
        "a HALT during a live change rolls it back at once",
        TRIGGERS,
        "TRIGGERS = [halt_entry, consecutive_daily_losses,",
        "TRIGGERS = [consecutive_daily_losses,",
        (*ROLLBACK, "tests/test_scaling.py"),
    ),
    Mutation(
        "unknown-exit-alarm",
        "unknown exit reasons alarm above 2% of closes: 2 of 100 is no alarm, 3 is",
        "tradeops/models/bots.py",
        "unknown > self.unknown_exit_alert_share * closes",
        "unknown >= self.unknown_exit_alert_share * closes",
        (BOUNDARIES, "tests/test_integrity_checks.py"),
    ),
    # -- malformed trades ------------------------------------------------------------------------
    Mutation(
        "pnl-tolerance",
        "a trade whose net P&L is off gross - fees - funding by more than 0.000001 is malformed",
        "ingestion/records.py",
        'PNL_TOLERANCE = Decimal("0.000001")',
        'PNL_TOLERANCE = Decimal("0.001")',
        VALIDATION,
    ),
    Mutation(
        "pnl-relative-tolerance",
        "on large figures the P&L tolerance is 1e-12 of the largest part, no more",
        "ingestion/records.py",
        'PNL_RELATIVE_TOLERANCE = Decimal("1e-12")',
        'PNL_RELATIVE_TOLERANCE = Decimal("1e-9")',
        VALIDATION,
    ),
    Mutation(
        "pnl-stored-scan",
        "the stored-trade scan lists every stored trade whose P&L ingestion would refuse",
        "ingestion/stored.py",
        "Q(pnl_gap__gt=PNL_TOLERANCE)",
        "Q(pnl_gap__gt=PNL_TOLERANCE * 1000)",
        (BOUNDARIES, "tests/test_integrity_checks.py", "tests/test_cleanup.py"),
    ),
    Mutation(
        "future-skew",
        "a record may be stamped up to 5 minutes ahead of our clock, not more",
        "ingestion/records.py",
        "MAX_CLOCK_SKEW = timedelta(minutes=5)",
        "MAX_CLOCK_SKEW = timedelta(minutes=15)",
        VALIDATION,
    ),
    Mutation(
        "future-close-fast-path",
        "a trade closed in the future is refused on the fast path as by the validator",
        "ingestion/fastpath.py",
        "if opened_at > latest_allowed or (closed_at is not None and closed_at > latest_allowed):",
        "if opened_at > latest_allowed:",
        VALIDATION,
    ),
    # -- experiments: one change, four eyes, the horizon -------------------------------------------
    Mutation(
        "one-change-none",
        "a candidate changes exactly one strategy param: one that changes none is refused",
        RULES,
        "if len(changed) != 1:",
        "if len(changed) > 1:",
        ONE_CHANGE,
    ),
    Mutation(
        "one-change-strategy",
        "the one change is a strategy lever, not an execution param",
        RULES,
        "if categories.get(key) != ParamSpec.Category.STRATEGY:",
        "if categories.get(key) == ParamSpec.Category.RISK:",
        ONE_CHANGE,
    ),
    Mutation(
        "four-eyes-experiment",
        "whoever submitted an experiment cannot approve it",
        LIFECYCLE,
        'not_by=(("submitted_by", "submitted {label} and cannot approve it"),),',
        "not_by=(),",
        (
            "tests/test_experiment_approval.py",
            "tests/test_lifecycle.py",
            "tests/test_experiments.py",
        ),
    ),
    Mutation(
        "four-eyes-keep",
        "a keep takes effect only once a Team lead other than who logged it confirms it",
        LIFECYCLE,
        '("keep_logged_by", "logged the keep of {label}: another Team lead confirms it"),',
        "",
        ("tests/test_keep_four_eyes.py",),
    ),
    Mutation(
        "four-eyes-scaling",
        "whoever proposed a scaling step cannot approve it",
        LIFECYCLE,
        'not_by=(("proposed_by", "proposed {label} and cannot approve it"),),',
        "not_by=(),",
        ("tests/test_scaling.py",),
    ),
    Mutation(
        "four-eyes-release-editor",
        "whoever edited a draft release cannot approve it",
        LIFECYCLE,
        '("was_edited_by", "edited {label} and cannot approve it"),',
        "",
        ("tests/test_release_four_eyes.py",),
    ),
    Mutation(
        "keep-horizon",
        "a keep needs at least 5 days of the experiment running (5 days is enough)",
        RULES,
        "if now < experiment.keep_allowed_from:",
        "if now <= experiment.keep_allowed_from:",
        ("tests/test_lifecycle.py", "tests/test_keep_horizon.py", "tests/test_keep_four_eyes.py"),
    ),
    Mutation(
        "keep-horizon-days",
        "the card and the rule count the experiment's own minimum horizon, not a day less",
        "experiments/models.py",
        "return self.started_at + datetime.timedelta(days=self.min_horizon_days)",
        "return self.started_at + datetime.timedelta(days=self.min_horizon_days - 1)",
        ("tests/test_keep_horizon.py", "tests/test_lifecycle.py"),
    ),
    # -- risk scaling ------------------------------------------------------------------------------
    Mutation(
        "scaling-hold",
        "each scaling step holds 7 days before the next may start (7 days to the microsecond)",
        RULES,
        "if now < next_allowed:",
        "if now <= next_allowed:",
        SCALING_TESTS,
    ),
    Mutation(
        "scaling-step-max",
        "a scaling step raises a risk param by +10% to +20%, +20% included",
        RULES,
        "SCALING_STEP_MIN_PCT <= step_pct <= SCALING_STEP_MAX_PCT",
        "SCALING_STEP_MIN_PCT <= step_pct < SCALING_STEP_MAX_PCT",
        SCALING_TESTS,
    ),
    Mutation(
        "scaling-closes",
        "each of the 2 weeks before a step has at least 20 closes (20 is enough)",
        SCALING,
        'figures["trades"] >= MIN_TRADES_PER_WEEK,',
        'figures["trades"] > MIN_TRADES_PER_WEEK,',
        SCALING_TESTS,
    ),
    Mutation(
        "scaling-stable",
        "stable: the latest week's P&L/trade is at least 80% of the week before's",
        SCALING,
        "latest >= before * STABLE_SHARE,",
        "latest > before * STABLE_SHARE,",
        SCALING_TESTS,
    ),
    Mutation(
        "scaling-critical",
        "an open critical incident blocks scaling; a resolved one does not",
        SCALING,
        ").exclude(status=IntegrityIncident.Status.RESOLVED)",
        ")",
        SCALING_TESTS,
    ),
    # -- the circuit breaker ---------------------------------------------------------------------
    Mutation(
        "breaker-boundary",
        "the circuit breaker trips at -3.00% today exactly (<= -3%)",
        BREAKER,
        "change[0] <= bot.breaker_pct",
        "change[0] < bot.breaker_pct",
        ("tests/test_circuit_breaker.py",),
    ),
    Mutation(
        "breaker-safety-events",
        "the breaker trips on more safety events today than the bot's limit, not as many",
        BREAKER,
        "if len(events) > bot.safety_events_per_day:",
        "if len(events) >= bot.safety_events_per_day:",
        ("tests/test_circuit_breaker.py",),
    ),
    # -- a shadow is no money --------------------------------------------------------------------
    Mutation(
        "breaker-shadows",
        "the breaker watches live bots only: a shadow trades no money",
        BREAKER,
        'Bot.objects.live().filter(is_active=True).order_by("pk")',
        'Bot.objects.filter(is_active=True).order_by("pk")',
        ("tests/test_circuit_breaker.py", "tests/test_shadow_bots.py"),
    ),
    Mutation(
        "shadow-change-not-money",
        "a change on a shadow is never judged by the rollback triggers as money",
        TRIGGERS,
        'money = {"bot__shadow_of__isnull": True}',
        "money = {}",
        (*ROLLBACK, "tests/test_shadow_bots.py"),
    ),
    # -- the verdict -----------------------------------------------------------------------------
    Mutation(
        "verdict-min-trades",
        "a verdict needs 30 trades in each arm (30 is enough)",
        SHADOW,
        '(e["n_c"] < min_trades)',
        '(e["n_c"] <= min_trades)',
        VERDICTS,
    ),
    Mutation(
        "verdict-shadow-trades",
        "a verdict needs 30 trades in the shadow too, not only the candidate",
        SHADOW,
        '| (e["n_s"] < min_trades)',
        '| (e["n_c"] < min_trades)',
        VERDICTS,
    ),
    Mutation(
        "verdict-whole-days",
        "a verdict needs 2 whole UTC days: the day the change started counts only if whole",
        SHADOW,
        "np.floor(times / DAY_SECONDS) - math.ceil(start / DAY_SECONDS)",
        "np.floor(times / DAY_SECONDS) - math.floor(start / DAY_SECONDS)",
        VERDICTS,
    ),
    Mutation(
        "verdict-min-days",
        "a verdict needs 2 whole UTC days, not 1",
        "experiments/verdicts/sequence.py",
        "MIN_DAYS = 2",
        "MIN_DAYS = 1",
        VERDICTS,
    ),
    Mutation(
        "twins-window",
        "twin trades are opened up to 5 minutes apart, exactly 5:00 included",
        "experiments/verdicts/twins.py",
        "left_gap[left_gap > tolerance] = np.inf",
        "left_gap[left_gap >= tolerance] = np.inf",
        VERDICTS,
    ),
    Mutation(
        "like-for-like",
        "under half of the trades paired: the shadow is not like for like (exactly half is)",
        SHADOW,
        'unlike = paired / (e["n_c"][at] + e["n_s"][at]) < MIN_PAIRED',
        'unlike = paired / (e["n_c"][at] + e["n_s"][at]) <= MIN_PAIRED',
        VERDICTS,
    ),
    # -- the loop with the bot -------------------------------------------------------------------
    Mutation(
        "drift-grace",
        "config drift becomes an incident after the bot's grace (5 min), not at it",
        LOOP,
        "return now - self.since > self.grace",
        "return now - self.since >= self.grace",
        ("tests/test_bot_loop.py",),
    ),
    Mutation(
        "drift-since",
        "drift's grace counts from the later of the release change and the bot's own swap",
        LOOP,
        "since=max(changed_at, pulse.running_since),",
        "since=min(changed_at, pulse.running_since),",
        ("tests/test_bot_loop.py",),
    ),
    Mutation(
        "silence-grace",
        "a bot is silent after 15 min without a heartbeat or a record, not at 15",
        LOOP,
        "if now - last <= bot.silent_after_minutes * MINUTE:",
        "if now - last < bot.silent_after_minutes * MINUTE:",
        (BOUNDARIES, "tests/test_bot_loop.py"),
    ),
    Mutation(
        "stop-grace",
        "a bot still trading 3 min after a stop ignores it; at 3 min it is within its grace",
        LOOP,
        "if now - bot.trading_changed_at <= bot.stop_grace_minutes * MINUTE:",
        "if now - bot.trading_changed_at < bot.stop_grace_minutes * MINUTE:",
        ("tests/test_trading_mode.py",),
    ),
    # -- the integrity gate ----------------------------------------------------------------------
    Mutation(
        "gate-days",
        "the integrity gate passes on the 3rd clean day in a row",
        "integrity/selectors.py",
        "self.clean_days >= INTEGRITY_GATE_DAYS and",
        "self.clean_days > INTEGRITY_GATE_DAYS and",
        ("tests/test_integrity_gate.py",),
    ),
    Mutation(
        "gate-violation-day",
        "a day with a violation is not clean, even with a clean check run the same day",
        "integrity/selectors.py",
        'Q(day__gt=F("violation_day"))',
        'Q(day__gte=F("violation_day"))',
        ("tests/test_integrity_gate.py",),
    ),
]


def refuse(message):
    """Stop the pass: it cannot run as asked (exit 2, apart from a survivor's 1)."""
    print(message, file=sys.stderr)
    sys.exit(2)


def check_snippets(mutations, root):
    """The refusals, one per mutation whose original snippet is not exactly once in its file."""
    problems = []
    for m in mutations:
        path = root / m.path
        if not path.is_file():
            problems.append(f"{m.id}: {m.path} does not exist")
            continue
        found = path.read_text().count(m.old)
        if found != 1:
            problems.append(f"{m.id}: {m.old!r} is in {m.path} {found} times, not once")
        if m.old == m.new:
            problems.append(f"{m.id}: the mutated snippet is the original")
        missing = [test for test in m.tests if not (root / test).is_file()]
        if missing:
            problems.append(f"{m.id}: no test file {', '.join(missing)}")
    ids = [m.id for m in mutations]
    problems += [f"{i}: the id is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    return problems


def make_copy():
    """A copy of the working tree's files (tracked or not ignored) in a temporary folder."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    copy = Path(tempfile.mkdtemp(prefix="mutation-pass-"))
    for name in filter(None, listed.split("\0")):
        source = PROJECT / name
        if source.is_file():  # a tracked file deleted in the work tree is left out
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    for name in (".venv", ".env"):
        if (PROJECT / name).exists():
            (copy / name).symlink_to(PROJECT / name)
    return copy


def pytest_env():
    # No bytecode is written: a mutation and its restore can land in the same second with the
    # same size, and a cached .pyc of the mutant would then be imported as the original.
    return os.environ | {"PYTHONDONTWRITEBYTECODE": "1"}


def check_imports_from(copy):
    """The copy's modules, not the editable install's, are what the tests import."""
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.util as u; print(u.find_spec('experiments').origin)",
        ],
        cwd=copy,
        env=pytest_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not Path(where).resolve().is_relative_to(copy.resolve()):
        refuse(f"the copy at {copy} imports experiments from {where}; cannot mutate it")


def run_tests(copy, tests):
    """(pytest's exit status, the first failing test or error line, seconds)."""
    command = [
        *(sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:logging", "-p", "no:cacheprovider"),
        "--reuse-db",
        *tests,
    ]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=copy,
        env=pytest_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None, f"timeout after {TIMEOUT_SECONDS} s", time.monotonic() - started
    failed = next(
        (
            line.split(" - ")[0].split(" ", 1)[1]
            for line in output.splitlines()
            if line.startswith(("FAILED ", "ERROR "))
        ),
        None,
    )
    return process.returncode, failed or output.strip()[-300:], time.monotonic() - started


def run_mutation(copy, mutation):
    """(result, killed by, seconds) of one mutation; the file is restored whatever happens."""
    path = copy / mutation.path
    original = path.read_text()
    path.write_text(original.replace(mutation.old, mutation.new, 1))
    try:
        status, failed, seconds = run_tests(copy, mutation.tests)
    finally:
        path.write_text(original)
    if status is None:
        return "killed", failed, seconds
    if status == 0:
        return "**survived**", "", seconds
    if status in (1, 2):  # a test failed, or collection broke on the mutant (an import error)
        return "killed", failed, seconds
    refuse(f"{mutation.id}: pytest exited {status}: {failed}")


def cell(text):
    return " ".join(text.split()).replace("|", "\\|")


def code(text):
    return f"`{cell(text)}`" if text.strip() else "(removed)"


def table(rows):
    lines = [
        "| id | rule | mutation (file: old → new) | result | killed by |",
        "|---|---|---|---|---|",
    ]
    for m, result, killed_by in rows:
        change = f"{m.path}: {code(m.old)} → {code(m.new)}"
        by = f"`{cell(killed_by)}`" if killed_by else ""
        lines.append(f"| {m.id} | {cell(m.rule)} | {change} | {result} | {by} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutations")
    parser.add_argument("--list", action="store_true", help="list the mutations; run nothing")
    args = parser.parse_args()
    problems = check_snippets(MUTATIONS, PROJECT)
    if problems:
        refuse("the mutation list does not match the code:\n  " + "\n  ".join(problems))
    chosen = MUTATIONS
    if args.only:
        unknown = sorted(set(args.only) - {m.id for m in MUTATIONS})
        if unknown:
            refuse(f"no mutation {', '.join(unknown)}; --list shows them")
        chosen = [m for m in MUTATIONS if m.id in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.id:26} {m.path}: {cell(m.old)} → {cell(m.new)}\n{'':26} {m.rule}")
        return 0

    started = time.monotonic()
    copy = make_copy()
    try:
        check_imports_from(copy)
        every_test = list(dict.fromkeys(test for m in chosen for test in m.tests))
        status, failed, seconds = run_tests(copy, every_test)
        print(f"unmutated: {len(every_test)} test files, {seconds:.0f} s", file=sys.stderr)
        if status != 0:
            print(f"the covering tests fail unmutated: {failed}", file=sys.stderr)
            return 2
        rows = []
        for n, m in enumerate(chosen, 1):
            result, killed_by, seconds = run_mutation(copy, m)
            rows.append((m, result, killed_by))
            print(f"[{n}/{len(chosen)}] {m.id}: {result} ({seconds:.0f} s)", file=sys.stderr)
    finally:
        shutil.rmtree(copy)
    survived = sum(result != "killed" for _, result, _ in rows)
    print(table(rows))
    print(
        f"\n{len(rows) - survived} of {len(rows)} mutations killed, {survived} survived; "
        f"{time.monotonic() - started:.0f} s."
    )
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
