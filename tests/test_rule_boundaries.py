"""The plan's rules on their boundaries, both sides (issue 25, section 4): each test here was
written against a mutation that survived the suite before it (a `<` made `<=`, a streak that a
good day no longer resets, the cadence's copy of the unknown-exit alarm, the P&L tolerance
widened a thousandfold). scripts/mutation_pass.py applies those mutations and the rest again."""

import datetime
import functools
from decimal import Decimal

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cadence.selectors import unknown_exits
from experiments.models import Experiment
from experiments.rules import check_can_scale, check_one_change
from experiments.scaling import (
    approve_scaling_step,
    complete_scaling_step,
    propose_scaling_step,
    scaling_readiness,
)
from experiments.services import make_baseline
from experiments.triggers import (
    avg_loss_deterioration,
    consecutive_daily_losses,
    evaluate_live_changes,
    evaluate_rollback_triggers,
)
from experiments.verdicts import shadow_verdict
from ingestion.fastpath import clean_trade
from ingestion.records import latest_allowed_timestamp, validate_record
from ingestion.stored import malformed_stored_trades
from integrity.checks import unknown_exit_rate
from integrity.loop import watch_bot_loop
from integrity.models import IntegrityIncident
from integrity.services import open_or_bump_incident, resolve_incident
from tests.factories import (
    candidate,
    closed_trade,
    draft,
    ingest,
    midnight,
    run_through,
    trade,
    two_weeks,
)
from tradeops.models import ConfigRelease, EquitySnapshot, IngestBatch, IngestKind, Trade
from tradeops.services import create_bot

HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def running(baseline, people):
    """An experiment running since 3 days ago; the baseline lost 10 a losing trade before."""
    for n in range(4):
        trade(baseline.bot, f"base-{n}", midnight(10) + datetime.timedelta(hours=n), -10,
              release=baseline)  # fmt: skip
    return run_through(draft(baseline, people), people, now=midnight(3))


def equity(bot, *values):
    """Equity at the midnights of 3, 2, 1 days ago and today."""
    for days_ago, value in zip((3, 2, 1, 0), values, strict=False):
        EquitySnapshot.objects.create(bot=bot, ts=midnight(days_ago), equity=Decimal(value))


# -- the -3% daily loss trigger -----------------------------------------------------------


@pytest.mark.parametrize(
    "values, fires",
    [
        (("10000", "9700", "9409"), False),  # exactly -3.0%, twice: not worse than -3%
        (("10000", "9699.99", "9408.98"), True),  # -3.0001%, -3.00008%: worse, twice
    ],
    ids=["exactly -3.0% twice", "a hair worse twice"],
)
def test_the_daily_loss_trigger_is_strictly_worse_than_minus_3_percent(running, values, fires):
    equity(running.bot, *values)
    now = timezone.now()
    assert (consecutive_daily_losses(running, now) is not None) is fires


@pytest.mark.parametrize(
    "values, fires",
    [
        (("10000", "9690", "9786.90", "9483.5061"), False),  # bad, good, bad: no two in a row
        (("10000", "10100", "9786.90", "9483.5061"), True),  # good, bad, bad
    ],
    ids=["bad good bad", "good bad bad"],
)
def test_a_good_day_resets_the_daily_loss_streak(running, values, fires):
    equity(running.bot, *values)
    fired = consecutive_daily_losses(running, timezone.now())
    assert (fired is not None) is fires
    if fires:
        assert [d["change_pct"] for d in fired["days"]] == [-3.1, -3.1]


# -- average loss deterioration -----------------------------------------------------------


@pytest.mark.parametrize(
    "loss, fires",
    [("-14", False), ("-14.01", True)],  # exactly 40% worse than -10; a hair more
)
def test_avg_loss_fires_only_above_40_percent_worse(running, loss, fires):
    for n in range(3):
        trade(running.bot, f"test-{n}", midnight(1) + datetime.timedelta(hours=n), loss,
              release=running.candidate_release)  # fmt: skip
    assert (avg_loss_deterioration(running, timezone.now()) is not None) is fires
    assert bool(evaluate_rollback_triggers(running)) is fires


# -- the unknown-exit alarm (one rule: Bot.unknown_exits_alarm) -----------------------------


@pytest.mark.parametrize("unknown, fires", [(2, False), (3, True)])
def test_the_unknown_exit_alarm_is_above_2_of_100(bot, unknown, fires):
    bot.known_exit_reasons = ["take_profit"]
    assert bot.unknown_exit_alert_share == Decimal("0.02")
    assert bot.unknown_exits_alarm(unknown, 100) is fires
    # The command center and the daily review (cadence)...
    reasons = {"take_profit": 100 - unknown, "weird": unknown - 1, "": 1}
    assert unknown_exits(bot, reasons).above_threshold is fires
    # ... and the integrity check, on the same closes stored.
    bot.save()
    now = timezone.now()
    for n in range(100):
        exit_reason = "take_profit" if n >= unknown else ("" if n == 0 else "weird")
        trade(bot, f"u{n}", now - datetime.timedelta(minutes=n + 1), "1", exit_reason=exit_reason)
    assert bool(unknown_exit_rate(bot, now, None)) is fires


def test_no_closes_is_no_alarm(bot):
    assert not bot.unknown_exits_alarm(0, 0)
    assert not unknown_exits(bot, {}).above_threshold


# -- the net P&L tolerance (one rule: ingestion.records.pnl_adds_up) ------------------------

PNL_CASES = [
    # gross 100 - fees 5.5 - funding 0.25 = 94.25; the absolute tolerance is 0.000001.
    ({"net_pnl": "94.250001"}, True),
    ({"net_pnl": "94.2500011"}, False),
    ({"net_pnl": "94.249999"}, True),
    ({"net_pnl": "94.2499989"}, False),
    # Large figures: 1e-12 of the largest part (2 at 2e12) is the tolerance.
    (
        {"gross_pnl": "2000000000000", "fees": "0", "funding": "0", "net_pnl": "1999999999998"},
        True,
    ),  # fmt: skip
    (
        {
            "gross_pnl": "2000000000000",
            "fees": "0",
            "funding": "0",
            "net_pnl": "1999999999997.999999",
        },
        False,
    ),  # fmt: skip
]


@pytest.mark.parametrize("changes, adds_up", PNL_CASES)
def test_the_pnl_tolerance_on_both_sides_in_every_path(changes, adds_up):
    record = closed_trade(**changes)
    latest = latest_allowed_timestamp()
    _, errors = validate_record(IngestKind.TRADES, record, latest)
    assert ("net_pnl" not in errors) is adds_up
    # The fast path takes what adds up and declines the rest (validate_record words the error).
    assert (clean_trade(record, latest) is not None) is adds_up


@pytest.mark.parametrize("changes, adds_up", PNL_CASES)
def test_the_stored_trade_scan_agrees_on_the_pnl_boundary(bot, changes, adds_up):
    # The scan's SQL reads only rows whose gap exceeds the absolute tolerance; a widened
    # tolerance in either place would leave a row the validator refuses unlisted.
    record = closed_trade(**changes)
    parts = {name: Decimal(record[name]) for name in ("gross_pnl", "fees", "funding")}
    now = timezone.now()
    trade(bot, "pnl", now - datetime.timedelta(hours=1), record["net_pnl"], **parts)
    listed = malformed_stored_trades(Trade.objects.filter(bot=bot), now)
    assert [(t.external_id, list(errors)) for t, errors in listed] == (
        [] if adds_up else [("pnl", ["net_pnl"])]
    )


# -- survivors of the mutation pass, killed on their boundary ----------------------------------


def test_the_avg_loss_window_counts_the_start_day(running):
    # Losses on the day the change started count: the window is every day since, inclusive.
    for n in range(3):
        trade(running.bot, f"first-day-{n}", running.started_at + datetime.timedelta(hours=n + 1),
              "-14.1", release=running.candidate_release)  # fmt: skip
    fired = avg_loss_deterioration(running, timezone.now())
    assert fired is not None and fired["losing_trades_window_days"] == 4


@pytest.mark.parametrize("ahead, accepted", [(4.5, True), (5.5, False)])
def test_a_trade_may_be_stamped_up_to_5_minutes_ahead(bot, ahead, accepted):
    moment = (timezone.now() + datetime.timedelta(minutes=ahead)).isoformat()
    result = ingest(bot, "trades", closed_trade(closed_at=moment, opened_at=moment))
    assert (result.accepted, result.quarantined) == ((1, 0) if accepted else (0, 1))


def test_each_scaling_step_holds_7_days_to_the_microsecond(baseline, people):
    two_weeks(baseline)
    started = timezone.now()
    step = propose_scaling_step(
        bot=baseline.bot,
        param="risk_per_trade_pct",
        step_pct=10,
        tag="v1.4.1-risk",
        by=people["operator"],
        note="two good weeks",
        now=started,
    )
    approve_scaling_step(step, by=people["lead"], note="go", now=started)
    allowed = started + datetime.timedelta(days=7)
    complete_scaling_step(step, now=allowed)  # its hold over, on the services' clock
    with pytest.raises(ValidationError, match="each step holds 7 days"):
        check_can_scale(baseline.bot, allowed - datetime.timedelta(microseconds=1))
    check_can_scale(baseline.bot, allowed)


def test_a_candidate_that_changes_nothing_is_refused(baseline, people):
    same = candidate(baseline, people, tag="v1.4.0-same")
    with pytest.raises(ValidationError, match="exactly one strategy param must differ.*none"):
        check_one_change(baseline, same, "side_balance_pressure")


def _drop_closes(baseline, per_week):
    for week in (range(1, 8), range(8, 15)):
        for days_ago in list(week)[:per_week]:
            Trade.objects.filter(bot=baseline.bot, external_id=f"{days_ago}-0").delete()


@pytest.mark.parametrize("dropped, passed", [(1, True), (2, False)])  # 20 closes a week, 19
def test_a_week_needs_at_least_20_closes(baseline, dropped, passed):
    two_weeks(baseline)  # 21 closes a week
    _drop_closes(baseline, dropped)
    checks = scaling_readiness(baseline.bot)["checks"]
    closes = [c["passed"] for c in checks if "closes (at least 20)" in c["check"]]
    assert closes == [passed, passed]


@pytest.mark.parametrize("win, passed", [("12.3", True), ("12.29", False)])
def test_stable_is_at_least_80_percent_of_the_week_before(baseline, win, passed):
    # P&L/trade 9 the week before; 7.2 (exactly 80%) then a hair under.
    two_weeks(baseline, week_before=(15, -3), latest_week=(win, -3))
    (stable,) = [c for c in scaling_readiness(baseline.bot)["checks"] if "80%" in c["check"]]
    assert stable["passed"] is passed, stable["check"]


# -- survivors of the scripted pass (scripts/mutation_pass.py), killed on their boundary ----------


def test_the_one_change_is_a_strategy_lever_not_an_execution_param(baseline, people):
    with_order = candidate(baseline, people, tag="v1.4.1-limit", order_type="limit")
    market = candidate(with_order, people, tag="v1.4.2-market", order_type="market")
    with pytest.raises(ValidationError, match="order_type is not a strategy param"):
        check_one_change(with_order, market, "order_type")
    lever = candidate(with_order, people, tag="v1.4.2-pressure", side_balance_pressure="0.3")
    check_one_change(with_order, lever, "side_balance_pressure")


@pytest.mark.parametrize("step_pct, allowed", [(10, True), (20, True), ("9.99", False),
                                               ("20.01", False)])  # fmt: skip
def test_a_scaling_step_of_10_to_20_percent_both_ends_included(baseline, people, step_pct, allowed):
    two_weeks(baseline)
    propose = functools.partial(
        propose_scaling_step,
        bot=baseline.bot,
        param="risk_per_trade_pct",
        step_pct=Decimal(step_pct),
        tag="v1.4.1-risk",
        by=people["operator"],
        note="two good weeks",
    )
    if not allowed:
        with pytest.raises(ValidationError, match=r"\+10% to \+20%"):
            propose()
        return
    assert propose().step_pct == Decimal(step_pct)  # 0.5 to 0.55 or 0.6: exactly the step


def test_a_resolved_critical_incident_no_longer_blocks_scaling(baseline):
    two_weeks(baseline)
    incident = open_or_bump_incident(
        bot=baseline.bot,
        kind=IntegrityIncident.Kind.MALFORMED_STORED_TRADE,
        severity=IntegrityIncident.Severity.CRITICAL,
        title="Stored trades failing validation",
    )
    assert not scaling_readiness(baseline.bot)["passed"]
    resolve_incident(incident)
    assert scaling_readiness(baseline.bot)["passed"]


def test_a_change_on_a_shadow_is_not_watched_as_money(baseline, people):
    experiment = run_through(draft(baseline, people), people)
    shadow, _ = create_bot(slug="alpha-shadow", shadow_of=baseline.bot)
    # The services refuse a release or a change of a shadow's; these are rows written around them.
    own = [
        ConfigRelease.objects.create(
            bot=shadow, version=n, tag=f"own-{n}", params=release.params, created_by=people["lead"]
        )
        for n, release in enumerate((experiment.baseline_release, experiment.candidate_release))
    ]
    Experiment.objects.create(
        bot=shadow,
        name="on the shadow",
        lever=experiment.lever,
        success_criteria="none",
        baseline_release=own[0],
        candidate_release=own[1],
        status=Experiment.Status.RUNNING,
        started_at=experiment.started_at,
        triggers=experiment.triggers,
        created_by=people["operator"],
    )
    assert [change for change, _ in evaluate_live_changes(timezone.now())] == [experiment]


def test_a_bot_is_silent_only_past_its_limit(baseline, people):
    bot = baseline.bot
    make_baseline(baseline, by=people["lead"], note="current", now=timezone.now() - HOUR)
    ingest(bot, "equity", {"ts": timezone.now().isoformat(), "equity": "10000"})
    heard = IngestBatch.objects.filter(bot=bot).latest("received_at").received_at
    limit = bot.silent_after_minutes * datetime.timedelta(minutes=1)
    assert watch_bot_loop(heard + limit) == []
    ((_, finding),) = watch_bot_loop(heard + limit + datetime.timedelta(microseconds=1))
    assert finding.kind == IntegrityIncident.Kind.BOT_SILENT


DAY_SECONDS = 86400.0
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def arm(opened, net_pnl, symbols):
    """One arm of the verdict: long trades held 10 minutes."""
    opened = np.asarray(opened, float)
    return {
        "symbol": np.asarray(symbols, dtype=object),
        "side": np.array(["long"] * len(opened), dtype=object),
        "opened_at": opened,
        "closed_at": opened + 600,
        "net_pnl": np.resize(np.asarray(net_pnl, float), len(opened)),
    }


@pytest.mark.parametrize(
    "candidates, shadows, too_early", [(30, 30, False), (29, 30, True), (30, 29, True)]
)
def test_a_verdict_needs_30_trades_in_each_arm(candidates, shadows, too_early):
    # Twins over 3 whole days; the candidate makes 5 a trade more.
    opened = START + np.arange(30) * (3 * DAY_SECONDS / 30)
    cand = arm(opened[:candidates], [5.0, 5.1], ["BTC/USDT"] * candidates)
    shad = arm(opened[:shadows] + 20, [0.0, 0.1], ["BTC/USDT"] * shadows)
    result = shadow_verdict(cand, shad, start=START, now=START + 3 * DAY_SECONDS)
    assert (result["verdict"] == "too early") is too_early, result["wording"]


@pytest.mark.parametrize("twins, like_for_like", [(20, True), (19, False)])
def test_under_half_of_the_trades_paired_is_not_like_for_like(twins, like_for_like):
    # 40 trades an arm over 3 days: `twins` of them on BTC in both, the rest on a pair the other
    # arm does not trade. 20 twins are exactly half of the 80 trades.
    opened = START + np.arange(40) * (3 * DAY_SECONDS / 40)
    cand = arm(opened, [5.0, 5.1], ["BTC/USDT"] * twins + ["ETH/USDT"] * (40 - twins))
    shad = arm(opened + 20, [0.0, 0.1], ["BTC/USDT"] * twins + ["SOL/USDT"] * (40 - twins))
    result = shadow_verdict(cand, shad, start=START, now=START + 3 * DAY_SECONDS)
    assert result["pairing"]["twins"] == twins
    assert (result["finding"] != "not like for like") is like_for_like, result["wording"]
