"""Shared builders for the tests: records as a bot sends them, trades and decision counts as
stored, the decision framework's cast. Fixtures stay in conftest.py."""

import datetime
import json
from decimal import Decimal
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.utils import timezone

from experiments import services as experiment_services
from experiments.releases import approve_release, create_release
from ingestion.parsing import parse_json
from ingestion.services import ingest_records
from tradeops.models import ConfigRelease, DecisionCount, Trade

UTC = datetime.UTC
AS_OF = datetime.date(2026, 11, 10)


def at(day, hour=0, minute=0, second=0):
    return datetime.datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def earlier_today(now):
    """A moment of `now`'s UTC day before `now`, at any hour: a close "5 minutes ago" is
    yesterday's for the first 5 minutes after midnight."""
    start = datetime.datetime.combine(now.astimezone(UTC).date(), datetime.time(), tzinfo=UTC)
    return start + (now - start) / 2


def trade(bot, external_id, closed_at, net, side="short", exit_reason="take_profit", **extra):
    """A closed trade whose gross is its net (fees and funding 0) unless given."""
    values = {
        "gross_pnl": Decimal(net),
        "fees": Decimal(0),
        "funding": Decimal(0),
        "qty": Decimal(1),
        "entry_price": Decimal(100),
        "exit_price": Decimal(101),
    }
    values.update(extra)
    return Trade.objects.create(
        bot=bot,
        external_id=external_id,
        symbol="BTCUSDT",
        side=side,
        status="closed",
        opened_at=closed_at - datetime.timedelta(hours=1),
        closed_at=closed_at,
        net_pnl=Decimal(net),
        exit_reason=exit_reason,
        **values,
    )


def decisions(bot, day, **counts):
    for key, count in counts.items():
        outcome, _, reason = key.partition("__")
        DecisionCount.objects.create(
            bot=bot, day=datetime.date(2026, 11, day), outcome=outcome, reason=reason, count=count
        )


def midnight(days_ago):
    today = timezone.now().date()
    return datetime.datetime.combine(
        today - datetime.timedelta(days=days_ago), datetime.time(), tzinfo=UTC
    )


def two_weeks(release, week_before=(12, -4), latest_week=(12, -4)):
    """3 closes a day for 14 days: two wins and a loss of the given sizes."""
    win_before, loss_before = week_before
    win_latest, loss_latest = latest_week
    for days_ago in range(1, 15):
        win, loss = (win_latest, loss_latest) if days_ago <= 7 else (win_before, loss_before)
        for n, net in enumerate((win, win, loss)):
            closed_at = midnight(days_ago) + datetime.timedelta(hours=2 + n)
            trade(release.bot, f"{days_ago}-{n}", closed_at, net, release=release)


# -- records as a bot sends them ---------------------------------------------------------


def closed_trade(**overrides):
    """A well-formed closed short trade; override fields to break one rule at a time."""
    record = {
        "external_id": "T-1",
        "symbol": "BTCUSDT",
        "side": "short",
        "status": "closed",
        "opened_at": "2026-11-02T10:00:00Z",
        "closed_at": "2026-11-02T12:30:00+00:00",
        "qty": "0.5",
        "entry_price": "50000",
        "exit_price": "49800",
        "leverage": "5",
        "gross_pnl": "100",
        "fees": "5.5",
        "funding": "0.25",
        "net_pnl": "94.25",
        "exit_reason": "take_profit",
        "release": "v1.4.0",
        "est_fees": "5",
        "est_funding": "0.2",
        "est_slippage_bps": "1.5",
    }
    record.update(overrides)
    return {key: value for key, value in record.items() if value is not None}


def open_trade(**overrides):
    record = closed_trade(**overrides)
    for key in ("closed_at", "exit_price", "gross_pnl", "fees", "funding", "net_pnl"):
        record.pop(key, None)
    record["status"] = "open"
    record["exit_reason"] = ""
    return record


def ingest(bot, kind, *records, source="test"):
    """Ingest Python records through the real parser (as a JSON array) and service."""
    return ingest_records(bot, kind, parse_json(json.dumps(list(records))), source=source)


def log_in_as(client, username, role):
    """A staff user in the role's group (Team lead, Operator, Viewer), logged in on `client`."""
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


# -- the decision framework's cast and baseline ---------------------------------------------

PARAMS = {
    "fib_proximity_bps": 18,
    "entry_zone_tolerance_pct": "0.35",
    "side_balance_pressure": "0",
    "risk_per_trade_pct": "0.5",
}


def candidate(baseline, people, tag="v1.5.0", **changes):
    release = create_release(based_on=baseline, changes=changes, tag=tag, by=people["operator"])
    return approve_release(release, by=people["lead"])


def draft(baseline, people, lever="side_balance_pressure", **changes):
    changes = changes or {"side_balance_pressure": "0.3"}
    return experiment_services.create_experiment(
        bot=baseline.bot,
        name=f"A {lever}",
        lever=lever,
        candidate=candidate(baseline, people, tag=f"c-{ConfigRelease.objects.count()}", **changes),
        success_criteria="short share below 65%, expectancy and drawdown not worse",
        by=people["operator"],
    )


def run_through(experiment, people, until="start", now=None):
    """Submit, approve and start `experiment` (up to `until`), each at `now` (now if not given):
    an experiment started days ago is built on the services' clock, not back-dated."""
    experiment_services.submit(experiment, by=people["operator"], note="ready", now=now)
    if until == "submit":
        return experiment
    experiment_services.approve(experiment, by=people["lead"], note="go", now=now)
    if until == "approve":
        return experiment
    return experiment_services.start(experiment, by=people["operator"], note="deployed", now=now)


# -- admin forms -------------------------------------------------------------------------------


def change_form_data(client, url):
    """What the change form would post back unchanged, its inlines' forms included."""
    page = client.get(url)
    inlines = [inline.formset for inline in page.context["inline_admin_formsets"]]
    data = {}
    for form in [page.context["adminform"].form, *(f for fs in inlines for f in fs.forms)]:
        for name in form.fields:
            value = form[name].value()
            if value is True:
                data[form.add_prefix(name)] = "on"  # a ticked checkbox, as a browser sends it
            elif value not in (None, False):
                data[form.add_prefix(name)] = value
    for formset in inlines:
        management = formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
    return data


# -- freqtrade: a database freqtrade wrote, and its own figures (scripts/make_freqtrade_fixture.py)

FREQTRADE_FIXTURES = Path(__file__).parent / "fixtures" / "freqtrade"
FREQTRADE_DATABASE = FREQTRADE_FIXTURES / "tradesv3.sqlite"
FREQTRADE_FIGURES = json.loads((FREQTRADE_FIXTURES / "freqtrade_figures.json").read_text())
FREQTRADE_NOW = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
