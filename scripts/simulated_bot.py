#!/usr/bin/env python
"""A simulated bot closing the loop over HTTP, as a real one would: it polls its config
(`GET /api/v1/config` with If-None-Match), applies a new release after `--apply-after` seconds,
and sends a heartbeat with the release it runs every `--heartbeat` seconds.

    scripts/simulated_bot.py --url http://127.0.0.1:8000 --token "$TRADEOPS_TOKEN" \\
        --apply-after 420 --poll 10 --heartbeat 60

An apply slower than the bot's drift grace (5 minutes by default, e.g. `--apply-after 420`)
shows the config drift incident open, then resolve once it applies. It stops after `--duration`
seconds (an hour by default) or Ctrl-C; a stopped bot is a silent one after 15 minutes. Needs
nothing but the standard library.

It honours its trading mode (`"trading"` in the config: trade, stop_entries, exit_all) at the
poll that brings it, without the apply delay (a stop waits for nothing), and reports it in every
heartbeat (`"trading"`), at once when it changes. `--ignore-stop` makes it a bot that keeps
trading whatever it is told (it still reports `trade`): the "bot ignores stop" incident opens
after the bot's stop grace.

`--shadow` runs it as a shadow bot (the token of a bot created with `manage.py create_bot SLUG
--shadow-of LIVE_SLUG`): it checks that its config says so, runs dry-run, and reports the release
it is given, which is the experiment's baseline while one runs on the live bot.
"""

import argparse
import datetime
import json
import time
import urllib.error
import urllib.request


def call(url, token, body=None, etag=None):
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET")
    request.add_header("Authorization", f"Bearer {token}")
    if body:
        request.add_header("Content-Type", "application/json")
    if etag:
        request.add_header("If-None-Match", etag)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("ETag"), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True)
    parser.add_argument("--apply-after", type=float, default=5, help="seconds to apply a change")
    parser.add_argument("--poll", type=float, default=10, help="seconds between config pulls")
    parser.add_argument("--heartbeat", type=float, default=60, help="seconds between heartbeats")
    parser.add_argument("--running", default=None, help="the release tag it runs at the start")
    parser.add_argument("--duration", type=float, default=3600, help="seconds before it stops")
    parser.add_argument(
        "--shadow", action="store_true", help="run as a shadow bot (dry-run beside its live bot)"
    )
    parser.add_argument(
        "--ignore-stop", action="store_true", help="keep trading whatever the trading mode says"
    )
    args = parser.parse_args()
    etag, running, pending, next_beat = None, args.running, None, 0.0
    trading, trading_version = "trade", -1
    # Bounded, like any load on a server: it stops by itself.
    stop_at = time.monotonic() + args.duration
    while time.monotonic() < stop_at:
        status, new_etag, config = call(f"{args.url}/api/v1/config", args.token, etag=etag)
        if status == 200:
            etag, tag = new_etag, config["release"]["tag"]
            if args.shadow and not config.get("shadow_of"):
                raise SystemExit(
                    f"{config['bot']} is not a shadow: create one with manage.py create_bot "
                    "SLUG --shadow-of LIVE_SLUG and use its token"
                )
            role = f"shadow of {config['shadow_of']}, dry-run: " if args.shadow else ""
            print(f"config: {role}{tag} ({config['why']}); applying in {args.apply_after:g} s")
            pending = (tag, time.monotonic() + args.apply_after)
            running = running or tag
            # A mode newer than the one applied is applied now (a push may have brought it).
            told = config.get("trading", "trade")
            if config.get("trading_version", 0) > trading_version:
                trading_version = config.get("trading_version", 0)
                applied = "trade" if args.ignore_stop else told
                if applied != trading:
                    trading, next_beat = applied, 0.0  # report the change at once
                print(f"trading: told {told} ({config.get('trading_why')}); applies {trading}")
        elif status != 304:
            print(f"config: HTTP {status}")
        if pending and time.monotonic() >= pending[1]:
            running, pending, next_beat = pending[0], None, 0.0  # report the change at once
            print(f"applied {running}")
        if running and time.monotonic() >= next_beat:
            beat = {
                "ts": datetime.datetime.now(datetime.UTC).isoformat(),
                "kind": "heartbeat",
                "running_release": running,
                "trading": trading,
            }
            body = json.dumps([beat]).encode()
            status, _, counts = call(f"{args.url}/api/v1/ingest/health", args.token, body=body)
            print(f"heartbeat {running} {trading}: HTTP {status} {counts}")
            next_beat = time.monotonic() + args.heartbeat
        time.sleep(args.poll)


if __name__ == "__main__":
    main()
