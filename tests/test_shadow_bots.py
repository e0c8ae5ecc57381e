"""Shadow bots (issue 21, section 1): a dry-run twin of a live bot, created by the service, the
command and the admin; it runs the experiment's baseline while the live bot runs the candidate
and what the live bot runs otherwise, each move recorded; its trades name the live bot's
releases; it never counts as money; the command center shows it inside its live bot's card."""

import datetime
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cadence.digest import digest_text
from cadence.models import TriggerHeadroom
from cadence.selectors import command_center, fleet_by_attention
from cadence.services import queue_daily_digests, refresh_trigger_headroom
from experiments import services
from experiments.models import Experiment
from experiments.releases import create_release
from experiments.scaling import scaling_readiness
from experiments.triggers import evaluate_live_changes
from ingestion.freqtrade import configure_source
from integrity.loop import watch_bot_loop
from integrity.models import AlertChannel, IntegrityIncident
from tests.factories import FREQTRADE_DATABASE, closed_trade, draft, ingest, log_in_as, trade
from tradeops.models import Bot, ConfigRelease, ReleaseChange, Trade
from tradeops.roles import OPERATOR, TEAM_LEAD
from tradeops.services import authenticate_bot_token, create_bot

URL = "/api/v1/config"
MINUTE = datetime.timedelta(minutes=1)


def pull(client, token, **params):
    response = client.get(URL, params, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def live(baseline, people):
    """alpha runs v1.4.0, its baseline, since an hour ago."""
    start = timezone.now() - 60 * MINUTE
    return services.make_baseline(baseline, by=people["lead"], note="Phase 1 winner", now=start)


@pytest.fixture
def shadow_and_token(bot, live):
    return create_bot(slug="alpha-shadow", shadow_of=bot)


@pytest.fixture
def shadow(shadow_and_token):
    return shadow_and_token[0]


def runs(bot):
    bot = Bot.objects.select_related("current_release").get(pk=bot.pk)
    return bot.current_release.tag if bot.current_release else None


def changes(bot):
    return [
        (c.reason, c.release.tag)
        for c in ReleaseChange.objects.filter(bot=bot).select_related("release").order_by("id")
    ]


# -- creating a shadow ---------------------------------------------------------------------


def test_the_service_creates_a_shadow_with_its_own_token_running_what_its_live_bot_runs(
    bot_and_token, live
):
    bot, live_token = bot_and_token
    Bot.objects.filter(pk=bot.pk).update(exchange="bybit")
    bot.refresh_from_db()

    shadow, token = create_bot(slug="alpha-shadow", shadow_of=bot)

    assert shadow.shadow_of == bot and shadow.is_shadow and not bot.is_shadow
    assert shadow.exchange == "bybit"  # the same exchange
    assert token != live_token and authenticate_bot_token(token) == shadow
    assert shadow.current_release == live  # the live bot's release, its own change
    (change,) = ReleaseChange.objects.filter(bot=shadow)
    assert change.release == live and change.reason == "baseline"
    assert change.reference == "shadow of alpha created (Baseline: Phase 1 winner)"
    assert list(Bot.objects.live()) == [bot]


def test_a_shadow_of_a_shadow_a_second_shadow_or_its_own_shadow_is_refused(bot, shadow):
    with pytest.raises(ValidationError, match="is itself a shadow"):
        create_bot(slug="shadow-of-shadow", shadow_of=shadow)
    with pytest.raises(ValidationError, match="already has a shadow, alpha-shadow"):
        create_bot(slug="second-shadow", shadow_of=bot)
    # The database holds to the same rules, and the relation never changes.
    other, _ = create_bot(slug="beta")
    for write in (
        lambda: Bot.objects.create(slug="s2", name="s2", shadow_of=shadow),
        lambda: Bot.objects.create(slug="s3", name="s3", shadow_of=bot),
        lambda: Bot.objects.filter(pk=other.pk).update(shadow_of=other),
        lambda: Bot.objects.filter(pk=shadow.pk).update(shadow_of=other),
        lambda: Bot.objects.filter(pk=other.pk).update(shadow_of=bot),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            write()
    assert Bot.objects.get(pk=shadow.pk).shadow_of == bot


def test_the_command_creates_a_shadow_and_prints_its_own_token(bot, live):
    out = io.StringIO()

    call_command("create_bot", "alpha-shadow", "--shadow-of", "alpha", stdout=out)

    shadow = Bot.objects.get(slug="alpha-shadow")
    text = out.getvalue()
    token = text.split("): ")[-1].strip()
    assert authenticate_bot_token(token) == shadow and shadow.shadow_of == bot
    assert "It shadows alpha" in text and "it runs v1.4.0" in text
    with pytest.raises(CommandError, match="no bot 'nobody' to shadow"):
        call_command("create_bot", "x", "--shadow-of", "nobody", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already has a shadow"):
        call_command("create_bot", "y", "--shadow-of", "alpha", stdout=io.StringIO())


def test_the_admin_adds_a_shadow_and_each_bot_page_links_to_the_other(bot, live):
    client = Client()
    log_in_as(client, "tess", TEAM_LEAD)
    form = client.get(reverse("admin:tradeops_bot_add")).context["adminform"].form
    data = {
        name: field.initial if not callable(field.initial) else field.initial()
        for name, field in form.fields.items()
    }
    data.update(
        slug="alpha-shadow",
        name="Alpha shadow",
        shadow_of=bot.pk,
        known_exit_reasons=json.dumps(bot.known_exit_reasons),
    )
    data = {k: v for k, v in data.items() if v is not None}
    page = client.get(reverse("admin:tradeops_bot_add"))
    for formset in page.context["inline_admin_formsets"]:
        prefix = formset.formset.prefix
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": 0,
                f"{prefix}-INITIAL_FORMS": 0,
                f"{prefix}-MIN_NUM_FORMS": 0,
                f"{prefix}-MAX_NUM_FORMS": 1000,
            }
        )

    response = client.post(reverse("admin:tradeops_bot_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    shadow = Bot.objects.get(slug="alpha-shadow")
    assert shadow.shadow_of == bot and shadow.current_release == live
    live_page = client.get(reverse("admin:tradeops_bot_change", args=[bot.pk])).content.decode()
    shadow_page = client.get(
        reverse("admin:tradeops_bot_change", args=[shadow.pk])
    ).content.decode()
    assert reverse("admin:tradeops_bot_change", args=[shadow.pk]) in live_page
    assert "its shadow is" in live_page
    assert reverse("admin:tradeops_bot_change", args=[bot.pk]) in shadow_page
    assert "Shadow of" in shadow_page
    # A second shadow from the admin is refused on the form.
    data["slug"] = "second"
    refused = client.post(reverse("admin:tradeops_bot_add"), data)
    assert refused.status_code == 200
    assert "already has a shadow" in str(refused.context["adminform"].form.errors)


# -- the config follows the loop -------------------------------------------------------------


def test_config_before_during_and_after_an_experiment_rolled_back(
    client, bot_and_token, shadow_and_token, people
):
    (bot, live_token), (shadow, shadow_token) = bot_and_token, shadow_and_token
    assert pull(client, shadow_token)["release"]["tag"] == "v1.4.0"
    assert pull(client, shadow_token)["shadow_of"] == "alpha"
    assert pull(client, shadow_token)["dry_run"] is True

    experiment = draft(bot.releases.get(tag="v1.4.0"), people)
    for move in (services.submit, services.approve, services.start):
        person = people["lead"] if move is services.approve else people["operator"]
        move(experiment, by=person, note="go")
    candidate = experiment.candidate_release.tag

    during_live, during_shadow = pull(client, live_token), pull(client, shadow_token)
    assert during_live["release"]["tag"] == candidate
    assert during_shadow["release"]["tag"] == "v1.4.0"  # the experiment's baseline
    assert during_shadow["reason"] == "experiment"
    assert during_shadow["why"] == (
        f"Experiment's candidate: alpha: {experiment.name} (#{experiment.pk}) started "
        "(the shadow runs the baseline, v1.4.0)"
    )

    services.send_to_review(experiment, by=people["operator"], note="week")
    services.decide(experiment, decision="rollback", by=people["operator"], rationale="worse")

    assert pull(client, live_token)["release"]["tag"] == "v1.4.0"
    after = pull(client, shadow_token)
    assert after["release"]["tag"] == "v1.4.0" and after["reason"] == "decision"
    assert changes(shadow) == [
        ("baseline", "v1.4.0"),
        ("experiment", "v1.4.0"),
        ("decision", "v1.4.0"),
    ]
    assert changes(bot) == [
        ("baseline", "v1.4.0"),
        ("experiment", candidate),
        ("decision", "v1.4.0"),
    ]


def test_a_confirmed_keep_moves_both_to_the_candidate(bot, shadow, people):
    experiment = draft(bot.releases.get(tag="v1.4.0"), people)
    services.submit(experiment, by=people["operator"], note="ready")
    services.approve(experiment, by=people["lead"], note="go")
    services.start(experiment, by=people["operator"], note="deployed")
    services.send_to_review(experiment, by=people["operator"], note="week")
    Experiment.objects.filter(pk=experiment.pk).update(min_horizon_days=5)
    later = timezone.now() + datetime.timedelta(days=8)
    services.decide(
        experiment,
        decision="keep",
        by=people["operator"],
        rationale="better",
        without_better=True,
        now=later,
    )
    assert runs(shadow) == "v1.4.0"  # a logged keep changes nothing yet

    services.confirm_keep(experiment, by=people["lead"], note="confirmed", now=later)

    candidate = experiment.candidate_release.tag
    assert runs(bot) == runs(shadow) == candidate
    change = ReleaseChange.objects.filter(bot=shadow).latest("id")
    assert change.reason == "decision" and change.reference.endswith("keep confirmed")


def test_a_rollback_trigger_moves_both_back_and_a_shadows_halt_stops_nothing(bot, shadow, people):
    experiment = draft(bot.releases.get(tag="v1.4.0"), people)
    services.submit(experiment, by=people["operator"], note="ready")
    services.approve(experiment, by=people["lead"], note="go")
    services.start(experiment, by=people["operator"], note="deployed")
    now = timezone.now()
    halt = {"ts": (now + MINUTE).isoformat(), "kind": "state_change", "state": "HALT"}

    ingest(shadow, "health", halt)
    evaluate_live_changes(now + 2 * MINUTE)
    assert Experiment.objects.get(pk=experiment.pk).status == "running"  # not the shadow's HALT

    ingest(bot, "health", halt)
    evaluate_live_changes(now + 2 * MINUTE)

    assert Experiment.objects.get(pk=experiment.pk).status == "stopped"
    assert runs(bot) == runs(shadow) == "v1.4.0"
    assert changes(shadow)[-1] == ("trigger", "v1.4.0")


def test_the_freqtrade_file_of_a_shadow_is_the_baseline_while_the_candidate_runs(
    client, bot, shadow_and_token, people
):
    shadow, token = shadow_and_token
    source = configure_source(shadow, f"sqlite:///{FREQTRADE_DATABASE}", now=timezone.now())
    source.strategy_name = "FibZoneStrategy"
    source.param_spaces = {key: "buy" for key in bot.releases.get().params}
    source.save()
    experiment = draft(bot.releases.get(tag="v1.4.0"), people)
    services.submit(experiment, by=people["operator"], note="ready")
    services.approve(experiment, by=people["lead"], note="go")
    services.start(experiment, by=people["operator"], note="deployed")

    body = pull(client, token, format="freqtrade")

    assert body["tradeops"] == {
        "bot": "alpha-shadow",
        "shadow_of": "alpha",
        "dry_run": True,
        "release": "v1.4.0",
        "version": 1,
        "git_commit": "",
        "trading": "trade",
        "trading_version": 0,
        "trading_since": None,
        "trading_why": None,
    }
    assert body["params"]["buy"]["side_balance_pressure"] == 0  # the baseline's, not 0.3


def test_a_shadow_drifts_from_what_it_should_run_not_from_its_live_bot(bot, shadow, people):
    experiment = draft(bot.releases.get(tag="v1.4.0"), people)
    services.submit(experiment, by=people["operator"], note="ready")
    services.approve(experiment, by=people["lead"], note="go")
    start = timezone.now() - 30 * MINUTE
    services.start(experiment, by=people["operator"], note="deployed", now=start)
    candidate = experiment.candidate_release.tag
    later = start + 10 * MINUTE

    for who, release in ((bot, candidate), (shadow, candidate)):
        ingest(
            who,
            "health",
            {"ts": later.isoformat(), "kind": "heartbeat", "running_release": release},
        )
    found = watch_bot_loop(later + 10 * MINUTE)

    drifted = {bot.slug for bot, finding in found if finding.kind == "config_drift"}
    assert drifted == {"alpha-shadow"}  # it runs the candidate, it should run v1.4.0
    incident = IntegrityIncident.objects.get(kind="config_drift")
    assert incident.bot == shadow and "not its current release v1.4.0" in incident.title


# -- its data ---------------------------------------------------------------------------------


def test_a_shadows_trades_name_the_live_bots_releases(bot, shadow, live):
    result = ingest(
        shadow,
        "trades",
        closed_trade(external_id="S-1", release="v1.4.0"),
        closed_trade(external_id="S-2", release="v9.9.9"),
    )

    assert result.accepted == 2
    assert Trade.objects.get(bot=shadow, external_id="S-1").release == live
    assert Trade.objects.get(bot=shadow, external_id="S-2").release is None
    # A third bot's release stays refused, for a shadow too.
    other, _ = create_bot(slug="beta")
    foreign = ConfigRelease.objects.create(bot=other, version=1, tag="b1", params={})
    with pytest.raises(IntegrityError), transaction.atomic():
        trade(shadow, "S-3", timezone.now(), "1", release=foreign)
    # And the live bot never reads its shadow's releases: a shadow has none of its own.
    with pytest.raises(ValidationError, match="is a shadow"):
        services.create_experiment(
            bot=shadow,
            name="x",
            lever="side_balance_pressure",
            candidate=live,
            success_criteria="x",
            by=None,
        )


# -- never money ------------------------------------------------------------------------------


def test_a_shadow_counts_in_no_fleet_total_headroom_scaling_or_digest(bot, shadow, people):
    now = timezone.now()
    experiment = draft(bot.releases.get(tag="v1.4.0"), people)
    services.submit(experiment, by=people["operator"], note="ready")
    services.approve(experiment, by=people["lead"], note="go")
    services.start(experiment, by=people["operator"], note="deployed", now=now - 60 * MINUTE)
    for n in range(3):
        trade(shadow, f"s{n}", now - (n + 1) * MINUTE, "-500")
        ingest(
            shadow,
            "health",
            {"ts": (now - MINUTE).isoformat(), "kind": "kill_switch", "detail": f"dry {n}"},
        )
    trade(bot, "l1", now - MINUTE, "12")

    assert [b.slug for b in fleet_by_attention(now)] == ["alpha"]
    assert [card.bot.slug for card in command_center(now)] == ["alpha"]
    refresh_trigger_headroom(now)
    (headroom,) = TriggerHeadroom.objects.all()
    assert headroom.bot == bot
    assert "safety events 0 of 3" in json.dumps(headroom.lines)
    assert evaluate_live_changes(now) == [(experiment, [])]
    readiness = scaling_readiness(shadow, now)
    assert not readiness["passed"] and "is a shadow of alpha" in readiness["checks"][0]["check"]

    AlertChannel.objects.create(name="Ops", kind="email", target="ops@example.com")
    digests = queue_daily_digests(now.replace(hour=23))
    assert [d.bot.slug for d in digests] == ["alpha"]
    title, body = digest_text(bot, now.date(), now)
    assert "net P&L 12.00" in body  # the live bot's money only
    assert "Shadow alpha-shadow (dry-run, not money): runs v1.4.0, 3 closes" in body


# -- the command center ------------------------------------------------------------------------


def test_the_command_center_shows_a_shadow_inside_its_live_bots_card(bot, shadow):
    now = timezone.now()
    ingest(
        shadow,
        "health",
        {"ts": (now - 2 * MINUTE).isoformat(), "kind": "heartbeat", "running_release": "v1.4.0"},
    )
    trade(shadow, "s1", now - MINUTE, "3")
    client = Client()
    log_in_as(client, "vera", OPERATOR)

    page = client.get(reverse("admin:index")).content.decode()

    assert 'id="bot-alpha"' in page and 'id="bot-alpha-shadow"' not in page
    assert "1 active bot " in page
    card = page.split('id="bot-alpha"')[1].split("</section>")[0]
    line = card.split('data-shadow="alpha-shadow"')[1].split("</dd>")[0]
    assert ">alpha-shadow</a>" in line
    assert "runs <a" in line and ">v1.4.0</a>" in line
    assert "heartbeat 2\xa0minutes ago" in line
    assert "1 close today" in line
    assert "checklist" in card and "alpha-shadow" not in page.split("cc-grid")[0]


def test_the_command_center_reads_shadows_in_as_many_queries_as_none(bot, live, people):
    now = timezone.now()
    bots = [bot]
    for n in range(3):
        other, _ = create_bot(slug=f"bot-{n}")
        bots.append(other)
    with CaptureQueriesContext(connection) as without:
        command_center(now)
    for live_bot in bots:
        shadow, _ = create_bot(slug=f"{live_bot.slug}-shadow", shadow_of=live_bot)
        trade(shadow, f"{shadow.slug}-t", now - MINUTE, "1")
    with CaptureQueriesContext(connection) as with_shadows:
        cards = command_center(now)

    assert len(cards) == 4 and all(card.shadow for card in cards)
    assert all(card.shadow.closes_today == 1 for card in cards)
    assert len(with_shadows) == len(without)


# -- the demo -----------------------------------------------------------------------------------


def test_the_demo_shadow_has_twins_of_the_live_entries_with_correlated_pnl_and_singles():
    from demo.history import EXPERIMENT_A_DAYS, build_history, build_shadow_history

    end = datetime.date(2026, 11, 1)
    live = build_history(end)
    shadow = build_shadow_history(live, end)
    by_id = {t["external_id"]: t for t in live.trades}
    twins = [t for t in shadow.trades if t["external_id"].removeprefix("S-") in by_id]
    singles = [t for t in shadow.trades if t not in twins]
    pairs = [(by_id[t["external_id"].removeprefix("S-")], t) for t in twins]

    assert shadow == build_shadow_history(live, end)  # deterministic
    assert {t["release"] for t in shadow.trades} == {"v1.4.0"}  # the live bot's baseline tag
    assert len(twins) > 3 * len(singles) > 0
    assert len(twins) >= 25 * EXPERIMENT_A_DAYS
    for mine, theirs in pairs:
        gap = abs(
            datetime.datetime.fromisoformat(mine["opened_at"])
            - datetime.datetime.fromisoformat(theirs["opened_at"])
        )
        assert (mine["symbol"], mine["side"]) == (theirs["symbol"], theirs["side"])
        assert gap <= datetime.timedelta(minutes=2)
    xs = [float(a["net_pnl"]) for a, _ in pairs]
    ys = [float(b["net_pnl"]) for _, b in pairs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    var = (sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys)) ** 0.5
    assert cov / var > 0.8


def test_a_shadow_has_no_release_of_its_own(bot, shadow, people):
    """Found by a hostile review: a Team lead drafted, approved and made baseline a release of
    the shadow's, which then ran it while Experiment A needed it on the baseline."""
    with pytest.raises(ValidationError, match="is a shadow: it runs alpha's releases"):
        create_release(
            based_on=None,
            bot=shadow,
            changes={"fib_proximity_bps": 40},
            tag="own",
            by=people["lead"],
        )
    lead = Client()
    lead.force_login(people["lead"])
    add = lead.post(
        reverse("admin:tradeops_configrelease_add"),
        {"first_release_of": shadow.pk, "changes": '{"fib_proximity_bps": 40}', "tag": "own"},
    )
    assert add.status_code == 200 and not ConfigRelease.objects.filter(bot=shadow).exists()
    # One written around the services is not made its baseline either.
    own = ConfigRelease.objects.create(
        bot=shadow, version=1, tag="own", params={}, created_by=people["lead"]
    )
    with pytest.raises(ValidationError, match="is a shadow: it runs alpha's baseline"):
        services.make_baseline(own, by=people["lead"], note="try")
