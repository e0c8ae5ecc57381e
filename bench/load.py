"""A fleet's steady load on the ingestion API through the production set-up: nginx from
deploy/nginx.conf.template in front of gunicorn with deploy/gunicorn.conf.py (sync workers, 4
unless --workers), as deploy/run starts them, on a throw-away PostgreSQL database on 127.0.0.1
that already holds the fleet's history.

The history: N bots (default 50), 4% of them closing 2,740 trades a day (1M a year) and the
others 200 to 3,000 (dataset.realistic_closes_a_day), over `--history-days` days (default 14: a
year is scaled down to days, and the scale is printed), each trade with its 2 fills, an equity
curve and decision counts. Then each bot, a thread, sends for `--duration` seconds, each second
`--records` records (default 100, as the load of issue 11: 50 bots x 100 records a second):

- a trades batch of half of them: 40% of it the trades it opened a second ago, now closed (open
  -> closed updates), 40% new trades sent open, 10% new trades opened and closed within the
  second, 10% re-sends of closed records of the second before (same id and content, as a bot
  retrying after a lost answer), every timestamp its own (within the second before the send, in
  microseconds); the first second has no updates or re-sends;
- half a second later, a fills batch (the other half): the entry and exit fills of the trades it
  closed.

Request k is due at start + the bot's offset + k seconds (the offsets spread over the first
second); latency runs from when a request was due to its answer, so a server that falls behind
shows as latency, not as fewer requests. Each bot sends exactly its requests, none after the
duration plus a grace period (counted as errors), each with a timeout. Afterwards the database
is checked against what was sent: new trades stored, closed, and fills.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/load.py

`--beside "COMMAND"` runs a shell command beside the load (started before the clock, stopped
after), to measure the same figure with other work running, e.g.
`--beside ".venv/bin/python bench/kpis.py --trades 200000 --runs 50"`. The load average is
printed before and after. Prints p50/p99/max latency and the error count. Target (issue 11):
p99 under 500 ms, 0 errors.
"""

import argparse
import datetime
import json
import os
import random
import signal
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import throwaway_database  # sets Django up first
from dataset import build_fleet, realistic_closes_a_day
from django.utils import timezone
from ingest_http import post

from tests import servers
from tradeops.models import Fill, Trade
from tradeops.services import issue_api_token

REQUEST_TIMEOUT = 10
GRACE_SECONDS = 15
SYMBOLS = [f"SYM{n:03d}USDT" for n in range(20)]


class Sender:
    """One bot's records, second by second: what it opened, closes a second later."""

    def __init__(self, index, wall_start, records=100):
        self.index, self.wall_start = index, wall_start
        # A second's new open trades, opened-and-closed ones and re-sends: 40%, 10% and 10% of
        # the trades batch (half the records; the other half are the fills).
        self.opens, self.quick = records // 5, records // 20
        self.resends = records // 20
        self.rng = random.Random(index)
        self.open, self.closed_lines = [], []
        self.expected = {"accepted": 0, "updated": 0, "unchanged": 0, "fills": 0, "closes": 0}

    def _moment(self, k, within=1.0):
        # Within the second before request k's due time: never in the future for the server.
        seconds = k - self.rng.uniform(0, within)
        return self.wall_start + datetime.timedelta(seconds=seconds)

    def _opened(self, k, n):
        price = self.rng.randint(100, 60000)
        return {
            "external_id": f"L{self.index}-{k}-{n}",
            "symbol": self.rng.choice(SYMBOLS),
            "side": "short" if self.rng.random() < 0.75 else "long",
            "status": "open",
            "opened_at": self._moment(k - 1).isoformat(),
            "qty": "0.25",
            "entry_price": f"{price}.5",
            "leverage": "5",
            "release": "v2",
            "est_fees": "1.5",
            "est_funding": "0.1",
            "est_slippage_bps": "1.2",
        }

    def _close(self, record, k):
        gross = self.rng.randint(-5000, 6000) / 100
        fees, funding = self.rng.randint(50, 300) / 100, self.rng.randint(-20, 50) / 100
        return {
            **record,
            "status": "closed",
            "closed_at": self._moment(k, within=0.5).isoformat(),
            "exit_price": f"{float(record['entry_price']) * 0.999:.4f}",
            "gross_pnl": f"{gross:.4f}",
            "fees": f"{fees:.4f}",
            "funding": f"{funding:.4f}",
            "net_pnl": f"{gross - fees - funding:.4f}",
            "exit_reason": self.rng.choice(["take_profit", "stop_loss", "trailing_stop"]),
        }

    def trades(self, k):
        """Request k's trades body; the closes are kept for its fills."""
        closes = [self._close(record, k) for record in self.open]
        self.open = [self._opened(k, n) for n in range(self.opens)]
        quick = [self._close(self._opened(k, self.opens + n), k) for n in range(self.quick)]
        self.closes = closes + quick
        lines = [json.dumps(record) for record in closes + self.open + quick]
        resends = self.rng.sample(self.closed_lines, min(self.resends, len(self.closed_lines)))
        self.closed_lines = [json.dumps(record) for record in self.closes]
        counts = self.expected
        counts["accepted"] += self.opens + self.quick
        counts["updated"] += len(closes)
        counts["unchanged"] += len(resends)
        counts["closes"] += len(self.closes)
        return "\n".join(lines + resends).encode()

    def fills(self):
        """The entry and exit fills of the trades closed by the last trades body."""
        lines = []
        for trade in self.closes:
            entry = float(trade["entry_price"])
            for leg, side, ts, price in (
                ("E", "sell" if trade["side"] == "short" else "buy", trade["opened_at"], entry),
                ("X", "buy" if trade["side"] == "short" else "sell", trade["closed_at"], entry),
            ):
                fill = {
                    "external_id": f"{trade['external_id']}-{leg}",
                    "trade_external_id": trade["external_id"],
                    "ts": ts,
                    "side": side,
                    "price": f"{price + self.rng.randint(-50, 50) / 100:.4f}",
                    "qty": trade["qty"],
                    "fee": "0.6",
                    "liquidity": "taker",
                    "expected_price": f"{price:.4f}",
                }
                lines.append(json.dumps(fill))
        self.expected["fills"] += len(lines)
        return "\n".join(lines).encode()


def run_bot(port, token, sender, first_due, seconds, deadline):
    """(latencies by kind, errors, counts answered) of one bot's bounded schedule."""
    latencies, errors = {"trades": [], "fills": []}, []
    answered = {"accepted": 0, "updated": 0, "unchanged": 0, "fills": 0}
    for k in range(seconds):
        for kind, due in (("trades", first_due + k), ("fills", first_due + k + 0.5)):
            now = time.monotonic()
            if now > deadline:
                errors.append(f"{kind} {k} not sent by the deadline")
                continue
            if now < due:
                time.sleep(due - now)
            body = sender.trades(k) if kind == "trades" else sender.fills()
            try:
                status, answer = post(port, token, body, timeout=REQUEST_TIMEOUT, kind=kind)
            except OSError as exc:
                errors.append(f"{kind} {k}: {exc}")
                continue
            latencies[kind].append(time.monotonic() - due)
            if status != 200:
                errors.append(f"{kind} {k}: HTTP {status} {answer[:200]!r}")
                continue
            counts = json.loads(answer)
            if counts["quarantined"]:
                errors.append(f"{kind} {k}: {counts}")
            if kind == "fills":
                answered["fills"] += counts["accepted"]
            else:
                for name in ("accepted", "updated", "unchanged"):
                    answered[name] += counts[name]
    return latencies, errors, answered


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def history(bots, days):
    heavy = max(1, bots * 20 // 500)
    per_day = realistic_closes_a_day(bots, heavy=heavy)
    started = time.perf_counter()
    fleet = build_fleet(
        bots=bots,
        trades_per_bot=[closes * days for closes in per_day],
        days=days,
        symbols=20,
        as_of=timezone.now().date(),
        end=timezone.now() - datetime.timedelta(minutes=10),
        down_days=(),
        slug_prefix="load-",
    )
    print(
        f"history: {bots} bots, {heavy} at 2,740 closes a day and the others "
        f"{min(per_day[heavy:]):,} to {max(per_day[heavy:]):,}, over {days} days: "
        f"{sum(per_day) * days:,} trades and {2 * sum(per_day) * days:,} fills (a year: "
        f"{sum(per_day) * 365:,} trades), loaded in {time.perf_counter() - started:.0f} s"
    )
    return fleet


def report(args, workers, results, elapsed, senders, fleet):
    latencies = {kind: [s for r in results for s in r[0][kind]] for kind in ("trades", "fills")}
    errors = [error for result in results for error in result[1]]
    answered = {name: sum(r[2][name] for r in results) for name in results[0][2]}
    expected = {name: sum(s.expected[name] for s in senders) for name in senders[0].expected}
    new = Trade.objects.filter(bot__in=fleet.bots, external_id__startswith="L")
    stored = {
        "trades": new.count(),
        "closed": new.filter(status=Trade.Status.CLOSED).count(),
        "fills": Fill.objects.filter(bot__in=fleet.bots, external_id__startswith="L").count(),
    }
    requests = args.bots * args.duration * 2
    s = senders[0]
    answers = sum(len(values) for values in latencies.values())
    print(
        f"{args.bots} bots x {args.duration} s, each second a trades batch ({s.opens} opens, "
        f"{s.opens} open->closed updates, {s.quick} opened-and-closed, {s.resends} re-sends) "
        f"and a fills batch ({2 * (s.opens + s.quick)}), through nginx + gunicorn ({workers} "
        "sync workers, deploy/ config): "
        f"{answers:,} of {requests:,} requests answered in {elapsed:.0f} s"
    )
    print(
        f"sent: {expected['accepted']:,} new trades, {expected['updated']:,} updates, "
        f"{expected['unchanged']:,} re-sends, {expected['fills']:,} fills | answered: "
        f"{answered['accepted']:,} accepted, {answered['updated']:,} updated, "
        f"{answered['unchanged']:,} unchanged, {answered['fills']:,} fills | stored: "
        f"{stored['trades']:,} new trades ({stored['closed']:,} closed of "
        f"{expected['closes']:,} closes sent), {stored['fills']:,} fills"
    )
    everything = latencies["trades"] + latencies["fills"]
    for name, values in (*latencies.items(), ("all", everything)):
        if values:
            print(
                f"latency from due time, {name}: p50 {statistics.median(values) * 1000:.0f} ms, "
                f"p99 {percentile(values, 0.99) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"
            )
    checks = [
        (stored["trades"], expected["accepted"], "new trades stored"),
        (stored["closed"], expected["closes"], "closed trades stored"),
        (stored["fills"], expected["fills"], "fills stored"),
        (answered["updated"], expected["updated"], "updates answered"),
        (answered["unchanged"], expected["unchanged"], "re-sends answered unchanged"),
    ]
    errors += [f"{name}: {got:,}, expected {want:,}" for got, want, name in checks if got != want]
    print(f"errors: {len(errors)} (target 0; p99 target < 500 ms)")
    for error in errors[:10]:
        print(f"  {error}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=50)
    parser.add_argument("--duration", type=int, default=120, help="seconds of sending")
    parser.add_argument("--records", type=int, default=100, help="a bot's records a second")
    parser.add_argument("--history-days", type=int, default=14)
    parser.add_argument("--workers", type=int, help="gunicorn workers (deploy's default: 4)")
    parser.add_argument("--beside", help="a shell command to run beside the load")
    args = parser.parse_args()
    options = ["-c", str(servers.DEPLOY / "gunicorn.conf.py")]
    if args.workers:
        options += ["--workers", str(args.workers)]
    workers = args.workers or int(os.environ.get("GUNICORN_WORKERS", "4"))

    with (
        throwaway_database(),
        tempfile.TemporaryDirectory() as run_dir,
        servers.gunicorn(Path(run_dir), *options) as upstream,
        servers.nginx(Path(run_dir), upstream) as port,
    ):
        fleet = history(args.bots, args.history_days)
        tokens = [issue_api_token(bot) for bot in fleet.bots]
        # The workers import the app on their first requests, before the clock starts.
        warm = Sender(-1, timezone.now())
        for k in range(workers * 2):
            post(port, tokens[0], warm.trades(k).replace(b'"L-1-', b'"W-1-'))
        beside = None
        if args.beside:
            beside = subprocess.Popen(args.beside, shell=True, start_new_session=True)
            time.sleep(5)  # let it get going
        print(f"load average before: {load_average()}")
        start = time.monotonic() + 1
        senders = [Sender(n, timezone.now(), args.records) for n in range(args.bots)]
        deadline = start + args.duration + GRACE_SECONDS
        try:
            with ThreadPoolExecutor(args.bots) as pool:
                results = list(
                    pool.map(
                        lambda n: run_bot(
                            port,
                            tokens[n],
                            senders[n],
                            start + n / args.bots,
                            args.duration,
                            deadline,
                        ),
                        range(args.bots),
                    )
                )
        finally:
            if beside is not None:
                os.killpg(beside.pid, signal.SIGTERM)
                beside.wait()
        elapsed = time.monotonic() - start
        beside_note = f" (beside: {args.beside})" if beside else ""
        print(f"load average after: {load_average()}{beside_note}")
        report(args, workers, results, elapsed, senders, fleet)


if __name__ == "__main__":
    main()
