"""A bot's trading mode (issue 24): in the config it pulls and the push, reported in its
heartbeat, watched ("bot ignores stop"); who may stop and who may resume, by the page's forms and
by hand-made POSTs; the fleet-wide stop; shadows mirroring their live bot."""

import datetime
import json
import re
import subprocess
import sys
import time

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from experiments.releases.push import push_body, set_up_release_push
from experiments.services import make_baseline
from integrity.loop import watch_bot_loop
from integrity.models import IntegrityIncident, ReleasePush
from tests.factories import ingest, log_in_as
from tradeops.models import AuditEvent, Bot, BotPulse, ConfigRelease
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER
from tradeops.services import create_bot, set_trading_mode, stop_fleet_entries

MINUTE = datetime.timedelta(minutes=1)
SIMULATED_BOT = "scripts/simulated_bot.py"
IGNORES = IntegrityIncident.Kind.BOT_IGNORES_STOP


@pytest.fixture
def live(baseline, people):
    return make_baseline(
        baseline, by=people["lead"], note="go live", now=timezone.now() - 60 * MINUTE
    )


@pytest.fixture
def viewer(db):
    return log_in_as(Client(), "vera", VIEWER)


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def trading_url(bot):
    return reverse("admin:tradeops_bot_trading", args=[bot.pk])


def audit_rows(bot):
    return list(
        AuditEvent.objects.filter(
            subject_type="tradeops.bot", subject_id=bot.pk, action="trading mode"
        )
        .order_by("seq")
        .values_list("actor_name", "from_state", "to_state", "note")
    )


def pull(client, token, etag=None):
    headers = {"Authorization": f"Bearer {token}"}
    if etag:
        headers["If-None-Match"] = etag
    return client.get("/api/v1/config", headers=headers)


# -- what the bot pulls and is pushed ----------------------------------------------------------


def test_the_config_carries_the_mode_and_a_change_of_mode_changes_the_etag(
    client, bot_and_token, live, people
):
    token = bot_and_token[1]
    before = pull(client, token)
    bot = set_trading_mode(live.bot, "stop_entries", by=people["operator"], note="exchange lagging")
    after = pull(client, token, etag=before["ETag"])
    resumed = set_trading_mode(bot, "trade", by=people["lead"], note="exchange fine again")
    back = pull(client, token, etag=after["ETag"])

    assert before.json()["trading"] == "trade"
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    assert after.json()["trading"] == "stop_entries"
    assert after.json()["trading_version"] == 1
    assert after.json()["trading_why"] == "Stop entries by otto: exchange lagging"
    # trade -> stop -> trade is a new config each time: the ETag never comes back.
    assert back.status_code == 200 and back["ETag"] not in (before["ETag"], after["ETag"])
    assert back.json()["trading"] == "trade" and resumed.trading_version == 2
    assert pull(client, token, etag=back["ETag"]).status_code == 304


def test_a_change_of_mode_is_pushed_with_the_mode(live, people, settings):
    settings.REDIS_URL = ""
    webhook, _ = set_up_release_push(live.bot, url="https://bot.example.com/push", by="test")
    with transaction.atomic():
        set_trading_mode(live.bot, "stop_entries", by=people["operator"], note="outage")

    push = ReleasePush.objects.get(event=ReleasePush.Event.TRADING_CHANGE)
    body = json.loads(push_body(push, 1_700_000_000))
    assert push.webhook == webhook and push.change_id == Bot.objects.get().current_change_id
    assert body["event"] == "trading_change"
    assert body["config"]["trading"] == "stop_entries"
    assert body["config"]["trading_version"] == 1
    assert body["config"]["release"]["tag"] == "v1.4.0"


def test_the_database_refuses_an_unknown_mode(bot):
    with pytest.raises(IntegrityError), transaction.atomic():
        Bot.objects.filter(pk=bot.pk).update(trading_mode="pause")
    with pytest.raises(IntegrityError), transaction.atomic():
        Bot.objects.filter(pk=bot.pk).update(breaker_pct=1)


# -- the heartbeat reports it and the watch ------------------------------------------------------


def beat(bot, at, trading=None, release="v1.4.0"):
    record = {"ts": at.isoformat(), "kind": "heartbeat", "running_release": release}
    if trading is not None:
        record["trading"] = trading
    return ingest(bot, "health", record)


def test_the_heartbeat_reports_the_mode_only_a_heartbeat_does(bot):
    now = timezone.now() - MINUTE
    ok = beat(bot, now, "stop_entries")
    wrong = ingest(bot, "health", {"ts": now.isoformat(), "kind": "degraded", "trading": "trade"})
    unknown = beat(bot, now + MINUTE / 2, "paused")

    assert ok.accepted == 1 and BotPulse.objects.get(bot=bot).trading == "stop_entries"
    assert wrong.quarantined == 1 and "only a heartbeat" in wrong.errors[0]["errors"]["trading"]
    assert unknown.quarantined == 1 and "must be one of" in unknown.errors[0]["errors"]["trading"]


def test_a_bot_still_trading_past_its_grace_is_a_critical_incident_until_it_reports_the_stop(
    live, people
):
    bot = live.bot
    beat(bot, timezone.now() - 2 * MINUTE, "trade")
    bot = set_trading_mode(bot, "stop_entries", by=people["operator"], note="outage")
    stopped_at = bot.trading_changed_at
    grace = bot.stop_grace_minutes * MINUTE

    watch_bot_loop(stopped_at + grace)  # at the end of the grace: not yet
    assert not IntegrityIncident.objects.filter(kind=IGNORES).exists()
    watch_bot_loop(stopped_at + grace + MINUTE)
    incident = IntegrityIncident.objects.get(kind=IGNORES)
    assert incident.severity == "critical" and incident.status == "open"
    assert "reports trade" in incident.title and "stop_entries" in incident.title

    beat(bot, timezone.now(), "stop_entries")
    watch_bot_loop(stopped_at + grace + 2 * MINUTE)
    incident.refresh_from_db()
    assert incident.status == "resolved"


def test_a_bot_that_does_not_say_its_mode_has_not_stopped(live, people):
    bot = live.bot
    beat(bot, timezone.now())  # an older bot: no "trading" in its heartbeat
    bot = set_trading_mode(bot, "exit_all", by=people["lead"], note="exchange insolvent")
    beat(bot, timezone.now() + datetime.timedelta(seconds=1), "stop_entries")  # not far enough

    watch_bot_loop(bot.trading_changed_at + (bot.stop_grace_minutes + 1) * MINUTE)

    assert "reports stop_entries" in IntegrityIncident.objects.get(kind=IGNORES).title


def test_a_resume_resolves_the_incident(live, people):
    bot = set_trading_mode(live.bot, "stop_entries", by=people["operator"], note="outage")
    later = bot.trading_changed_at + (bot.stop_grace_minutes + 1) * MINUTE
    watch_bot_loop(later)
    assert "has sent no heartbeat" in IntegrityIncident.objects.get(kind=IGNORES).title

    set_trading_mode(bot, "trade", by=people["lead"], note="back")
    watch_bot_loop(later + MINUTE)

    assert IntegrityIncident.objects.get(kind=IGNORES).status == "resolved"


# -- who may: the service, the forms and hand-made POSTs ----------------------------------------

ACTIONS = {
    # action: (from mode, POST data)
    "stop": ("trade", {"mode": "stop_entries"}),
    "exit all": ("trade", {"mode": "exit_all"}),
    "resume": ("stop_entries", {"mode": "trade"}),
}
ALLOWED = {
    VIEWER: set(),
    OPERATOR: {"stop"},
    TEAM_LEAD: {"stop", "exit all", "resume", "fleet stop", "breaker"},
}


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, TEAM_LEAD])
@pytest.mark.parametrize("action", ["stop", "exit all", "resume"])
def test_the_role_matrix_by_hand_made_posts(live, people, role, action):
    bot = live.bot
    start, data = ACTIONS[action]
    if start != "trade":
        bot = set_trading_mode(bot, start, by=people["lead"], note="set up")
    user = log_in_as(Client(), f"u-{role[:4].lower()}", role)
    client = signed_in(user)

    response = client.post(trading_url(bot), {**data, "note": "by hand"})

    bot.refresh_from_db()
    if action in ALLOWED[role]:
        assert response.status_code == 302
        assert bot.trading_mode == data["mode"]
        assert audit_rows(bot)[-1] == (user.username, start, data["mode"], "by hand")
    else:
        assert response.status_code == 403
        assert bot.trading_mode == start


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, TEAM_LEAD])
def test_the_fleet_stop_and_the_breaker_threshold_by_hand_made_posts(live, people, role):
    other, _ = create_bot(slug="beta")
    user = log_in_as(Client(), f"u-{role[:4].lower()}", role)
    client = signed_in(user)

    fleet = client.post(reverse("admin:tradeops_bot_stop_fleet"), {"note": "exchange outage"})
    breaker = client.post(
        reverse("admin:tradeops_bot_breaker", args=[other.pk]), {"breaker_pct": "-2.5"}
    )

    modes = set(Bot.objects.values_list("trading_mode", flat=True))
    other.refresh_from_db()
    if role == TEAM_LEAD:
        assert (fleet.status_code, breaker.status_code) == (302, 302)
        assert modes == {"stop_entries"} and str(other.breaker_pct) == "-2.50"
    else:
        assert (fleet.status_code, breaker.status_code) == (403, 403)
        assert modes == {"trade"} and str(other.breaker_pct) == "-3.00"


def test_a_get_changes_nothing_and_a_note_is_required(live, people):
    client = signed_in(people["lead"])

    assert client.get(trading_url(live.bot)).status_code == 405
    client.post(trading_url(live.bot), {"mode": "stop_entries", "note": "  "})

    assert Bot.objects.get().trading_mode == "trade" and audit_rows(live.bot) == []


def test_a_resume_is_never_automatic_and_a_shadow_follows_its_live_bot(live, people):
    bot = set_trading_mode(live.bot, "stop_entries", by="circuit breaker", note="-3.2% today")

    with pytest.raises(ValidationError, match="never automatic"):
        set_trading_mode(bot, "trade", by="circuit breaker", note="recovered")
    with pytest.raises(PermissionDenied):
        set_trading_mode(bot, "trade", by=people["operator"], note="I think it's fine")
    shadow, _ = create_bot(slug="alpha-shadow", shadow_of=bot)
    with pytest.raises(ValidationError, match="follows the trading mode"):
        set_trading_mode(shadow, "trade", by=people["lead"], note="only the shadow")

    # A shadow created while its live bot is stopped starts stopped, and follows the resume.
    assert shadow.trading_mode == "stop_entries"
    set_trading_mode(bot, "trade", by=people["lead"], note="exchange fine")
    shadow.refresh_from_db()
    assert shadow.trading_mode == "trade"
    assert audit_rows(shadow)[-1][:3] == ("lena", "stop_entries", "trade")


def test_the_fleet_stop_writes_one_audit_row_a_bot_and_mirrors_shadows(live, people):
    beta, _ = create_bot(slug="beta")
    gamma, _ = create_bot(slug="gamma")
    set_trading_mode(gamma, "exit_all", by=people["lead"], note="already closing")
    shadow, _ = create_bot(slug="alpha-shadow", shadow_of=live.bot)

    stopped = stop_fleet_entries(by=people["lead"], note="exchange outage")

    assert [bot.slug for bot in stopped] == ["alpha", "beta"]  # gamma stays in exit_all
    assert audit_rows(live.bot) == [("lena", "trade", "stop_entries", "exchange outage")]
    assert audit_rows(beta) == [("lena", "trade", "stop_entries", "exchange outage")]
    assert Bot.objects.get(slug="gamma").trading_mode == "exit_all"
    shadow.refresh_from_db()
    assert shadow.trading_mode == "stop_entries" and len(audit_rows(shadow)) == 1


# -- the card and the bot's page -----------------------------------------------------------------


def card(page, slug):
    start = page.index(f'id="bot-{slug}"')
    return page[start : page.index("</section>", start)]


def test_the_card_shows_the_stop_until_the_bot_trades_again_and_each_role_its_buttons(
    live, people, viewer
):
    set_trading_mode(live.bot, "stop_entries", by=people["operator"], note="spreads blew out")
    pages = {
        name: card(signed_in(user).get(reverse("admin:index")).content.decode(), "alpha")
        for name, user in [("viewer", viewer), ("operator", people["operator"]),
                           ("lead", people["lead"])]
    }  # fmt: skip

    for shown in pages.values():
        assert "Stop entries" in shown and "by otto: spreads blew out" in shown
    assert "<form" not in pages["viewer"]
    assert "<form" not in pages["operator"]  # stopped already: only a Team lead goes further
    assert 'value="trade"' in pages["lead"] and 'value="exit_all"' in pages["lead"]

    set_trading_mode(live.bot, "trade", by=people["lead"], note="spreads normal")
    again = card(
        signed_in(people["operator"]).get(reverse("admin:index")).content.decode(), "alpha"
    )
    assert "spreads" not in again and 'value="stop_entries"' in again


def test_the_bot_page_stops_in_one_click(live, people):
    client = signed_in(people["operator"])
    page = client.get(reverse("admin:tradeops_bot_change", args=[live.bot.pk])).content.decode()
    assert f'action="{trading_url(live.bot)}"' in page and 'value="stop_entries"' in page

    response = client.post(
        trading_url(live.bot),
        {"mode": "stop_entries", "note": "from the page", "next": "/admin/"},
    )

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert Bot.objects.get().trading_mode == "stop_entries"


# -- end to end: the simulated bot through gunicorn ---------------------------------------------


def form_on_the_card(client, slug):
    """The trading form of the bot's card, as the command center renders it: (action, fields)."""
    shown = card(client.get(reverse("admin:index")).content.decode(), slug)
    action = re.search(r'<form method="post" action="([^"]+)"', shown).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', shown))
    return action, fields


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def reported(bot):
    return BotPulse.objects.filter(bot=bot).values_list("trading", flat=True).first()


def simulated_bot(url, token, *extra):
    command = [sys.executable, SIMULATED_BOT, "--url", url, "--token", token, "--poll", "0.3"]
    command += ["--heartbeat", "6", "--apply-after", "0", "--duration", "120", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.django_db(transaction=True)
def test_end_to_end_stop_report_ignore_and_resume_through_gunicorn(
    gunicorn_url, bot_and_token, baseline, people
):
    bot, token = bot_and_token
    make_baseline(baseline, by=people["lead"], note="go live")
    stubborn, stubborn_token = create_bot(slug="stubborn")
    stubborn_release = ConfigRelease.objects.create(
        bot=stubborn,
        version=1,
        tag="s1",
        params={},
        created_by=people["operator"],
        approved_by=people["lead"],
        approved_at=timezone.now(),
    )
    make_baseline(stubborn_release, by=people["lead"], note="go live")
    bots = [
        simulated_bot(gunicorn_url, token),
        simulated_bot(gunicorn_url, stubborn_token, "--ignore-stop"),
    ]
    try:
        assert wait_for(lambda: reported(bot) == "trade" and reported(stubborn) == "trade")
        operator, lead = signed_in(people["operator"]), signed_in(people["lead"])

        for one in (bot, stubborn):
            action, fields = form_on_the_card(operator, one.slug)
            response = operator.post(
                action, {**fields, "mode": "stop_entries", "note": "exchange outage"}
            )
            assert response.status_code == 302

        # The next pull says stop_entries; the bot applies it and says so. The other one keeps
        # trading: it still says "trade" in a heartbeat sent after the stop.
        assert wait_for(lambda: reported(bot) == "stop_entries")
        since = timezone.now()
        assert wait_for(
            lambda: BotPulse.objects.get(bot=stubborn).last_heartbeat_at > since, seconds=15
        )
        assert reported(stubborn) == "trade"
        stubborn.refresh_from_db()
        grace = stubborn.stop_grace_minutes * MINUTE
        watch_bot_loop(stubborn.trading_changed_at + grace)
        assert not IntegrityIncident.objects.filter(kind=IGNORES).exists()
        watch_bot_loop(stubborn.trading_changed_at + grace + MINUTE)
        [incident] = IntegrityIncident.objects.filter(kind=IGNORES)
        assert incident.bot == stubborn and incident.severity == "critical"

        # A Team lead resumes from the card: the bot trades again and says so.
        action, fields = form_on_the_card(lead, bot.slug)
        lead.post(action, {**fields, "mode": "trade", "note": "exchange back"})
        assert wait_for(lambda: reported(bot) == "trade")
        assert Bot.objects.get(pk=bot.pk).trading_mode == "trade"
    finally:
        for process in bots:
            process.terminate()
            output, _ = process.communicate(timeout=10)
            print(output)


def test_no_user_without_a_role_changes_anything(live):
    nobody = User.objects.create_user("nobody", password="pw", is_staff=True)
    response = signed_in(nobody).post(trading_url(live.bot), {"mode": "stop_entries", "note": "x"})
    assert response.status_code == 403 and Bot.objects.get().trading_mode == "trade"
