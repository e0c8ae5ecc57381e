"""GET /api/v1/config: the config the bot must run now, why and since when, with an ETag; the
same token check and bad-token throttle as ingestion; a change shows on the very next request."""

import datetime

import pytest
import requests

from experiments.services import decide, make_baseline, send_to_review
from experiments.triggers import evaluate_rollback_triggers
from ingestion.services import TOKEN_FAILURES_ALLOWED
from tests.factories import draft, run_through
from tradeops.models import Bot, HealthEvent, ReleaseChange

URL = "/api/v1/config"
LIVE = datetime.datetime(2026, 11, 20, 9, 30, tzinfo=datetime.UTC)


def pull(client, token, etag=None, **extra):
    headers = {"Authorization": f"Bearer {token}"}
    if etag:
        headers["If-None-Match"] = etag
    return client.get(URL, headers=headers, **extra)


@pytest.fixture
def live(baseline, people):
    return make_baseline(baseline, by=people["lead"], note="Phase 1 winner", now=LIVE)


def test_the_bot_gets_its_release_why_and_since_when(client, bot_and_token, live):
    response = pull(client, bot_and_token[1])

    assert response.status_code == 200
    assert response.json() == {
        "bot": "alpha",
        "release": {
            "tag": "v1.4.0",
            "version": 1,
            "git_commit": "",
            "params": live.params,
        },
        "reason": "baseline",
        "why": "Baseline: Phase 1 winner",
        "since": "2026-11-20T09:30:00+00:00",
        "changed_by": "lena",
        "trading": "trade",
        "trading_version": 0,
        "trading_since": None,
        "trading_why": None,
    }
    assert response["ETag"] == Bot.objects.get().config_etag
    assert response["Cache-Control"] == "private, no-cache"


def test_an_unchanged_config_answers_304_with_a_cheap_request(
    client, bot_and_token, live, django_assert_max_num_queries
):
    etag = pull(client, bot_and_token[1])["ETag"]

    # The throttle check and the token (with its bot); last use is already written this minute.
    with django_assert_max_num_queries(2):
        unchanged = pull(client, bot_and_token[1], etag)
    other = pull(client, bot_and_token[1], '"1.999"')

    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged["ETag"] == etag
    assert other.status_code == 200


def test_a_stopped_experiment_serves_the_baseline_on_the_very_next_request(
    client, bot_and_token, live, people
):
    token = bot_and_token[1]
    experiment = run_through(draft(live, people), people)
    running = pull(client, token)
    assert running.json()["release"]["tag"] == experiment.candidate_release.tag
    assert running.json()["reason"] == "experiment"
    assert pull(client, token, running["ETag"]).status_code == 304
    HealthEvent.objects.create(
        bot=live.bot, ts=experiment.started_at, kind="state_change", state="HALT"
    )
    stopped_at = experiment.started_at + datetime.timedelta(minutes=1)

    evaluate_rollback_triggers(experiment, now=stopped_at)
    after = pull(client, token, running["ETag"])

    assert after.status_code == 200
    assert after["ETag"] != running["ETag"]
    assert after.json()["release"]["tag"] == "v1.4.0"
    assert after.json()["reason"] == "trigger"
    assert after.json()["why"] == (
        f"Restored by a rollback trigger: trigger halt stopped {experiment.name} (#{experiment.pk})"
    )
    assert after.json()["since"] == stopped_at.isoformat()
    assert after.json()["changed_by"] == "rollback trigger"


def test_every_change_of_the_current_release_is_recorded_with_its_why(live, people):
    experiment = run_through(draft(live, people), people)
    send_to_review(experiment, by=people["operator"], note="a week in")

    decide(experiment, decision="rollback", by=people["operator"], rationale="no better")

    changes = ReleaseChange.objects.filter(bot=live.bot).order_by("id")
    assert [(c.reason, c.release.tag) for c in changes] == [
        ("baseline", "v1.4.0"),
        ("experiment", experiment.candidate_release.tag),
        ("decision", "v1.4.0"),
    ]
    assert Bot.objects.get().current_change == changes.last()


def test_a_bot_with_no_current_release_gets_404(client, bot_and_token):
    assert pull(client, bot_and_token[1]).status_code == 404


def test_a_release_made_current_without_a_recorded_change_has_no_why(
    client, bot_and_token, baseline
):
    Bot.objects.update(current_release=baseline)

    body = pull(client, bot_and_token[1]).json()

    assert body["release"]["tag"] == "v1.4.0"
    assert (body["reason"], body["why"], body["since"]) == (None, "not recorded", None)


def test_the_token_is_checked_and_guessing_is_throttled_as_for_ingestion(
    client, bot_and_token, live
):
    statuses = [pull(client, f"guess-{n}").status_code for n in range(TOKEN_FAILURES_ALLOWED)]

    assert statuses == [401] * TOKEN_FAILURES_ALLOWED
    # A valid token is never refused because others at its address guessed.
    assert pull(client, bot_and_token[1]).status_code == 200
    assert pull(client, bot_and_token[1], REMOTE_ADDR="10.0.0.9").status_code == 200
    assert client.get(URL).status_code == 429


def test_only_get(client, bot_and_token, live):
    headers = {"Authorization": f"Bearer {bot_and_token[1]}"}
    assert client.post(URL, headers=headers).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_through_gunicorn_200_then_304(gunicorn_url, bot_and_token, baseline, people):
    make_baseline(baseline, by=people["lead"], note="go live")
    headers = {"Authorization": f"Bearer {bot_and_token[1]}"}

    first = requests.get(f"{gunicorn_url}{URL}", headers=headers, timeout=30)
    again = requests.get(
        f"{gunicorn_url}{URL}",
        headers={**headers, "If-None-Match": first.headers["ETag"]},
        timeout=30,
    )

    assert first.status_code == 200 and first.json()["release"]["tag"] == "v1.4.0"
    assert again.status_code == 304


def test_the_changes_are_listed_in_the_admin(client, live, people):
    client.force_login(people["operator"])

    page = client.get("/admin/tradeops/releasechange/")
    bot_page = client.get(f"/admin/tradeops/bot/{live.bot.pk}/change/")

    assert page.status_code == 200 and b"Phase 1 winner" in page.content
    assert b"Baseline: Phase 1 winner" in bot_page.content
