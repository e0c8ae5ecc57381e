"""The config pull (issue 12): GET /api/v1/config from a fleet of bots, each with its own token,
through the whole Django stack (middleware, token check, throttle, view) in process, on a
throw-away PostgreSQL database.

Each run pulls every bot's config once (200, the body) and again with its ETag (304, the path a
polling fleet takes almost always), interleaved with a bare twin of each: a plain view on the same
stack that finds the bot by its token's hash in one SQL query and answers from it (no throttle,
no last-use, no JSON of the why). It prints requests/s, the 304 path's cost per request and its
queries. Target: 100 bots polling every 10 s, i.e. 10 requests/s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tradeops .venv/bin/python bench/config_pull.py
"""

import argparse
import statistics

from common import report, throwaway_database, timed  # sets Django up first
from django.db import connection
from django.http import HttpResponseNotModified, JsonResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import include, path
from django.utils import timezone

from experiments.releases import run_release
from tradeops.models import ApiToken, ConfigRelease, ReleaseChange
from tradeops.services import create_bot

PARAMS = {"fib_proximity_bps": 18, "side_balance_pressure": "0.3", "risk_per_trade_pct": "0.5"}


def bare_config(request):
    """The least a config pull can do: one query from the token to the release."""
    token = request.headers["Authorization"][len("Bearer ") :]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.current_release_id, b.current_change_id, r.tag, r.version, r.params "
            "FROM tradeops_apitoken t JOIN tradeops_bot b ON b.id = t.bot_id "
            "JOIN tradeops_configrelease r ON r.id = b.current_release_id "
            "WHERE t.token_hash = %s AND t.revoked_at IS NULL",
            [ApiToken.hash_token(token)],
        )
        release_id, change_id, tag, version, params = cursor.fetchone()
    etag = f'"{release_id}.{change_id}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        response = JsonResponse({"tag": tag, "version": version, "params": params})
    response["ETag"] = etag
    return response


# This module is the URLconf of the run: the app's API beside its bare twin.
urlpatterns = [path("api/v1/", include("experiments.urls")), path("bare/config", bare_config)]


def fleet(size):
    tokens, now = [], timezone.now()
    for n in range(size):
        bot, token = create_bot(slug=f"bot-{n}")
        release = ConfigRelease.objects.create(
            bot=bot, version=1, tag="v1.4.0", params=PARAMS, is_baseline=True, approved_at=now
        )
        run_release(
            release,
            bot=bot,
            reason=ReleaseChange.Reason.BASELINE,
            reference="benchmark",
            by="bench",
        )
        tokens.append(token)
    return tokens


def pull_all(client, url, tokens, etags=None):
    """One pull per bot; returns the ETags served (or, with `etags`, checks every answer is 304)."""
    served = []
    for n, token in enumerate(tokens):
        headers = {"Authorization": f"Bearer {token}"}
        if etags:
            headers["If-None-Match"] = etags[n]
        response = client.get(url, headers=headers, secure=True)
        assert response.status_code == (304 if etags else 200), response.status_code
        served.append(response["ETag"])
    return served


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=100)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with throwaway_database(), override_settings(ROOT_URLCONF=__name__):
        tokens = fleet(args.bots)
        client = Client(REMOTE_ADDR="10.0.0.1")
        etags = pull_all(client, "/api/v1/config", tokens)  # warm, and the ETags to send
        bare_etags = pull_all(client, "/bare/config", tokens)
        timings = {"200": [], "bare 200": [], "304": [], "bare 304": []}
        for _ in range(args.runs):
            timings["200"].append(timed(pull_all, client, "/api/v1/config", tokens)[0])
            timings["bare 200"].append(timed(pull_all, client, "/bare/config", tokens)[0])
            timings["304"].append(timed(pull_all, client, "/api/v1/config", tokens, etags)[0])
            timings["bare 304"].append(
                timed(pull_all, client, "/bare/config", tokens, bare_etags)[0]
            )
        with CaptureQueriesContext(connection) as queries:
            pull_all(client, "/api/v1/config", tokens[:1], etags[:1])
    print(f"{args.bots} bots, {args.runs} interleaved runs, each pulling every bot once")
    report("config pull 200", timings["200"], timings["bare 200"])
    report("config pull 304", timings["304"], timings["bare 304"])
    for name in ("200", "304"):
        median = statistics.median(timings[name])
        print(
            f"{name}: {args.bots / median:,.0f} requests/s (median run), "
            f"{median / args.bots * 1000:.2f} ms per request"
        )
    print(f"304 path: {len(queries)} queries per request")
    print(f"need: {args.bots / 10:.0f} requests/s for {args.bots} bots polling every 10 s")


if __name__ == "__main__":
    main()
