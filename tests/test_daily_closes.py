"""The daily rollup of closes PostgreSQL keeps (DailyCloses): every write of a trade, by any path,
leaves it equal to the closes aggregated row by row, so a KPI window reads it instead of its
closes; and the trade-curve drawdown the database walks is the KPI formula's."""

import datetime
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kpis import calculations as calc
from kpis import queries
from kpis.services import compute_kpis
from tests.factories import closed_trade, ingest, open_trade, trade
from tradeops.models import ConfigRelease, EquitySnapshot, Fill, Trade

AS_OF = datetime.date(2026, 11, 5)
DAY = datetime.datetime(2026, 11, 2, tzinfo=datetime.UTC)


@pytest.fixture
def released(bot):
    bot.known_exit_reasons = ["take_profit", "stop_loss"]
    bot.save()
    ConfigRelease.objects.create(bot=bot, version=1, tag="v1.4.0")
    ConfigRelease.objects.create(bot=bot, version=2, tag="v1.5.0")
    return bot


def windows(bot):
    return [
        queries.Window(bot=bot, days=days, as_of=AS_OF, release=release)
        for days in (1, 3, 30)
        for release in (None, *ConfigRelease.objects.filter(bot=bot))
    ]


def assert_rollup_is_the_closes(bot):
    for window in windows(bot):
        assert queries.daily_trade_rollup(window) == queries.closes_by_day(window), window


def close(external_id, hours, **overrides):
    moment = DAY + datetime.timedelta(hours=hours)
    return closed_trade(
        external_id=external_id,
        opened_at=(moment - datetime.timedelta(hours=2)).isoformat(),
        closed_at=moment.isoformat(),
        **overrides,
    )


def test_the_rollup_follows_every_write_of_the_trades(released):
    ingest(
        released,
        "trades",
        close("T-1", 1),
        close("T-2", 30, side="long", gross_pnl="-40", net_pnl="-45.75", exit_reason="stop_loss"),
        close("T-3", 50, exit_reason="", release="v1.5.0", est_fees=None),
        close("T-4", 23.99, exit_reason="mystery", est_funding=None, est_slippage_bps=None),
        open_trade(external_id="O-1", opened_at=DAY.isoformat()),
    )
    assert_rollup_is_the_closes(released)

    ingest(released, "trades", close("O-1", 5))  # an open trade closes: an UPDATE
    fills = [
        {
            "external_id": f"F-{n}",
            "trade_external_id": "T-1",
            "ts": DAY.isoformat(),
            "side": side,
            "price": price,
            "qty": "0.5",
            "fee": "1",
            "liquidity": "taker",
            "expected_price": "50000",
        }
        for n, (side, price) in enumerate([("sell", "49990.5"), ("buy", "49810.25")])
    ]
    ingest(released, "fills", *fills)  # realized slippage lands on T-1: an UPDATE
    assert Trade.objects.get(external_id="T-1").realized_slippage is not None
    assert_rollup_is_the_closes(released)

    trade(released, "orm", DAY + datetime.timedelta(hours=70), "12.5", exit_reason="stop_loss")
    Trade.objects.filter(external_id="T-2").update(net_pnl=Decimal("-45.5"), side="short")
    # A raw write on purpose: no service moves a stored close (closed is final); the trigger must.
    Trade.objects.filter(external_id="T-4").update(closed_at=DAY + datetime.timedelta(days=1))
    Trade.objects.filter(external_id="T-3").update(release=None)
    Trade.objects.filter(external_id="O-1").delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tradeops_trade (bot_id, external_id, symbol, side, status, opened_at, "
            "closed_at, qty, entry_price, exit_price, leverage, gross_pnl, fees, funding, "
            "net_pnl, exit_reason, release_tag, ingested_at) SELECT %s, 'raw-' || n, 'ETHUSDT', "
            "'long', 'closed', %s - interval '1 day', %s + n * interval '1 hour', 1, 10, 11, 1, "
            "n, 0, 0, n, 'take_profit', '', now() FROM generate_series(-3, 3) AS n",
            [released.pk, DAY, DAY],
        )
    assert_rollup_is_the_closes(released)

    Fill.objects.filter(bot=released).delete()
    Trade.objects.filter(bot=released).delete()
    for window in windows(released):
        assert queries.daily_trade_rollup(window) == []


def test_a_window_reads_the_rollup_not_its_closes(released):
    for hours in range(0, 72, 3):
        trade(released, f"T-{hours}", DAY + datetime.timedelta(hours=hours), hours - 30)
        EquitySnapshot.objects.create(
            bot=released, ts=DAY + datetime.timedelta(hours=hours), equity=1000 + hours
        )

    with CaptureQueriesContext(connection) as captured:
        result = compute_kpis(released, 7, AS_OF)

    assert result.figures["trades"] == 24
    assert not [q["sql"] for q in captured if '"tradeops_trade"' in q["sql"]]


@pytest.mark.parametrize("start_equity", [None, Decimal(0), Decimal(40), Decimal(5000)])
def test_the_trade_curve_drawdown_is_the_kpi_formula_on_that_curve(released, start_equity):
    rng = random.Random(7)
    pnl = []
    for n in range(300):
        net = Decimal(rng.randint(-9000, 8000)) / 100
        # Every third close shares its moment with the one before: the id orders them.
        moment = DAY + datetime.timedelta(minutes=10 * (n - n % 3 // 2))
        trade(released, f"T-{n}", moment, net)
        pnl.append(net)
    window = queries.Window(bot=released, days=3, as_of=AS_OF)
    base = float(start_equity or 0)
    curve = [base] + [base + float(sum(pnl[: n + 1])) for n in range(len(pnl))]

    absolute, fraction = queries.trade_curve_drawdown(window, start_equity)

    expected_absolute, expected_fraction = calc.max_drawdown(curve)
    assert absolute == pytest.approx(expected_absolute, abs=1e-9)
    if expected_fraction is None:
        assert fraction is None
    else:
        assert fraction == pytest.approx(expected_fraction, rel=1e-12)


def test_the_trade_curve_drawdown_of_a_window_without_closes(released):
    window = queries.Window(bot=released, days=3, as_of=AS_OF)

    assert queries.trade_curve_drawdown(window, Decimal(100)) == (0.0, 0.0)
    assert queries.trade_curve_drawdown(window, None) == (0.0, None)
    assert calc.max_drawdown([100.0]) == (0.0, 0.0)
    assert calc.max_drawdown([0.0]) == (0.0, None)
