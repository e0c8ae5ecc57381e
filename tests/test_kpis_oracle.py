"""Every KPI against values worked out by hand (in the comments), not by the code under test.

Window: 3 days to 2026-11-10, i.e. [2026-11-07 00:00, 2026-11-10 00:00) UTC.
"""

from decimal import Decimal

import pytest

from kpis.services import compute_kpis
from tests.factories import AS_OF, at, decisions, ingest, trade
from tradeops.models import ConfigRelease, EquitySnapshot, Trade


@pytest.fixture
def dataset(bot):
    bot.known_exit_reasons = ["take_profit", "stop_loss"]
    bot.starting_equity = Decimal(1000)
    bot.save()
    trade(bot, "before", at(6, 23, 59, 59), 500)  # before the window: only moves start equity
    trade(bot, "t1", at(7), 100, side="long")  # exactly at the start: in
    trade(bot, "t2", at(7, 12), -50, exit_reason="stop_loss")
    trade(bot, "t3", at(8, 9), 30, exit_reason="")  # empty exit reason: unknown
    trade(bot, "t4", at(9, 23, 59, 59), -20, exit_reason="mystery")  # not in vocabulary: unknown
    trade(bot, "at-end", at(10), 1000)  # exactly at the end: out
    Trade.objects.create(
        bot=bot,
        external_id="open",
        symbol="BTCUSDT",
        side="long",
        status="open",
        opened_at=at(8),
        qty=1,
        entry_price=100,
    )
    decisions(bot, 6, no_signal=500)  # outside
    decisions(bot, 7, no_signal=80, signal=5, rejected__spread=10, rejected__cooldown=3)
    decisions(bot, 8, no_signal=40, rejected__spread=5, rejected__risk_cap=4, rejected__low_vol=4)
    decisions(bot, 10, no_signal=999)  # outside
    return bot


def test_every_kpi_on_the_hand_built_window(dataset):
    figures = compute_kpis(dataset, 3, AS_OF).figures

    assert figures["trades"] == 4  # t1..t4
    assert figures["trades_per_day"] == 1.333333  # 4 / 3
    assert figures["net_pnl"] == "60.00000000"  # 100 - 50 + 30 - 20
    assert figures["net_pnl_per_day"] == "20.00000000"  # 60 / 3
    assert figures["avg_pnl_per_trade"] == "15.00000000"  # 60 / 4
    assert figures["win_rate"] == 0.5  # 2 of 4
    assert figures["profit_factor"] == 1.857143  # 130 / 70
    assert figures["avg_loss_per_trade"] == "-35.00000000"  # (-50 - 20) / 2
    # Curve from 1000 + 500 (earlier close) = 1500: 1600, 1550, 1580, 1560 -> 1600 to 1550.
    assert figures["max_drawdown_abs"] == "50.00000000"
    assert figures["max_drawdown_pct"] == 0.03125  # 50 / 1600
    assert figures["drawdown_source"] == "trades"
    assert figures["no_signal_pct"] == 0.794702  # 120 / 151
    assert figures["top_rejection_reasons"] == [
        {"reason": "spread", "count": 15, "share": 0.576923},  # 15 / 26
        {"reason": "low_vol", "count": 4, "share": 0.153846},  # tie with risk_cap: by name
        {"reason": "risk_cap", "count": 4, "share": 0.153846},
    ]
    assert figures["unknown_exit_pct"] == 0.5  # t3 (empty) and t4 (mystery)
    assert figures["side_mix"] == {"long": 0.25, "short": 0.75}


def test_the_daily_series_of_the_hand_built_window(dataset):
    daily = compute_kpis(dataset, 3, AS_OF).daily

    none_rejected = {"cooldown": 0, "low_vol": 0, "risk_cap": 0, "spread": 0}
    assert daily == [
        {
            "day": "2026-11-07",
            "trades": 2,  # t1, t2
            "net_pnl": "50.00000000",
            "win_rate": 0.5,
            "long_share": 0.5,
            "no_signal_pct": 0.816327,  # 80 / 98
            "rejections": none_rejected | {"spread": 10, "cooldown": 3},
            "equity": "1550.00000000",  # 1500 at the start + 50
        },
        {
            "day": "2026-11-08",
            "trades": 1,
            "net_pnl": "30.00000000",
            "win_rate": 1.0,
            "long_share": 0.0,
            "no_signal_pct": 0.754717,  # 40 / 53
            "rejections": none_rejected | {"spread": 5, "risk_cap": 4, "low_vol": 4},
            "equity": "1580.00000000",
        },
        {
            "day": "2026-11-09",
            "trades": 1,
            "net_pnl": "-20.00000000",
            "win_rate": 0.0,
            "long_share": 0.0,
            "no_signal_pct": None,  # no decisions that day
            "rejections": none_rejected,
            "equity": "1560.00000000",
        },
    ]


def test_drawdown_from_equity_snapshots_when_present(dataset):
    for ts, equity in [
        (at(6, 23), 99999),  # before the window
        (at(7), 10000),
        (at(7, 12), 10200),
        (at(8), 9690),
        (at(9), 9800),
        (at(10), 5000),  # at the end: out
    ]:
        EquitySnapshot.objects.create(bot=dataset, ts=ts, equity=equity)

    figures = compute_kpis(dataset, 3, AS_OF).figures

    assert figures["drawdown_source"] == "equity_snapshots"
    assert figures["max_drawdown_abs"] == "510.00000000"  # 10200 -> 9690
    assert figures["max_drawdown_pct"] == 0.05  # 510 / 10200


def test_drawdown_without_a_known_account_size_has_no_percentage(dataset):
    dataset.starting_equity = None
    dataset.save()
    figures = compute_kpis(dataset, 3, AS_OF).figures
    assert figures["max_drawdown_abs"] == "50.00000000"  # 0, 100, 50, 80, 60
    assert figures["max_drawdown_pct"] is None


def test_empty_window_is_a_well_formed_snapshot(bot):
    figures = compute_kpis(bot, 7, AS_OF).figures

    assert figures["trades"] == 0
    assert figures["trades_per_day"] == 0.0
    assert figures["net_pnl"] == figures["net_pnl_per_day"] == "0.00000000"
    for key in ("avg_pnl_per_trade", "win_rate", "profit_factor", "avg_loss_per_trade"):
        assert figures[key] is None, key
    assert figures["max_drawdown_abs"] == "0.00000000"
    assert figures["max_drawdown_pct"] is None
    assert figures["no_signal_pct"] is None
    assert figures["top_rejection_reasons"] == []
    assert figures["unknown_exit_pct"] is None
    assert figures["side_mix"] == {"long": None, "short": None}


def test_all_wins_give_an_infinite_profit_factor(bot):
    trade(bot, "w1", at(8), 10)
    trade(bot, "w2", at(9), 20)
    figures = compute_kpis(bot, 3, AS_OF).figures
    assert figures["profit_factor"] == "Infinity"
    assert figures["win_rate"] == 1.0
    assert figures["avg_loss_per_trade"] is None


def test_all_losses(bot):
    trade(bot, "l1", at(8), -10)
    trade(bot, "l2", at(9), -30)
    figures = compute_kpis(bot, 3, AS_OF).figures
    assert figures["profit_factor"] == 0.0  # 0 / 40
    assert figures["win_rate"] == 0.0
    assert figures["avg_loss_per_trade"] == "-20.00000000"
    assert figures["max_drawdown_abs"] == "40.00000000"  # 0 -> -10 -> -40


def test_one_trade_over_a_week(bot):
    trade(bot, "only", at(9, 8), "5.5")
    figures = compute_kpis(bot, 7, AS_OF).figures
    assert figures["trades"] == 1
    assert figures["trades_per_day"] == 0.142857  # 1 / 7
    assert figures["net_pnl_per_day"] == "0.78571429"  # 5.5 / 7, half-even at 8 places
    assert figures["avg_pnl_per_trade"] == "5.50000000"
    assert figures["profit_factor"] == "Infinity"


def test_cost_drift_realized_minus_estimated(bot):
    # Fees 2.0 vs 1.5 (+0.5); funding 0.3 vs 0.5 (-0.2); slippage: estimated 10 bps of
    # 1 x (100 + 110) = 0.21, realized: bought 100.05 vs 100 (0.05) + sold 109.9 vs 110 (0.1).
    trade(
        bot,
        "c1",
        at(8),
        "7.7",
        gross_pnl=Decimal("10"),
        fees=Decimal("2.0"),
        funding=Decimal("0.3"),
        exit_price=Decimal(110),
        est_fees=Decimal("1.5"),
        est_funding=Decimal("0.5"),
        est_slippage_bps=Decimal(10),
    )
    fill = {
        "trade_external_id": "c1",
        "ts": "2026-11-08T00:00:00Z",
        "qty": "1",
        "fee": "1",
        "liquidity": "taker",
    }
    result = ingest(
        bot,
        "fills",
        {**fill, "external_id": "c1-in", "side": "buy", "price": "100.05", "expected_price": "100"},
        {
            **fill,
            "external_id": "c1-out",
            "side": "sell",
            "price": "109.9",
            "expected_price": "110",
        },
    )
    assert result.accepted == 2
    # Fees 1.0 vs 1.2 (-0.2); funding 0 vs 0; no slippage estimate: not in the slippage drift.
    trade(
        bot,
        "c2",
        at(9),
        "-1",
        gross_pnl=Decimal(0),
        fees=Decimal(1),
        est_fees=Decimal("1.2"),
        est_funding=Decimal(0),
    )

    drift = compute_kpis(bot, 3, AS_OF).figures["cost_drift"]

    assert drift["fees"] == {"trades": 2, "sum": "0.30000000", "mae": "0.35000000"}
    assert drift["funding"] == {"trades": 2, "sum": "-0.20000000", "mae": "0.10000000"}
    # 0.15 realized - 0.21 estimated
    assert drift["slippage"] == {"trades": 1, "sum": "-0.06000000", "mae": "0.06000000"}


def test_release_filter_counts_only_that_releases_trades(bot):
    old = ConfigRelease.objects.create(bot=bot, version=1, tag="old")
    new = ConfigRelease.objects.create(bot=bot, version=2, tag="new")
    trade(bot, "a", at(8), 10, release=old)
    trade(bot, "b", at(8), 20, release=new)
    trade(bot, "c", at(9), -5, release=new)

    figures = compute_kpis(bot, 3, AS_OF, release=new).figures

    assert figures["trades"] == 2
    assert figures["net_pnl"] == "15.00000000"


def test_daily_series_covers_every_day_of_the_window(dataset):
    daily = compute_kpis(dataset, 3, AS_OF).daily
    assert [d["day"] for d in daily] == ["2026-11-07", "2026-11-08", "2026-11-09"]
    assert [d["trades"] for d in daily] == [2, 1, 1]
    assert [d["net_pnl"] for d in daily] == ["50.00000000", "30.00000000", "-20.00000000"]
    assert [d["equity"] for d in daily] == ["1550.00000000", "1580.00000000", "1560.00000000"]
    assert daily[0]["no_signal_pct"] == 0.816327  # 80 / 98
    assert daily[1]["rejections"] == {"cooldown": 0, "low_vol": 4, "risk_cap": 4, "spread": 5}
