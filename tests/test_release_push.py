"""Release push (issue 12, part 3): every change of a bot's current release is POSTed, signed, to
its webhook once the change commits, retried with back-off, sent once whatever the number of
workers, and every attempt recorded. The bot verifies it with the docs' own recipe."""

import datetime
import json
import os
import subprocess
import sys
import threading
import time

import django_rq
import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rq import Worker
from werkzeug import Response
from werkzeug.datastructures import Headers

from experiments.releases import run_release
from experiments.releases.push import deliver_due_pushes, send_test_push, set_up_release_push
from experiments.services import make_baseline
from integrity.delivery import FIRST_RETRY
from integrity.models import ReleasePush, ReleaseWebhook
from tests.factories import candidate, change_form_data
from tests.queues import run_workers_burst
from tradeops.audit import history
from tradeops.encryption import decrypt
from tradeops.models import JobRun, ReleaseChange
from tradeops.roles import OPERATOR, VIEWER

Reason = ReleaseChange.Reason
BOT_CHANGE = "admin:tradeops_bot_change"
BOT_LIST = "admin:tradeops_bot_changelist"


def readme_verify_push():
    """`verify_push` exactly as docs/bot-api.md's Push section gives it to bot authors."""
    bot_api = (settings.BASE_DIR / "docs" / "bot-api.md").read_text()
    section = bot_api.split("\n### Push\n", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(code, namespace)
    return namespace["verify_push"]


@pytest.fixture
def webhook(bot, httpserver, people):
    hook, secret = set_up_release_push(bot, url=httpserver.url_for("/push"), by=people["lead"])
    hook.raw_secret = secret
    return hook


def received(httpserver):
    return [request for request, _ in httpserver.log]


@pytest.mark.django_db(transaction=True)
def test_a_change_is_pushed_after_commit_by_a_real_worker_and_verifies(
    bot_and_token, baseline, people, webhook, httpserver, redis_queue, client
):
    httpserver.expect_request("/push", method="POST").respond_with_data("ok")

    make_baseline(baseline, by=people["lead"], note="Phase 1 winner")
    change = ReleaseChange.objects.get()
    assert received(httpserver) == []  # queued with the change, sent by a worker
    run_workers_burst()

    [request] = received(httpserver)
    verify = readme_verify_push()
    push = verify(webhook.raw_secret, request.data, request.headers)
    assert (push["event"], push["change_id"]) == ("release_change", change.pk)
    pulled = client.get("/api/v1/config", headers={"Authorization": f"Bearer {bot_and_token[1]}"})
    assert push["config"] == pulled.json()  # what the bot would have pulled, to the byte's meaning
    assert push["config"]["release"]["tag"] == "v1.4.0"

    stored = ReleasePush.objects.get()
    assert (stored.status, stored.attempts, stored.response_code) == ("sent", 1, 200)
    [attempt] = stored.attempt_log
    assert attempt["response_code"] == 200 and attempt["error"] == ""
    assert attempt["duration_ms"] >= 0
    assert JobRun.objects.get(name="integrity.push_release_changes").outcome == "succeeded"

    # Tampered, replayed late or re-dated, the same push no longer verifies.
    with pytest.raises(ValueError, match="signature"):
        verify(webhook.raw_secret, request.data.replace(b"v1.4.0", b"v9.9.9"), request.headers)
    with pytest.raises(ValueError, match="signature"):
        verify("whsec_another", request.data, request.headers)
    with pytest.raises(ValueError, match="too old"):
        verify(webhook.raw_secret, request.data, request.headers, now=time.time() + 301)
    redated = Headers(request.headers)
    redated["X-TradeOps-Timestamp"] = str(push["timestamp"] + 60)
    with pytest.raises(ValueError, match="timestamp header"):
        verify(webhook.raw_secret, request.data, redated)


@pytest.mark.django_db(transaction=True)
def test_a_bot_without_an_active_webhook_is_pushed_nothing(bot, baseline, people, redis_queue):
    make_baseline(baseline, by=people["lead"], note="no webhook")
    assert redis_queue.count == 0 and not ReleasePush.objects.exists()

    hook, _ = set_up_release_push(bot, url="https://bot.example.com/push", by=people["lead"])
    ReleaseWebhook.objects.filter(pk=hook.pk).update(is_active=False)
    run_release(baseline, bot=bot, reason=Reason.BASELINE, reference="again", by="tester")
    assert redis_queue.count == 0 and not ReleasePush.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_500_then_a_200_is_retried_with_back_off_and_both_attempts_are_recorded(
    baseline, people, webhook, httpserver, redis_queue
):
    httpserver.expect_oneshot_request("/push").respond_with_data("down for deploy", status=500)
    httpserver.expect_request("/push").respond_with_data("ok")

    make_baseline(baseline, by=people["lead"], note="Phase 1 winner")
    run_workers_burst()

    push = ReleasePush.objects.get()
    assert (push.status, push.attempts, push.response_code) == ("pending", 1, 500)
    assert push.error == "HTTP 500 Internal Server Error"
    first_at = datetime.datetime.fromisoformat(push.attempt_log[0]["at"])
    wait = push.next_attempt_at - first_at
    assert FIRST_RETRY - datetime.timedelta(seconds=5) < wait <= FIRST_RETRY

    assert deliver_due_pushes(push.next_attempt_at - datetime.timedelta(seconds=1)) == []
    [retried] = deliver_due_pushes(push.next_attempt_at)

    assert (retried.status, retried.attempts, retried.response_code) == ("sent", 2, 200)
    assert [(a["response_code"], a["error"]) for a in retried.attempt_log] == [
        (500, "HTTP 500 Internal Server Error"),
        (200, ""),
    ]
    first, second = (request.headers["X-TradeOps-Push"] for request in received(httpserver))
    assert first == second == str(push.pk)  # the bot can tell a retry from a new push


def test_a_timeout_is_recorded_and_retried(bot, baseline, people, webhook, httpserver, monkeypatch):
    monkeypatch.setattr("experiments.releases.push.SEND_TIMEOUT_SECONDS", 1)
    # The receiver answers only once the test lets it: by events, not by a sleep and a
    # stopwatch, so a slow machine cannot fail it.
    let_answer, answered = threading.Event(), threading.Event()

    def slow(request):
        let_answer.wait(60)
        answered.set()
        return Response("late")

    httpserver.expect_request("/push").respond_with_handler(slow)
    make_baseline(baseline, by=people["lead"], note="Phase 1 winner")

    try:
        [push] = deliver_due_pushes()
        # Given up on at its timeout while the receiver still held the request.
        assert not answered.is_set()
    finally:
        let_answer.set()

    assert (push.status, push.attempts, push.response_code) == ("pending", 1, None)
    assert "timed out" in push.error
    [attempt] = push.attempt_log
    # The attempt lasted its timeout (1 s): never less, whatever the machine.
    assert "timed out" in attempt["error"] and attempt["duration_ms"] >= 900


def test_a_newer_change_supersedes_a_push_not_yet_through(
    bot, baseline, people, webhook, httpserver
):
    httpserver.expect_oneshot_request("/push").respond_with_data("down", status=503)
    httpserver.expect_request("/push").respond_with_data("ok")
    make_baseline(baseline, by=people["lead"], note="Phase 1 winner")
    deliver_due_pushes()
    newer = candidate(baseline, people, side_balance_pressure="0.3")
    second = run_release(
        newer, bot=newer.bot, reason=Reason.BASELINE, reference="hand", by="tester"
    )

    [sent] = deliver_due_pushes(timezone.now() + datetime.timedelta(hours=2))

    assert sent.change == second and sent.status == "sent"
    assert ReleasePush.objects.get(change__release=baseline).status == "superseded"
    body = json.loads(received(httpserver)[-1].data)
    assert (body["change_id"], body["config"]["release"]["tag"]) == (second.pk, "v1.5.0")


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_a_change_once(
    baseline, people, webhook, httpserver, redis_queue, tmp_path
):
    let_answer = threading.Event()

    def slow_ok(request):
        let_answer.wait(120)  # holds the sending worker's attempt until the other has looked
        return Response("ok")

    httpserver.expect_request("/push").respond_with_handler(slow_ok)
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "minute"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=(tmp_path / f"worker{n}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for n in range(2)
    ]
    minute = django_rq.get_queue("minute")  # the pushes' queue
    try:
        # Both workers wait on the queue before there is anything to take: one job each.
        wait_for(lambda: len(Worker.all(queue=minute)) == 2)
        make_baseline(baseline, by=people["lead"], note="Phase 1 winner")  # enqueues a push job
        minute.enqueue("experiments.jobs.push_release_changes")  # a second, as the cron would
        runs = JobRun.objects.filter(name="integrity.push_release_changes", outcome="succeeded")
        # One run ends while the receiver holds the other's attempt (the overlap is an event,
        # not a sleep's length), then the held one is let through.
        wait_for(lambda: runs.count() == 1)
        let_answer.set()
        wait_for(lambda: runs.count() == 2)
    finally:
        let_answer.set()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)

    early, late = sorted(runs, key=lambda run: run.started_at)
    assert late.started_at < early.finished_at  # the two really overlapped
    assert sorted(run.detail["attempted"] for run in runs) == [0, 1]
    assert len(received(httpserver)) == 1
    assert ReleasePush.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_two_threads_claiming_one_push_send_it_once(baseline, people, webhook, httpserver):
    httpserver.expect_request("/push").respond_with_data("ok")
    make_baseline(baseline, by=people["lead"], note="Phase 1 winner")
    ReleasePush.objects.update(next_attempt_at=timezone.now())
    barrier, results = threading.Barrier(2), []

    def dispatcher():
        barrier.wait()
        results.extend(deliver_due_pushes())
        connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(received(httpserver)) == 1
    assert ReleasePush.objects.get().attempts == 1


# -- the admin: a Team lead sets it up, the secret is shown once -----------------------------


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def bot_page_post(client, bot, url, is_active=True):
    """The bot's change form as the page renders it, with the release push filled in."""
    page = reverse(BOT_CHANGE, args=[bot.pk])
    data = change_form_data(client, page)
    data["release_webhook-0-url"] = url
    data["release_webhook-0-is_active"] = "on" if is_active else ""
    return client.post(page, data)


def test_a_team_lead_sets_it_up_and_sees_the_secret_once_encrypted_at_rest(
    bot, baseline, people, httpserver
):
    httpserver.expect_request("/push").respond_with_data("ok")
    lead = logged_in(people["lead"])
    url = httpserver.url_for("/push?key=receiver-token")

    response = bot_page_post(lead, bot, url)

    assert response.status_code == 200, response.content[:2000]
    [(_, secret)] = response.context["issued"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    assert response.headers["Cache-Control"].startswith("max-age=0")
    hook = ReleaseWebhook.objects.get(bot=bot)
    assert (hook.url, hook.secret, hook.created_by) == (url, secret, people["lead"])

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, url FROM integrity_releasewebhook")
        [(stored_secret, stored_url)] = cursor.fetchall()
    assert secret not in stored_secret and "receiver-token" not in stored_url
    assert decrypt(stored_secret) == secret

    pages = [reverse(BOT_CHANGE, args=[bot.pk]), reverse(BOT_LIST)]
    push = send_test_push(hook, user=people["lead"])
    pages += [reverse("admin:integrity_releasepush_change", args=[push.pk])]
    pages += [reverse("admin:integrity_releasepush_changelist")]
    for page in pages:
        content = lead.get(page).content.decode()
        assert secret not in content and secret[6:20] not in content

    [request] = received(httpserver)
    assert readme_verify_push()(secret, request.data, request.headers)["event"] == "test"

    # Saving the page again keeps the secret; a change of URL is audited, not re-issued.
    response = bot_page_post(lead, bot, httpserver.url_for("/other"))
    assert response.status_code == 302
    assert ReleaseWebhook.objects.get(bot=bot).secret == secret
    audit = history(hook).values_list("action", "actor", "data")
    assert list(audit) == [
        ("set up", people["lead"].pk, {}),
        ("changed", people["lead"].pk, {"url_changed": True}),
    ]


def test_a_bot_added_with_its_webhook_shows_the_secret_once(db, people):
    lead = logged_in(people["lead"])
    page = reverse("admin:tradeops_bot_add")
    data = {**change_form_data(lead, page), "slug": "beta", "name": "Beta perps"}
    data["release_webhook-0-url"] = "https://beta.example.com/push"

    response = lead.post(page, data)

    [(bot, secret)] = response.context["issued"]
    assert bot.slug == "beta" and secret in response.content.decode()
    assert ReleaseWebhook.objects.get(bot=bot).secret == secret


def test_a_new_secret_replaces_the_old_and_is_shown_once(bot, people, webhook):
    lead = logged_in(people["lead"])
    response = lead.post(
        reverse(BOT_LIST), {"action": "issue_push_secret", "_selected_action": [bot.pk]}
    )

    [(_, secret)] = response.context["issued"]
    assert secret != webhook.raw_secret
    assert ReleaseWebhook.objects.get(pk=webhook.pk).secret == secret


@pytest.mark.parametrize("role", [OPERATOR, VIEWER])
def test_an_operator_or_viewer_cannot_configure_it(bot, people, role, webhook):
    user = User.objects.create_user(f"someone-{role}", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = logged_in(user)
    page = client.get(reverse(BOT_CHANGE, args=[bot.pk])).content.decode()
    assert "http://localhost/…" in page and webhook.url not in page  # the host only

    other_url = "https://attacker.example.com/push"
    data = {
        "slug": bot.slug,
        "name": bot.name,
        "release_webhook-TOTAL_FORMS": "1",
        "release_webhook-INITIAL_FORMS": "1",
        "release_webhook-MIN_NUM_FORMS": "0",
        "release_webhook-MAX_NUM_FORMS": "1",
        "release_webhook-0-id": webhook.pk,
        "release_webhook-0-bot": bot.pk,
        "release_webhook-0-url": other_url,
    }
    assert client.post(reverse(BOT_CHANGE, args=[bot.pk]), data).status_code == 403
    client.post(reverse(BOT_LIST), {"action": "issue_push_secret", "_selected_action": [bot.pk]})
    client.post(reverse("admin:tradeops_bot_add"), {"slug": "new", "name": "New", **data})

    stored = ReleaseWebhook.objects.get()
    assert (stored.url, stored.secret, stored.is_active) == (
        webhook.url,
        webhook.raw_secret,
        True,
    )


def test_send_test_push_is_recorded_like_a_test_alert(bot, baseline, people, webhook, httpserver):
    httpserver.expect_request("/push").respond_with_data("ok")
    make_baseline(baseline, by=people["lead"], note="Phase 1 winner")
    operator = logged_in(people["operator"])

    response = operator.post(
        reverse(BOT_LIST), {"action": "send_test_push", "_selected_action": [bot.pk]}
    )

    assert [str(m) for m in get_messages(response.wsgi_request)] == ["alpha: test push delivered."]
    push = ReleasePush.objects.get(event="test")
    assert (push.status, push.requested_by, push.change) == (
        "sent",
        people["operator"],
        bot.release_changes.get(),
    )
    listing = operator.get(reverse("admin:integrity_releasepush_changelist"))
    assert listing.status_code == 200 and push in listing.context["cl"].result_list
    detail = operator.get(reverse("admin:integrity_releasepush_change", args=[push.pk]))
    assert "200" in detail.content.decode() and " ms" in detail.content.decode()
    bot_page = operator.get(reverse("admin:tradeops_bot_change", args=[bot.pk])).content.decode()
    assert f"{push.created_at:%Y-%m-%d %H:%M} {push.change.release.tag}</a>" in bot_page


@pytest.mark.parametrize("role", [OPERATOR, VIEWER])
def test_a_bot_without_a_webhook_shows_none_to_who_cannot_set_one_up(bot, people, role):
    user = User.objects.create_user(f"someone-{role}", is_staff=True)
    user.groups.add(Group.objects.get(name=role))

    page = logged_in(user).get(reverse(BOT_CHANGE, args=[bot.pk]))

    # No empty "release push" block either (issue 23's browser pass: at 420 px the Close button
    # sat on it).
    inlines = page.context["inline_admin_formsets"]
    assert [f for f in inlines if f.opts.model is ReleaseWebhook] == []
    lead_page = logged_in(people["lead"]).get(reverse(BOT_CHANGE, args=[bot.pk]))
    assert "release_webhook-0-url" in lead_page.content.decode()  # the lead can set one up
