"""The intraday circuit breaker (issue 24, section 3): equity sent through the ingest API, the
minute job run, and the bot stopped, with a critical incident naming the figure and an alert;
exactly the threshold trips (<=), a hair above it does not; HALT and repeated safety events trip it
too; it never resumes a bot and trips a cause once a UTC day."""

import datetime
import json
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrity.alerts import deliver_due_alerts
from integrity.breaker import check_bot, check_circuit_breakers_job
from integrity.models import AlertChannel, IntegrityIncident
from kpis.queries import day_start
from tests.factories import trade
from tradeops.models import AuditEvent, Bot, JobRun
from tradeops.schedule import BY_NAME, MINUTE
from tradeops.services import create_bot, set_circuit_breaker, set_trading_mode

BREAKER = IntegrityIncident.Kind.CIRCUIT_BREAKER


def today_start():
    return day_start(timezone.now().astimezone(datetime.UTC).date())


def midday_so_far():
    """A moment today, before now (what a bot may stamp)."""
    start = today_start()
    return start + (timezone.now() - start) / 2


def send(token, kind, records):
    return Client().post(
        f"/api/v1/ingest/{kind}",
        data=json.dumps(records),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def equity(token, *readings):
    response = send(
        token, "equity", [{"ts": ts.isoformat(), "equity": str(value)} for ts, value in readings]
    )
    assert response.status_code == 200 and response.json()["accepted"] == len(readings)


def run_the_minute_job():
    check_circuit_breakers_job(timezone.now())
    return Bot.objects.get(slug="alpha")


def tripped():
    return IntegrityIncident.objects.filter(kind=BREAKER)


def test_the_breaker_is_a_minute_job():
    assert BY_NAME["integrity.circuit_breakers"].queue == MINUTE
    assert BY_NAME["integrity.circuit_breakers"].cron == "* * * * *"


@pytest.mark.parametrize(
    "now_equity, trips",
    [
        ("970.00", True),  # exactly -3.00%: the threshold is "this or worse" (<=)
        ("969.99", True),
        ("970.01", False),  # -2.999%: a loss just above the threshold
        ("1020", False),
    ],
)
def test_todays_equity_change_at_or_past_the_threshold_stops_entries(
    bot_and_token, now_equity, trips
):
    bot, token = bot_and_token
    AlertChannel.objects.create(name="ops mail", kind="email", target="ops@example.com")
    equity(token, (today_start(), "1000"), (midday_so_far(), now_equity))

    bot = run_the_minute_job()

    assert JobRun.objects.get(name="integrity.circuit_breakers").outcome == "succeeded"
    change = (Decimal(now_equity) - 1000) / 10
    assert bot.breaker_reading_pct == change.quantize(Decimal("0.0001"))
    assert bot.breaker_headroom == bot.breaker_reading_pct - Decimal("-3.00")
    if not trips:
        assert bot.trading_mode == "trade" and not tripped().exists()
        return
    assert bot.trading_mode == "stop_entries" and bot.trading_changed_by == "circuit breaker"
    incident = tripped().get()
    assert incident.severity == "critical"
    assert f"equity {change:.2f}% today" in incident.title and "-3.00% threshold" in incident.title
    audit = AuditEvent.objects.get(action="trading mode")
    assert (audit.actor_name, audit.from_state, audit.to_state) == (
        "circuit breaker",
        "trade",
        "stop_entries",
    )
    deliver_due_alerts()
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["[CRITICAL] alpha"]


def test_without_snapshots_it_reads_the_starting_equity_and_the_pnl_closed(bot_and_token):
    bot, _ = bot_and_token
    Bot.objects.filter(pk=bot.pk).update(starting_equity=Decimal(2000))
    trade(bot, "yesterday", today_start() - datetime.timedelta(hours=2), "100")
    trade(bot, "today", midday_so_far(), "-63")  # 2100 -> 2037: -3.0%

    bot = run_the_minute_job()

    assert bot.trading_mode == "stop_entries"
    assert "equity -3.00% today (2100.00 → 2037.00)" in tripped().get().title


def test_it_never_resumes_and_trips_a_cause_once_a_day_and_step(bot_and_token, people):
    bot, token = bot_and_token
    equity(token, (today_start(), "1000"), (midday_so_far(), "950"))
    bot = run_the_minute_job()
    tripped().update(status="resolved")

    # Equity recovers: the bot stays stopped until a Team lead resumes it.
    equity(token, (midday_so_far() + datetime.timedelta(seconds=1), "1010"))
    assert run_the_minute_job().trading_mode == "stop_entries"
    # A Team lead resumes; the same step of loss does not stop it again today...
    set_trading_mode(bot, "trade", by=people["lead"], note="checked: a data glitch")
    equity(token, (midday_so_far() + datetime.timedelta(seconds=2), "941"))
    assert run_the_minute_job().trading_mode == "trade"
    assert tripped().count() == 1
    # ...one step deeper (twice the threshold) does: a resume is not a licence to lose it all.
    equity(token, (midday_so_far() + datetime.timedelta(seconds=3), "940"))
    assert run_the_minute_job().trading_mode == "stop_entries"
    assert tripped().count() == 2
    assert "equity -6.00% today" in tripped().order_by("-pk").first().title


def test_a_halt_trips_it(bot_and_token):
    bot, token = bot_and_token
    send(token, "health", [{"ts": midday_so_far().isoformat(), "kind": "state_change",
                            "state": "HALT"}])  # fmt: skip

    bot = run_the_minute_job()

    assert bot.trading_mode == "stop_entries"
    assert "entered HALT" in tripped().get(key__endswith=":halt").title


def test_repeated_safety_events_within_the_day_trip_it_past_the_bots_threshold(bot_and_token):
    bot, token = bot_and_token  # safety_events_per_day: 2, so a third trips it
    at = midday_so_far()
    events = [
        {"ts": (at + datetime.timedelta(seconds=n)).isoformat(), "kind": "kill_switch"}
        for n in range(2)
    ]
    send(token, "health", events)
    assert run_the_minute_job().trading_mode == "trade"

    send(token, "health", [{"ts": (at + datetime.timedelta(seconds=5)).isoformat(),
                            "kind": "degraded"}])  # fmt: skip
    bot = run_the_minute_job()

    assert bot.trading_mode == "stop_entries"
    assert "3 kill/degraded/safety events today (threshold 2)" in tripped().get().title


def test_an_already_stricter_mode_is_kept_and_shadows_are_not_watched(bot_and_token, people):
    bot, token = bot_and_token
    shadow, shadow_token = create_bot(slug="alpha-shadow", shadow_of=bot)
    set_trading_mode(bot, "exit_all", by=people["lead"], note="closing out")
    equity(token, (today_start(), "1000"), (midday_so_far(), "900"))
    equity(shadow_token, (today_start(), "1000"), (midday_so_far(), "900"))

    bot = run_the_minute_job()

    assert bot.trading_mode == "exit_all" and tripped().get().bot == bot


def test_a_team_lead_sets_the_threshold_audited_and_it_shows_with_its_headroom(
    bot_and_token, people
):
    bot, token = bot_and_token
    equity(token, (today_start(), "1000"), (midday_so_far(), "980"))
    set_circuit_breaker(bot, "-1.5", by=people["lead"], note="volatile week")

    bot = run_the_minute_job()
    client = Client()
    client.force_login(people["lead"])
    page = client.get(reverse("admin:index")).content.decode()

    audit = AuditEvent.objects.get(action="circuit breaker")
    assert (audit.from_state, audit.to_state, audit.note) == ("-3.00%", "-1.50%", "volatile week")
    assert bot.trading_mode == "stop_entries"  # -2% is past -1.5%
    assert "today -2.00% of -1.50% · headroom -0.50 pts" in page


def test_a_trip_reads_the_mode_as_it_is_now_not_as_the_run_began(bot_and_token, people):
    """A Team lead resumed the bot after the breaker's run read it stopped: the trip still stops
    it, and the incident says what it did (found by a race: the incident said "entries
    stopped" while the bot traded)."""
    bot, token = bot_and_token
    equity(token, (today_start(), "1000"), (midday_so_far(), "950"))
    set_trading_mode(bot, "stop_entries", by=people["operator"], note="looks wrong")
    read_by_the_run = Bot.objects.get(pk=bot.pk)
    set_trading_mode(bot, "trade", by=people["lead"], note="it is fine")

    check_bot(read_by_the_run, timezone.now())

    assert Bot.objects.get(pk=bot.pk).trading_mode == "stop_entries"
    assert tripped().get().title.endswith(": entries stopped")


def test_a_trip_while_already_stopped_says_so(bot_and_token, people):
    bot, token = bot_and_token
    set_trading_mode(bot, "stop_entries", by=people["operator"], note="maintenance")
    equity(token, (today_start(), "1000"), (midday_so_far(), "950"))

    run_the_minute_job()

    assert tripped().get().title.endswith(": entries were already stopped")


def test_the_threshold_refuses_nan_and_shadows(bot_and_token, people):
    bot, _ = bot_and_token
    shadow, _ = create_bot(slug="alpha-shadow", shadow_of=bot)
    for value in ("NaN", "sNaN", "-Infinity"):
        with pytest.raises(ValidationError):
            set_circuit_breaker(bot, value, by=people["lead"], note="x")
    with pytest.raises(ValidationError, match="is a shadow"):
        set_circuit_breaker(shadow, "-2", by=people["lead"], note="x")


def test_a_bot_id_that_is_not_a_number_is_404_not_500(bot_and_token, people):
    client = Client()
    client.force_login(people["lead"])
    for path in ("abc/trading/", "1/x/trading/", "abc/breaker/"):
        response = client.post(f"/admin/tradeops/bot/{path}", {"mode": "stop_entries"})
        assert response.status_code in (302, 404), path


def test_the_bot_page_states_its_mode_and_breaker_once_as_the_card_does(bot_and_token, people):
    """One figure, one meaning: the bot's page showed its mode and breaker in the panel and
    again as read-only fields, in other words ('-1.50% today (today -1.00%, ...)')."""
    bot, token = bot_and_token
    equity(token, (today_start(), "1000"), (midday_so_far(), "990"))
    set_circuit_breaker(bot, "-1.5", by=people["lead"], note="volatile week")
    bot = run_the_minute_job()
    client = Client()
    client.force_login(people["lead"])
    home = " ".join(client.get(reverse("admin:index")).content.decode().split())
    page = " ".join(
        client.get(reverse("admin:tradeops_bot_change", args=[bot.pk])).content.decode().split()
    )

    reading = "today -1.00% of -1.50% · headroom 0.50 pts"
    assert reading in home and page.count(reading) == 1
    assert page.count("headroom") == 1 and page.count("Circuit breaker") == 1
    assert page.count("Trading mode") == 1  # the panel's heading, no read-only field beside it
