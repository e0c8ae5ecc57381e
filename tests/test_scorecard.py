"""The scorecard: the candidate against its concurrent shadow, with a verdict that holds however
often it is read, and before/after figures that never pass for a verdict (issue 21)."""

import datetime
import json

import pytest
from django.core.management import call_command

from experiments import services
from experiments.scorecard import build_scorecard, refresh_scorecard
from kpis.queries import day_start
from tests.factories import closed_trade, draft, trade
from tradeops.services import create_bot

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
# Day 0 of the test: a Monday at 09:00 UTC, well in the past, so every trade is history.
START = day_start(datetime.date(2026, 10, 5)) + 9 * HOUR


@pytest.fixture
def running(baseline, people):
    """alpha ran v1.4.0 from a month before START, then Experiment A's candidate from START;
    everything through the services on their clock."""
    services.make_baseline(baseline, by=people["lead"], note="Phase 1", now=START - 40 * DAY)
    experiment = draft(baseline, people)
    services.submit(experiment, by=people["operator"], note="ready", now=START - 2 * HOUR)
    services.approve(experiment, by=people["lead"], note="go", now=START - HOUR)
    return services.start(experiment, by=people["operator"], note="deployed", now=START)


def test_without_a_shadow_the_figures_are_before_and_after_and_never_a_verdict(running):
    for n in range(40):
        trade(running.bot, f"b{n}", START - DAY - n * HOUR / 2, 1, release=running.baseline_release)
        trade(running.bot, f"t{n}", START + n * HOUR, 3, release=running.candidate_release)

    card = build_scorecard(running, START + 5 * DAY)

    # The candidate made three times the baseline's expectancy: before/after still says nothing.
    assert card["verdict"] == "before/after only"
    assert "cannot separate the change from the market" in card["comparison"]["wording"]
    assert "--shadow-of" in card["comparison"]["wording"]
    assert card["baseline"]["concurrent"] is False and card["baseline"]["days"] == 30
    assert card["trades"] == {"baseline": 40, "test": 40}
    rows = {row["kpi"]: row for row in card["kpis"]}
    assert rows["avg_pnl_per_trade"]["primary"] is True
    assert (rows["trades"]["baseline"], rows["trades"]["test"]) == (40, 40)
    json.dumps(card, allow_nan=False)  # stored as JSON


def twins(live, shadow, running, *, days, per_day, live_net=None, shadow_net=None):
    """`per_day` entries a day both bots took (same pair and side, a minute apart), closed an
    hour later: the live bot on the candidate, its shadow on the baseline (either may be None:
    its half is left out)."""
    for day in range(days):
        for n in range(per_day):
            opened = START + day * DAY + n * HOUR
            if live is not None:
                trade(
                    live,
                    f"L{day}-{n}",
                    opened + HOUR,
                    live_net(day, n),
                    release=running.candidate_release,
                )
            if shadow is not None:
                trade(
                    shadow,
                    f"S{day}-{n}",
                    opened + HOUR + datetime.timedelta(minutes=1),
                    shadow_net(day, n),
                    release=running.baseline_release,
                )


def test_with_a_shadow_a_clear_gain_is_better_and_the_pairing_is_shown(running):
    shadow, _ = create_bot(slug="alpha-shadow", shadow_of=running.bot, now=START - 3 * DAY)
    noise = [0.8, -1.2, 2.1, -0.4, 1.5, -2.3, 0.2, 1.1, -0.9, 0.6]
    twins(
        running.bot,
        shadow,
        running,
        days=5,
        per_day=10,
        live_net=lambda day, n: 2.0 + noise[n],
        shadow_net=lambda day, n: 0.2 + noise[n] + noise[(n + day) % 10] / 5,
    )

    card = build_scorecard(running, START + 5 * DAY)

    assert card["verdict"] == "better"
    assert card["comparison"]["pairing"]["twins"] == 50
    assert card["comparison"]["pairing"]["candidate_only"] == 0
    assert card["comparison"]["per_day"]["low"] > 0
    # The baseline is the shadow over the same days, not the month before the start.
    assert card["baseline"]["bot"] == "alpha-shadow" and card["baseline"]["concurrent"]
    assert card["trades"] == {"baseline": 50, "test": 50}
    rows = {row["kpi"]: row for row in card["kpis"]}
    assert (rows["trades"]["baseline"], rows["trades"]["test"]) == (50, 50)


def test_the_verdict_is_worded_in_the_bots_quote_currency(running):
    """One figure, one meaning: a bot quoted in EUR reads its verdict in EUR, with or without a
    shadow (the wording said USDT whatever the bot traded in)."""
    running.bot.quote_currency = "EUR"
    running.bot.save(update_fields=["quote_currency"])
    for n in range(40):
        trade(running.bot, f"b{n}", START - DAY - n * HOUR / 2, 1, release=running.baseline_release)
    noise = [0.8, -1.2, 2.1, -0.4, 1.5, -2.3, 0.2, 1.1, -0.9, 0.6]

    def shadow_net(day, n):
        return 0.2 + noise[n] + noise[(n + day) % 10] / 5

    twins(running.bot, None, running, days=5, per_day=10, live_net=lambda day, n: 2.0 + noise[n])
    before_after = build_scorecard(running, START + 5 * DAY)["comparison"]["wording"]
    shadow, _ = create_bot(slug="alpha-shadow", shadow_of=running.bot, now=START - 3 * DAY)
    twins(None, shadow, running, days=5, per_day=10, shadow_net=shadow_net)
    with_shadow = build_scorecard(running, START + 5 * DAY)["comparison"]["wording"]

    assert "EUR a day" in before_after and "EUR a day" in with_shadow
    assert "USDT" not in before_after + with_shadow


def test_fewer_than_thirty_trades_an_arm_is_too_early_however_clear(running):
    shadow, _ = create_bot(slug="alpha-shadow", shadow_of=running.bot, now=START - 3 * DAY)
    twins(
        running.bot,
        shadow,
        running,
        days=4,
        per_day=7,
        live_net=lambda day, n: 10.0,
        shadow_net=lambda day, n: -10.0,
    )

    card = build_scorecard(running, START + 4 * DAY)

    assert card["verdict"] == "too early"
    assert card["trades"]["test"] == 28


def test_the_page_shows_the_verdict_its_interval_the_detectable_effect_and_the_pairing(
    running, client, people
):
    shadow, _ = create_bot(slug="alpha-shadow", shadow_of=running.bot, now=START - 3 * DAY)
    twins(
        running.bot,
        shadow,
        running,
        days=3,
        per_day=12,
        live_net=lambda day, n: (-1) ** n * 3.0,
        shadow_net=lambda day, n: (-1) ** (n + 1) * 3.0,
    )
    refresh_scorecard(running, START + 3 * DAY)
    client.force_login(people["lead"])

    page = client.get(f"/admin/experiments/experiment/{running.pk}/change/").content.decode()

    assert "Verdict: inconclusive" in page
    assert "anytime-valid interval" in page
    assert "Detectable now" in page
    assert "36 twin trades" in page and "baseline (shadow), same days" in page


# -- end to end: two bots pulling their configs and sending their trades ----------------------


def post_trades(client, token, records):
    response = client.post(
        "/api/v1/ingest/trades",
        data=json.dumps(records),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200 and response.json()["quarantined"] == 0, response.json()


def pulled(client, token):
    return client.get("/api/v1/config", headers={"Authorization": f"Bearer {token}"}).json()


def test_a_shadow_pair_through_the_api_the_verdict_read_as_the_days_pass(
    client, baseline, people, bot_and_token
):
    bot, live_token = bot_and_token
    services.make_baseline(baseline, by=people["lead"], note="Phase 1", now=START - 40 * DAY)
    shadow, shadow_token = create_bot(slug="alpha-shadow", shadow_of=bot, now=START - 3 * DAY)
    experiment = draft(baseline, people)
    services.submit(experiment, by=people["operator"], note="ready", now=START - 2 * HOUR)
    services.approve(experiment, by=people["lead"], note="go", now=START - HOUR)
    experiment = services.start(experiment, by=people["operator"], note="deployed", now=START)
    candidate = experiment.candidate_release.tag

    # Each bot runs what it is told: the candidate live, the baseline in the shadow.
    assert pulled(client, live_token)["release"]["tag"] == candidate
    assert pulled(client, shadow_token)["release"]["tag"] == "v1.4.0"

    def day_of_trades(day, release, net, minute):
        records = []
        for n in range(12):
            opened = START + day * DAY + n * HOUR + datetime.timedelta(minutes=minute)
            closed = opened + HOUR / 2
            pnl = f"{net + (0.7 if n % 2 else -0.7):.2f}"
            records.append(
                closed_trade(
                    external_id=f"{release}-{day}-{n}",
                    side="long" if n % 3 else "short",
                    opened_at=opened.isoformat(),
                    closed_at=closed.isoformat(),
                    gross_pnl=pnl,
                    fees="0",
                    funding="0",
                    net_pnl=pnl,
                    release=release,
                )
            )
        return records

    verdicts = {}
    for day in range(5):
        post_trades(client, live_token, day_of_trades(day, candidate, 2.5, minute=0))
        post_trades(client, shadow_token, day_of_trades(day, "v1.4.0", 0.5, minute=2))
        verdicts[day + 1] = build_scorecard(experiment, START + (day + 1) * DAY)["verdict"]

    # Day 1: one whole day, 12 trades an arm; day 2: 24, still under 30; then a clear gain.
    assert verdicts[1] == verdicts[2] == "too early"
    assert verdicts[5] == "better"
    card = build_scorecard(experiment, START + 5 * DAY)
    assert card["comparison"]["pairing"]["twins"] == 60
    assert card["baseline"]["release"] == "v1.4.0" and card["baseline"]["concurrent"]


def test_the_command_prints_the_verdict_and_what_it_rests_on(running, capsys):
    shadow, _ = create_bot(slug="alpha-shadow", shadow_of=running.bot, now=START - 3 * DAY)
    twins(
        running.bot,
        shadow,
        running,
        days=4,
        per_day=10,
        live_net=lambda day, n: 1.0 + (n % 3),
        shadow_net=lambda day, n: 1.0 + (n % 3),
    )

    call_command("scorecard", str(running.pk), "--store")

    out = capsys.readouterr().out
    assert f"(#{running.pk}): INCONCLUSIVE" in out
    assert "40 twin trades, 0 only the candidate took" in out
    assert "baseline v1.4.0 (shadow alpha-shadow, same days)" in out
    assert "stored" in out
    running.refresh_from_db()
    assert running.scorecard["verdict"] == "inconclusive"
