"""The bot's page says what the bot does in words, one meaning per figure (issue 23, sections 2
and 5): a drift in its grace is stated with when its incident opens (the watch's own rule), and
money carries the bot's quote currency."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from cadence.selectors import unknown_exits
from experiments.services import make_baseline
from integrity.checks import unknown_exit_rate
from integrity.loop import watch_bot_loop
from tests.factories import ingest, log_in_as, trade
from tradeops.roles import VIEWER

MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def live(baseline, people):
    """v1.4.0 current since an hour ago."""
    return make_baseline(
        baseline, by=people["lead"], note="Phase 1 winner", now=timezone.now() - 60 * MINUTE
    )


def beat(bot, moment, release):
    ingest(
        bot,
        "health",
        {"ts": moment.isoformat(), "kind": "heartbeat", "running_release": release},
    )


def bot_page(client, people, bot, role="operator"):
    client.force_login(people[role])
    return client.get(f"/admin/tradeops/bot/{bot.pk}/change/").content.decode()


def test_a_drift_in_its_grace_is_stated_with_when_its_incident_opens(client, live, people):
    bot = live.bot
    swapped_at = timezone.now() - 2 * MINUTE
    beat(bot, swapped_at, "v0.9-hotfix")
    assert watch_bot_loop() == []  # in its grace: no incident yet

    page = bot_page(client, people, bot)

    opens = swapped_at + bot.drift_grace_minutes * MINUTE
    assert (
        f"drift: reports v0.9-hotfix, should run v1.4.0 since {swapped_at:%Y-%m-%d %H:%M} UTC; "
        f"an incident opens after {opens:%H:%M} UTC if it persists"
    ) in page


def test_a_drift_past_its_grace_links_its_incident(client, live, people):
    bot = live.bot
    beat(bot, timezone.now() - 10 * MINUTE, "v0.9-hotfix")
    watch_bot_loop()

    page = bot_page(client, people, bot)

    assert "should run v1.4.0" in page and "past its grace: incident open" in page
    assert "runs v0.9-hotfix, not its current release v1.4.0" in page


def test_a_bot_running_its_current_release_shows_no_drift(client, live, people):
    beat(live.bot, timezone.now(), "v1.4.0")

    page = bot_page(client, people, live.bot)

    assert "drift: reports" not in page and "should run v1.4.0" not in page


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_who_reads_the_bot_sees_its_money_with_its_currency_and_its_exit_reasons_listed(
    client, bot, people, role
):
    people["viewer"] = log_in_as(Client(), "vic", VIEWER)
    bot.starting_equity = Decimal("25000")
    bot.known_exit_reasons = ["take_profit", "stop_loss"]
    bot.save()

    page = bot_page(client, people, bot, role)

    assert "25,000.00 USDT" in page and "25000.000000" not in page
    assert "take_profit, stop_loss" in page and "[&quot;take_profit" not in page


def test_the_lead_edits_the_exit_reasons_one_a_line(client, bot, people):
    bot.known_exit_reasons = ["take_profit", "stop_loss"]
    bot.save()
    client.force_login(people["lead"])
    url = f"/admin/tradeops/bot/{bot.pk}/change/"
    form = client.get(url).context["adminform"].form

    assert form["known_exit_reasons"].value() == "take_profit\nstop_loss"
    data = {
        name: "" if value is None else value for name, value in ((f.name, f.value()) for f in form)
    }
    data["known_exit_reasons"] = "take_profit\n stop_loss \n\nliquidation\n"
    for inline in client.get(url).context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update(
            {f.html_name: f.value() for f in management}
            | {management["TOTAL_FORMS"].html_name: "0"}
        )
    response = client.post(url, {k: v for k, v in data.items() if v is not False})
    assert response.status_code == 302

    bot.refresh_from_db()
    assert bot.known_exit_reasons == ["take_profit", "stop_loss", "liquidation"]


def test_the_shadow_relation_is_one_line_on_a_bots_page(client, bot, people):
    """A live bot's page said 'Shadow relation: Live bot, no shadow.' and 'Shadow of: -'."""
    page = bot_page(client, people, bot, "lead")

    assert "Live bot, no shadow." in page and "Shadow of:" not in page
    client.force_login(people["lead"])
    adding = client.get("/admin/tradeops/bot/add/").content.decode()
    assert "Shadow of:" in adding and "Shadow relation" not in adding


@pytest.mark.parametrize("role", ["lead", "viewer"])
def test_the_unknown_exit_alert_share_reads_as_the_card_says_it(client, bot, people, role):
    """The card says 'alert above 2%'; the bot's page said 0.0200 with no unit."""
    people["viewer"] = log_in_as(Client(), "vic", VIEWER)
    page = bot_page(client, people, bot, role)

    if role == "lead":
        assert "A share: 0.02 is 2%." in page
    else:
        assert "above 2% of the closes in 24 hours" in page and "0.0200" not in page


def test_the_unknown_exit_share_reads_the_same_everywhere_unrounded(client, bot, people):
    """A 2.5% alarm read 'alert above 2%' on the card (rounded to whole percents), '2.5%' on
    the bot's page and '2.5%' in the incident: one figure, one meaning, one place."""
    bot.unknown_exit_alert_share = Decimal("0.025")
    bot.known_exit_reasons = ["take_profit"]
    bot.save()
    now = timezone.now()
    for n in range(100):
        reason = "" if n < 3 else "take_profit"
        trade(bot, f"u{n}", now - datetime.timedelta(minutes=n + 1), "1", exit_reason=reason)

    card_line = str(unknown_exits(bot, {"take_profit": 97, "": 3}))
    incident = unknown_exit_rate(bot, now, None)
    people["viewer"] = log_in_as(Client(), "vic", VIEWER)
    page = bot_page(client, people, bot, "viewer")

    assert "alert above 2.5%)" in card_line
    assert "(threshold 2.5%)" in incident[0].title
    assert "above 2.5% of the closes in 24 hours" in page
