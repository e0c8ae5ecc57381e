"""The fleet benchmark (issue 22): the periodic jobs of a checked-out tree, run by real
`rqworker` processes against a fleet, in a busy period; prints for each schedule entry whether its
run finished within its period, the delay of the minute jobs from their due time, and the
worker-seconds an hour each job costs.

Scale: by default 500 bots, 20 of them at 1M trades a year (2,740 closes a day), the others
log-uniform between 100 and 3,000 closes a day, each running an experiment (candidate for the
last 10 days), 25 shadows, 50 freqtrade sources, 51 alert channels (bench/fleet_data.py). The
history is scaled down to `--days` (35 by default, enough for the 30-day KPI windows and the
experiments' windows; a year of 500 bots is 100M+ trades, beyond a 2-core machine). The load runs
at about 2,600 trades a second with fills on a busy 2-core machine: `--days 3` (1.4M trades) took
531 s, the 35 days ~16M trades would take hours there; the figures in docs/benchmarks.md are
at 3 days.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops_h1 REDIS_URL=redis://127.0.0.1:6379/1 \
      .venv/bin/python bench/fleet.py --workers 1,2,4 [--keep] [--results notes.md] \
      [--tree /tmp/fleet_old --label before]   # a worktree of the old code (git worktree add)

The fleet is loaded once into <db>_fleet (`--keep` reuses it) and each run gets a copy of it
(CREATE DATABASE ... TEMPLATE), so runs do not see each other's writes. A run: the workers start
on the tree's code (`--tree`, by default this checkout; with 1 worker it takes every queue, with
more one takes `minute` and the others `default slow`, and a tree whose cron_config.py puts
everything on `default` gets all its workers on `default`), the jobs its cron_config.py registers
(read from RQ's cron registry after importing it) are all enqueued at t0, as at 00:00 when every
job is due, then each minute those due that minute, for `--minutes`; heartbeats are kept fresh.
After `--drain` more seconds the workers stop and the RQ job records are read: a run is its cron
job and the unit jobs it fanned out.
"""

import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
VIRTUAL_T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)  # a midnight: every job due
UNIT_FUNC = "tradeops.scheduling.run_unit"
QUEUE_NAMES = ("minute", "default", "slow")
# The minute jobs that must not wait (the `minute` queue's today; on `default` before).
URGENT = ("watch_bot_loop", "circuit_breakers", "dispatch_alerts", "push_release_changes")


def _urgent(name):
    return any(word in name for word in URGENT)


# -- the driver: runs inside the measured tree ---------------------------------------------------


def drive(args):
    """Enqueue the tree's cron jobs through a busy period, then dump the RQ job records."""
    sys.path.insert(0, args.drive)
    os.chdir(args.drive)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeops.settings")
    import django

    django.setup()
    import django_rq
    from croniter import croniter
    from django.db import connection
    from rq import Worker, cron
    from rq.job import Job

    __import__("cron_config")
    registered = list(cron._job_data_registry)
    redis = django_rq.get_connection("default")
    while len(Worker.all(connection=redis)) < args.expect_workers:
        time.sleep(0.5)
    jobs = [
        (cron.CronJob(**{k: v for k, v in data.items() if v is not None}), data)
        for data in registered
    ]
    enqueued = []
    t0 = time.time()
    for minute in range(args.minutes):
        time.sleep(max(0.0, t0 + 60 * minute - time.time()))
        with connection.cursor() as cursor:
            cursor.execute("UPDATE tradeops_botpulse SET last_heartbeat_at = now()")
        moment = VIRTUAL_T0 + datetime.timedelta(minutes=minute)
        for job, data in jobs:
            daily = data["cron"].split()[1] != "*"
            if minute == 0 or (not daily and croniter.match(data["cron"], moment)):
                started = job.enqueue(redis)
                enqueued.append(
                    {
                        "id": started.id,
                        "name": job.name,
                        "queue": job.queue_name,
                        "cron": data["cron"],
                        "timeout": started.timeout,
                        "due": t0 + 60 * minute,
                        "period": 86400 if daily else _period(data["cron"], moment),
                    }
                )
    ends = t0 + 60 * args.minutes + args.drain
    while time.time() < ends and _busy(redis):
        time.sleep(1)
    records = [_record(job) for job in Job.fetch_many(_all_ids(redis), connection=redis) if job]
    Path(args.out).write_text(json.dumps({"t0": t0, "cron": enqueued, "jobs": records}))


def _period(cron_line, moment):
    from croniter import croniter

    nxt = croniter(cron_line, moment).get_next(datetime.datetime)
    return int((nxt - moment).total_seconds())


def _queues(redis):
    from rq import Queue

    return [Queue(name, connection=redis) for name in QUEUE_NAMES]


def _busy(redis):
    return any(q.count or q.started_job_registry.count for q in _queues(redis))


def _all_ids(redis):
    ids = set()
    for queue in _queues(redis):
        ids.update(queue.job_ids)
        for registry in (
            queue.started_job_registry,
            queue.finished_job_registry,
            queue.failed_job_registry,
        ):
            ids.update(registry.get_job_ids())
    return sorted(ids)


def _record(job):
    def stamp(moment):
        return moment.replace(tzinfo=datetime.UTC).timestamp() if moment else None

    return {
        "id": job.id,
        "func": job.func_name,
        "args": [str(a) for a in job.args[:3]],
        "queue": job.origin,
        "status": getattr(job.get_status(), "value", str(job.get_status())),
        "enqueued": stamp(job.enqueued_at),
        "started": stamp(job.started_at),
        "ended": stamp(job.ended_at),
        "error": (job.exc_info or "").strip().splitlines()[-1:] if job.exc_info else [],
    }


# -- the orchestrator -----------------------------------------------------------------------------


def worker_layout(workers, queues):
    """Which queues each worker process takes: the production layout of tradeops.schedule."""
    if queues == {"default"}:
        return [["default"]] * workers
    if workers == 1:
        return [list(QUEUE_NAMES)]
    return [["minute"]] + [["default", "slow"]] * (workers - 1)


def tree_queues(tree, env):
    """The queues the tree's cron_config.py registers jobs on."""
    code = (
        "import os,sys,django;sys.path.insert(0,'.');"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE','tradeops.settings');django.setup();"
        "from rq import cron;import cron_config;"
        "print(' '.join(sorted({d['queue_name'] for d in cron._job_data_registry})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def admin(sql, database="postgres"):
    """One statement through psql (DROP and CREATE DATABASE run outside a transaction); rows."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    out = subprocess.run(
        ["psql", "-h", db["HOST"], "-p", str(db["PORT"] or 5432), "-U", db["USER"], "-d",
         database, "-v", "ON_ERROR_STOP=1", "-Atc", sql],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [line for line in out.stdout.splitlines() if line]


def database_url(name):
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{name}"


def load(base, args):
    from common import throwaway_database
    from django.db import connection
    from fleet_data import build

    exists = admin(f"SELECT datname FROM pg_database WHERE datname = '{base}'")
    if exists and args.keep:
        comment = admin(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                        f"WHERE datname = '{base}'")  # fmt: skip
        if comment:
            print(f"fleet kept in {base}: {comment}")
            return json.loads(comment[0])
    if exists:
        admin(f'DROP DATABASE "{base}" WITH (FORCE)')
    began = time.perf_counter()
    with throwaway_database(name=base, drop=False):
        summary = build(bots=args.bots, heavy=args.heavy, days=args.days)
        summary["load_seconds"] = round(time.perf_counter() - began)
        with connection.cursor() as cursor:
            cursor.execute(f"COMMENT ON DATABASE \"{base}\" IS '{json.dumps(summary)}'")
    connection.close()
    print(f"fleet loaded into {base}: {summary}")
    return summary


def run(base, tree, workers, args):
    """One measured run; its job records and the load average around it."""
    run_db = f"{base}_run"
    admin(f'DROP DATABASE IF EXISTS "{run_db}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{run_db}" TEMPLATE "{base}" STRATEGY FILE_COPY')
    env = {**os.environ, "DATABASE_URL": database_url(run_db), "DEBUG": "False"}
    env.setdefault("SECRET_KEY", "bench-only-secret-key")
    env["SECURE_SSL_REDIRECT"] = "False"
    import redis as redis_lib

    redis_lib.Redis.from_url(env["REDIS_URL"]).flushdb()
    layout = worker_layout(workers, tree_queues(tree, env))
    python = str(REPO / ".venv" / "bin" / "python")
    procs = [
        subprocess.Popen(
            [python, "manage.py", "rqworker", *queues],
            cwd=tree,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for queues in layout
    ]
    load_before = os.getloadavg()
    handle, out = tempfile.mkstemp(suffix=".json")
    os.close(handle)
    try:
        subprocess.run(
            [python, str(HERE), "--drive", tree, "--out", out, "--minutes", str(args.minutes),
             "--drain", str(args.drain), "--expect-workers", str(workers)],
            cwd=tree, env=env, check=True,
        )  # fmt: skip
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    result = json.loads(Path(out).read_text())
    os.unlink(out)
    result["layout"] = layout
    result["load"] = [load_before, os.getloadavg()]
    admin(f'DROP DATABASE IF EXISTS "{run_db}" WITH (FORCE)')
    return result


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else None


def analyse(result):
    """Per schedule entry: runs, finished within period, work per run, worker-s an hour, delay."""
    jobs = {job["id"]: job for job in result["jobs"]}
    units = [job for job in result["jobs"] if job["func"] == UNIT_FUNC]
    rows = {}
    for cron_run in result["cron"]:
        row = rows.setdefault(
            cron_run["name"],
            {"queue": cron_run["queue"], "period": cron_run["period"], "runs": 0,
             "timeout": cron_run["timeout"], "in_period": 0, "work": [], "delays": [],
             "killed": 0, "units": 0, "units_done": 0, "open": 0, "failed": 0, "errors": set()},
        )  # fmt: skip
        row["runs"] += 1
        job = jobs.get(cron_run["id"])
        if job is None or job["started"] is None:
            row["open"] += 1
            continue
        row["delays"].append(job["started"] - cron_run["due"])
        mine = [
            unit
            for unit in units
            if unit["args"][0] == cron_run["name"]
            and job["started"] <= unit["enqueued"] <= (job["ended"] or 1e18) + 1
        ]
        row["units"] += len(mine)
        ended = [u for u in mine if u["ended"]]
        row["units_done"] += len(ended)
        if any("Timeout" in " ".join(u["error"]) for u in [job, *mine]):
            row["killed"] += 1
        if any(u["status"] == "failed" for u in [job, *mine]):
            row["failed"] += 1
            row["errors"].update(e[:120] for u in [job, *mine] for e in u["error"])
        durations = [u["ended"] - u["started"] for u in ended]
        own = (job["ended"] or time.time()) - job["started"]
        if job["ended"] and len(ended) == len(mine):
            work = own + sum(durations)
            end = max([job["ended"], *[u["ended"] for u in ended]])
            failed = job["status"] != "finished" or any(u["status"] != "finished" for u in mine)
            if not failed and end - cron_run["due"] <= cron_run["period"]:
                row["in_period"] += 1
        else:
            row["open"] += 1
            if not job["ended"] or not durations:
                continue  # the run's cost is not known from the window
            work = own + statistics.mean(durations) * len(mine)  # the units still to run: ~
        row["work"].append(work)
    return rows


def table(label, tree, workers, result):
    rows = analyse(result)
    load = result["load"]
    lines = [
        f"### {label}: {workers} worker(s) {result['layout']}",
        f"tree {tree}; load average before {load[0][0]:.2f} {load[0][1]:.2f}, "
        f"after {load[1][0]:.2f} {load[1][1]:.2f}",
        "",
        "| job | queue | period s | timeout s | runs | finished in period | killed (timeout) "
        "| failed | units done | work/run s | worker-s/h | start delay p50/p99 s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    total = 0
    for name, row in rows.items():
        work = statistics.mean(row["work"]) if row["work"] else None
        per_hour = work * 3600 / row["period"] if work is not None else None
        total += per_hour or 0
        delays = row["delays"]
        delay = f"{percentile(delays, 0.5):.1f} / {percentile(delays, 0.99):.1f}" if delays else "—"
        unit_part = f"{row['units_done']}/{row['units']}" if row["units"] else "—"
        lines.append(
            f"| {name} | {row['queue']} | {row['period']} | {row['timeout']} | {row['runs']} "
            f"| {row['in_period']}/{row['runs']} ({row['open']} not ended) | {row['killed']} "
            f"| {row['failed']} | {unit_part} | {'—' if work is None else f'{work:.1f}'} "
            f"| {'—' if per_hour is None else f'{per_hour:,.0f}'} | {delay} |"
        )
    errors = [
        f"{name}: {'; '.join(sorted(row['errors']))}" for name, row in rows.items() if row["errors"]
    ]
    minute = [d for name, row in rows.items() if _urgent(name) for d in row["delays"]]
    loop = [d for name, row in rows.items() if "watch_bot_loop" in name for d in row["delays"]]
    unstarted = sum(1 for c in result["cron"] if _urgent(c["name"])) - len(minute)
    lines += [
        "",
        f"minute jobs' ({', '.join(URGENT)}) start delay from due: "
        f"p50 {percentile(minute, 0.5) or 0:.1f} s, "
        f"p99 {percentile(minute, 0.99) or 0:.1f} s ({unstarted} never started in the window); "
        f"loop watch max {max(loop, default=float('nan')):.1f} s; "
        f"known work {total:,.0f} worker-s/h against {workers * 3600:,} available",
        *[f"failed: {line}" for line in errors],
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--expect-workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=str(REPO), help="the checkout whose jobs run")
    parser.add_argument("--label", default="after")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--minutes", type=int, default=6)
    parser.add_argument("--drain", type=int, default=60, help="seconds after the last minute")
    parser.add_argument("--bots", type=int, default=500)
    parser.add_argument("--heavy", type=int, default=20)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--keep", action="store_true", help="reuse the loaded fleet")
    parser.add_argument("--results", help="append the tables to this markdown file")
    args = parser.parse_args()
    if args.drive:
        return drive(args)
    if not os.environ.get("REDIS_URL"):
        sys.exit("set REDIS_URL to a Redis database of your own: the run flushes it")
    sys.path.insert(0, str(HERE.parent))
    __import__("common")  # sets Django up
    from django.conf import settings

    base = f"{settings.DATABASES['default']['NAME']}_fleet"
    summary = load(base, args)
    print(f"scale: {summary}")
    for workers in [int(n) for n in args.workers.split(",") if n]:
        began = time.perf_counter()
        result = run(base, args.tree, workers, args)
        text = table(args.label, args.tree, workers, result)
        text += f"(run took {time.perf_counter() - began:.0f} s; scale {summary})\n"
        print(text, flush=True)
        if args.results:
            with open(args.results, "a") as results:
                results.write(text + "\n")


if __name__ == "__main__":
    main()
