"""A release as a freqtrade strategy parameter file: GET /api/v1/config?format=freqtrade (with
its own ETag and 304) and the releases' admin action; and the every-minute sync job."""

import datetime
import json

import pytest
from django.db import connection
from django.urls import reverse

from experiments.releases import create_release
from experiments.releases.freqtrade import parameter_file
from experiments.services import make_baseline
from ingestion.freqtrade import configure_source
from ingestion.jobs import sync_freqtrade_sources
from ingestion.models import FreqtradeSource
from tests.factories import FREQTRADE_DATABASE, candidate
from tradeops.models import ConfigRelease, JobRun, ParamSpec, Trade
from tradeops.services import create_bot

URL = "/api/v1/config"
LIVE = datetime.datetime(2026, 11, 20, 9, 30, tzinfo=datetime.UTC)
# The strategy declares its parameters in these spaces (freqtrade allows its own, like "risk").
SPACES = {
    "fib_proximity_bps": "buy",
    "entry_zone_tolerance_pct": "buy",
    "side_balance_pressure": "buy",
    "risk_per_trade_pct": "risk",
}


def pull(client, token, etag=None, format="freqtrade"):
    headers = {"Authorization": f"Bearer {token}"}
    if etag:
        headers["If-None-Match"] = etag
    return client.get(URL, {"format": format} if format else {}, headers=headers)


@pytest.fixture
def live(baseline, people):
    return make_baseline(baseline, by=people["lead"], note="Phase 1 winner", now=LIVE)


@pytest.fixture
def source(bot):
    source = configure_source(bot, f"sqlite:///{FREQTRADE_DATABASE}", now=LIVE)
    source.strategy_name = "FibZoneStrategy"
    source.param_spaces = SPACES
    source.save()
    return source


def test_the_current_release_as_freqtrades_parameter_file(client, bot_and_token, live, source):
    response = pull(client, bot_and_token[1])

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="FibZoneStrategy.json"'
    assert response.json() == {
        "strategy_name": "FibZoneStrategy",
        # Decimals as numbers, as freqtrade's parameters are.
        "params": {
            "buy": {
                "entry_zone_tolerance_pct": 0.35,
                "fib_proximity_bps": 18,
                "side_balance_pressure": 0.0,
            },
            "risk": {"risk_per_trade_pct": 0.5},
        },
        "ft_stratparam_v": 1,
        "export_time": live.approved_at.isoformat(),
        "tradeops": {
            "bot": "alpha",
            "release": "v1.4.0",
            "version": 1,
            "git_commit": "",
            # The bot's trading mode, which the deploy script applies (docs/freqtrade.md).
            "trading": "trade",
            "trading_version": 0,
            "trading_since": None,
            "trading_why": None,
        },
    }


@pytest.mark.django_db
def test_freqtrades_own_spaces_and_its_naming_rule(bot, source):
    for key, value_type in [("stoploss", "decimal"), ("buy_rsi", "int"), ("exit_rsi", "int")]:
        ParamSpec.objects.create(key=key, category="strategy", value_type=value_type)
    release = ConfigRelease(
        bot=bot,
        version=7,
        tag="v7",
        approved_at=LIVE,
        params={
            "stoploss": "-0.05",
            "minimal_roi": {"0": 0.04, "30": 0.01},
            "trailing_stop": True,
            "trailing_stop_positive": 0.01,
            "max_open_trades": 3,
            "buy_rsi": 30,
            "exit_rsi": 70,
        },
    )

    assert parameter_file(release, source)["params"] == {
        "stoploss": {"stoploss": -0.05},
        "roi": {"0": 0.04, "30": 0.01},
        "trailing": {"trailing_stop": True, "trailing_stop_positive": 0.01},
        "max_open_trades": {"max_open_trades": 3},
        "buy": {"buy_rsi": 30},
        "exit": {"exit_rsi": 70},
    }


def test_its_etag_is_its_own_and_follows_what_shapes_the_file(client, bot_and_token, live, source):
    token = bot_and_token[1]
    plain = pull(client, token, format=None)["ETag"]
    first = pull(client, token)
    etag = first["ETag"]
    assert etag != plain
    assert pull(client, token, etag).status_code == 304
    # The plain config's ETag is not the file's: the file is served.
    assert pull(client, token, plain).status_code == 200
    # Another space for a param is another file.
    source.param_spaces = {**SPACES, "entry_zone_tolerance_pct": "sell"}
    source.save()
    changed = pull(client, token, etag)
    assert changed.status_code == 200
    assert changed.json()["params"]["sell"] == {"entry_zone_tolerance_pct": 0.35}


def test_a_new_current_release_is_the_next_file(client, bot_and_token, live, source, people):
    etag = pull(client, bot_and_token[1])["ETag"]
    make_baseline(candidate(live, people, fib_proximity_bps=24), by=people["lead"], note="A won")

    response = pull(client, bot_and_token[1], etag)

    assert response.status_code == 200
    assert response.json()["params"]["buy"]["fib_proximity_bps"] == 24


def test_a_param_without_a_known_space_refuses_the_file_naming_it(
    client, bot_and_token, live, source
):
    source.param_spaces = {
        key: space for key, space in SPACES.items() if key != "risk_per_trade_pct"
    }
    source.save()

    response = pull(client, bot_and_token[1])

    assert response.status_code == 409
    assert "no freqtrade space known for risk_per_trade_pct" in response.json()["error"]


def test_no_strategy_name_or_no_source_refuses_and_a_bad_format_is_400(client, bot_and_token, live):
    assert "strategy name" in pull(client, bot_and_token[1]).json()["error"]
    assert pull(client, bot_and_token[1], format="yaml").status_code == 400
    # Also with the current ETag: an unknown format is refused, never "not modified".
    current = pull(client, bot_and_token[1], format=None)["ETag"]
    assert pull(client, bot_and_token[1], current, format="yaml").status_code == 400


def test_the_admin_action_downloads_an_approved_release(client, live, source, people):
    url = reverse("admin:tradeops_configrelease_changelist")
    action = {"action": "export_freqtrade", "_selected_action": [live.pk]}

    client.force_login(people["operator"])
    response = client.post(url, action)

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="FibZoneStrategy.json"'
    assert json.loads(response.content)["tradeops"]["release"] == "v1.4.0"


def test_the_admin_action_refuses_a_draft(client, live, source, people):
    draft = create_release(
        based_on=live, changes={"fib_proximity_bps": 20}, tag="v1.5.0", by=people["operator"]
    )
    url = reverse("admin:tradeops_configrelease_changelist")
    action = {"action": "export_freqtrade", "_selected_action": [draft.pk]}

    client.force_login(people["operator"])
    response = client.post(url, action, follow=True)

    assert "is not approved" in response.content.decode()


@pytest.mark.django_db
def test_the_job_syncs_every_enabled_source_each_in_a_run_of_its_own(bot, tmp_path, settings):
    settings.REDIS_URL = ""  # the embedded mode: each source's job runs right here
    configure_source(bot, f"sqlite:///{FREQTRADE_DATABASE}", now=LIVE)
    broken, _ = create_bot(slug="broken", name="Broken")
    configure_source(broken, f"sqlite:///{tmp_path}/gone.sqlite", now=LIVE)
    paused, _ = create_bot(slug="paused", name="Paused")
    configure_source(paused, f"sqlite:///{FREQTRADE_DATABASE}", now=LIVE, enabled=False)

    sync_freqtrade_sources()

    assert Trade.objects.filter(bot=bot).count() == 11
    assert not Trade.objects.filter(bot=paused).exists()
    runs = JobRun.objects.filter(name="ingestion.sync_freqtrade")
    by_source = {run.key.rpartition(":")[2]: run for run in runs if run.detail.get("units") is None}
    good, bad = (str(FreqtradeSource.objects.get(bot=b).pk) for b in (bot, broken))
    assert set(by_source) == {good, bad}  # the run itself, and one per enabled source
    assert by_source[good].outcome == JobRun.Outcome.SUCCEEDED
    assert by_source[bad].outcome == JobRun.Outcome.FAILED
    assert "no freqtrade database" in by_source[bad].error
    (fan_out,) = [run for run in runs if run.detail.get("units") is not None]
    assert fan_out.outcome == JobRun.Outcome.SUCCEEDED
    assert sorted(fan_out.detail["units"]) == sorted([good, bad])


def test_a_team_lead_sets_up_a_source_in_the_admin_and_others_see_no_password(
    client, bot, people, freqtrade_url
):
    client.force_login(people["lead"])
    # The form opens the database it is given; the test server trusts any password.
    secret_url = freqtrade_url.replace("://postgres@", "://postgres:hunter2@")
    response = client.post(
        reverse("admin:ingestion_freqtradesource_add"),
        {
            "bot": bot.pk,
            "db_url": secret_url,
            "enabled": "on",
            "strategy_name": "FibZoneStrategy",
            "param_spaces": json.dumps(SPACES),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    source = FreqtradeSource.objects.get(bot=bot)
    assert (source.db_url, source.param_spaces) == (secret_url, SPACES)
    bot.refresh_from_db()
    assert "stoploss_on_exchange" in bot.known_exit_reasons

    client.force_login(people["operator"])
    page = client.get(reverse("admin:ingestion_freqtradesource_change", args=[bot.pk]))
    listing = client.get(reverse("admin:ingestion_freqtradesource_changelist"))
    for shown in (page, listing):
        assert shown.status_code == 200
        assert "hunter2" not in shown.content.decode()
        assert "postgresql://postgres@127.0.0.1:5432/" in shown.content.decode()


@pytest.mark.parametrize(
    "db_url, refusal",
    [
        ("mysql://x/y", "unsupported freqtrade database"),
        ("sqlite:////no/such/tradesv3.sqlite", "no freqtrade database at"),
        # Said as a missing file or an unreachable server are: the form probes nothing.
        ("a text file", "no freqtrade database at"),
        ("TradeOps' own database", "could not read a freqtrade database at"),  # no such tables
    ],
)
def test_a_url_that_is_no_freqtrade_database_is_refused_on_the_form(
    client, bot, people, db_url, refusal, tmp_path
):
    own = connection.settings_dict
    if db_url == "a text file":
        (tmp_path / "notes.txt").write_text("not a database")
        db_url = f"sqlite:///{tmp_path / 'notes.txt'}"
    elif db_url == "TradeOps' own database":
        db_url = f"postgresql://{own['USER']}@{own['HOST']}:{own['PORT']}/{own['NAME']}"
    client.force_login(people["lead"])
    response = client.post(
        reverse("admin:ingestion_freqtradesource_add"),
        {"bot": bot.pk, "db_url": db_url, "enabled": "on", "param_spaces": "{}"},
    )
    assert response.status_code == 200
    assert refusal in response.content.decode()
    assert not FreqtradeSource.objects.exists()


def test_sync_now_is_for_who_may_change_the_source(client, bot, people):
    configure_source(bot, f"sqlite:///{FREQTRADE_DATABASE}", now=LIVE)
    url = reverse("admin:ingestion_freqtradesource_changelist")
    action = {"action": "sync_now", "_selected_action": [bot.pk]}

    client.force_login(people["operator"])
    client.post(url, action)
    assert not Trade.objects.exists()

    client.force_login(people["lead"])
    response = client.post(url, action, follow=True)
    assert Trade.objects.filter(bot=bot).count() == 11
    said = [str(message) for message in response.context["messages"]]
    assert said == [f"{bot}: trades: 11 accepted"]  # in words, not a dict
    listed = client.get(url).content.decode()
    assert "trades: 11 accepted" in listed
