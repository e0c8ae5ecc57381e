"""Write tests/fixtures/freqtrade/tradesv3.sqlite with freqtrade's own ORM, and beside it
freqtrade_figures.json: the statistics freqtrade itself computes for the closed trades in it.

freqtrade is not a dependency of TradeOps; this runs in a throw-away venv. It was run as:

    python3 -m venv /tmp/ftvenv && /tmp/ftvenv/bin/pip install freqtrade   # resolved to 2026.9
    /tmp/ftvenv/bin/python scripts/make_freqtrade_fixture.py

(freqtrade 2026.9, Python 3.11.7; pin `freqtrade==2026.9` to reproduce it). The trades are
built the way the live bot builds them: a Trade, then each filled Order appended and passed to
`Trade.update_trade`, funding fees set with `set_funding_fees` before an exit (the bot's funding
update), so freqtrade computes every stored figure (open rate, amounts, close_profit_abs,
funding_fees) itself. Futures on one
account, 1000 USDT starting balance: longs and shorts, leverage 1 to 10, DCA entries, partial
exits (one trade still open after one), funding paid and received, and exit reasons from
ExitType plus one custom exit reason ("unclog", which a strategy's custom_exit may return).

The figures are freqtrade's own: `load_trades_from_db` (the DataFrame its analysis tools read),
then `_generate_result_line` (the backtest summary row: profit total, wins/draws/losses, win rate,
expectancy, profit factor, max drawdown absolute and relative to the account) and
`generate_trading_stats`, plus `calculate_max_drawdown(relative=True)` (the largest relative
fall, which the summary row does not report: it gives the relative fall at the largest absolute
one). `rpc_profit_factor` is the formula of freqtrade's RPC `/profit` (`_rpc_trade_statistics`:
inf without losses) restated here, since calling the RPC needs a running bot and exchange.
"""

import json
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from freqtrade import __version__ as freqtrade_version
from freqtrade.data.btanalysis import load_trades_from_db
from freqtrade.data.metrics import calculate_max_drawdown
from freqtrade.enums import ExitType, TradingMode
from freqtrade.optimize.optimize_reports.optimize_reports import (
    _generate_result_line,
    generate_trading_stats,
)
from freqtrade.persistence import Order, Trade, init_db

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "freqtrade"
STARTING_BALANCE = 1000.0
FEE = 0.0005
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

# (pair, is_short, leverage, orders, exit_reason); an order is
# (hours after START, "entry" | "exit" | "stoploss", amount, price, funding since the last
# order (positive = received, freqtrade's sign), order tag).
# fmt: off
TRADES = [
    ("BTC/USDT:USDT", False, 3, [(0, "entry", 0.01, 50000, 0, None),
                                 (6, "exit", 0.01, 50900, -0.12, None)], ExitType.ROI),
    ("ETH/USDT:USDT", True, 5, [(10, "entry", 0.5, 3000, 0, None),
                                (14, "exit", 0.5, 3075, 0.05, None)], ExitType.STOP_LOSS),
    ("SOL/USDT:USDT", False, 2, [(20, "entry", 4, 150, 0, None),
                                 (26, "exit", 2, 156, -0.03, ExitType.PARTIAL_EXIT),
                                 (30, "exit", 2, 153, -0.02, None)], ExitType.EXIT_SIGNAL),
    ("BTC/USDT:USDT", True, 10, [(34, "entry", 0.004, 51000, 0, None),
                                 (36, "entry", 0.004, 51500, 0, None),
                                 (40, "exit", 0.008, 50600, 0.08, None)],
     ExitType.TRAILING_STOP_LOSS),
    ("ETH/USDT:USDT", False, 1, [(44, "entry", 0.2, 3100, 0, None),
                                 (50, "stoploss", 0.2, 3010, -0.01, None)],
     ExitType.STOPLOSS_ON_EXCHANGE),
    ("SOL/USDT:USDT", True, 4, [(52, "entry", 3, 140, 0, None),
                                (60, "exit", 3, 173, -0.4, None)], ExitType.LIQUIDATION),
    ("BTC/USDT:USDT", False, 2, [(62, "entry", 0.006, 49800, 0, None),
                                 (70, "exit", 0.006, 49500, -0.05, None)], "unclog"),
    ("XRP/USDT:USDT", False, 3, [(74, "entry", 500, 0.6, 0, None),
                                 (75, "exit", 500, 0.598, 0, None)], ExitType.EMERGENCY_EXIT),
    ("ETH/USDT:USDT", True, 3, [(78, "entry", 0.6, 3200, 0, None),
                                (82, "exit", 0.2, 3150, 0.04, ExitType.PARTIAL_EXIT),
                                (86, "exit", 0.2, 3120, 0.03, ExitType.PARTIAL_EXIT),
                                (90, "exit", 0.2, 3180, 0.02, None)], ExitType.FORCE_EXIT),
    ("BTC/USDT:USDT", False, 5, [(96, "entry", 0.01, 52000, 0, None),
                                 (100, "entry", 0.01, 51000, 0, None),
                                 (104, "exit", 0.02, 52800, -0.06, None)], ExitType.ROI),
    # Still open: entered, half taken off, the rest running.
    ("SOL/USDT:USDT", False, 2, [(106, "entry", 6, 160, 0, None),
                                 (108, "exit", 3, 164, -0.02, ExitType.PARTIAL_EXIT)], None),
]
# fmt: on


def build_trade(number, pair, is_short, leverage, orders, exit_reason):
    opened = START + timedelta(hours=orders[0][0])
    first_amount, first_price = orders[0][2], orders[0][3]
    trade = Trade(
        exchange="binance",
        pair=pair,
        base_currency=pair.split("/")[0],
        stake_currency="USDT",
        is_open=True,
        fee_open=FEE,
        fee_close=FEE,
        open_rate=first_price,
        open_rate_requested=first_price,
        amount=first_amount,
        amount_requested=first_amount,
        stake_amount=first_amount * first_price / leverage,
        open_date=opened,
        strategy="FibZoneStrategy",
        timeframe=5,
        trading_mode=TradingMode.FUTURES,
        leverage=float(leverage),
        is_short=is_short,
        interest_rate=0.0,
        amount_precision=0.0001,
        price_precision=0.001,
        precision_mode=4,
        precision_mode_price=4,
        contract_size=1.0,
        enter_tag="fib_zone",
    )
    Trade.session.add(trade)
    Trade.session.flush()
    for index, (hours, role, amount, price, funding, tag) in enumerate(orders):
        at = START + timedelta(hours=hours)
        entering = role == "entry"
        side = ("sell" if is_short else "buy") if entering else ("buy" if is_short else "sell")
        ft_side = "stoploss" if role == "stoploss" else side
        order = Order(
            ft_trade_id=trade.id,
            ft_order_side=ft_side,
            ft_pair=pair,
            ft_is_open=False,
            ft_amount=amount,
            ft_price=price,
            ft_order_tag=getattr(tag, "value", tag),
            order_id=f"ex-{number}-{index}",
            status="closed",
            symbol=pair,
            order_type="limit" if entering else "market",
            side=side,
            price=price,
            average=price,
            amount=amount,
            filled=amount,
            remaining=0.0,
            cost=amount * price,
            order_date=at,
            order_filled_date=at,
            order_update_date=at,
        )
        trade.orders.append(order)
        if not entering and funding:
            trade.set_funding_fees((trade.funding_fee_running or 0.0) + funding)
        elif funding:
            raise ValueError("funding is settled on exits in this fixture")
        if not entering and index == len(orders) - 1 and exit_reason is not None:
            # The bot stores the ExitType's value (freqtradebot.execute_trade_exit).
            trade.exit_reason = getattr(exit_reason, "value", exit_reason)
        trade.update_trade(order)
    if exit_reason is not None and trade.is_open:
        raise RuntimeError(f"trade {number} did not close: {trade}")
    return trade


def figures(db_url):
    frame = load_trades_from_db(db_url)
    closed = frame[~frame["is_open"]].reset_index(drop=True)
    line = _generate_result_line(
        closed,
        closed["open_date"].min().to_pydatetime(),
        closed["close_date"].max().to_pydatetime(),
        STARTING_BALANCE,
        "TOTAL",
    )
    stats = generate_trading_stats(closed)
    relative = calculate_max_drawdown(
        closed, value_col="profit_abs", starting_balance=STARTING_BALANCE, relative=True
    )
    wins = closed.loc[closed["profit_abs"] > 0, "profit_abs"].sum()
    losses = closed.loc[closed["profit_abs"] < 0, "profit_abs"].sum()
    return {
        "freqtrade_version": freqtrade_version,
        "starting_balance": STARTING_BALANCE,
        "stake_currency": "USDT",
        "closed_trades": int(line["trades"]),
        "open_trades": int(frame["is_open"].sum()),
        "first_close": closed["close_date"].min().isoformat(),
        "last_close": closed["close_date"].max().isoformat(),
        "profit_total_abs": float(line["profit_total_abs"]),
        "wins": int(line["wins"]),
        "draws": int(line["draws"]),
        "losses": int(line["losses"]),
        "winrate": float(line["winrate"]),
        "expectancy": float(line["expectancy"]),
        "profit_factor": float(line["profit_factor"]),
        "rpc_profit_factor": float(wins / abs(losses)) if losses else "inf",
        "max_drawdown_abs": float(line["max_drawdown_abs"]),
        "max_drawdown_account": float(line["max_drawdown_account"]),
        "max_drawdown_account_relative": float(relative.relative_account_drawdown),
        "trading_stats_wins": int(stats["wins"]),
        "trading_stats_losses": int(stats["losses"]),
        # Each closed trade as freqtrade stores it, by its id in the trades table.
        "per_trade": {
            str(trade.id): {
                "close_profit_abs": trade.close_profit_abs,
                "funding_fees": trade.funding_fees,
                "exit_reason": trade.exit_reason,
                "is_short": trade.is_short,
                "leverage": trade.leverage,
                "filled_orders": len(trade.select_filled_orders()),
            }
            for trade in Trade.get_trades([Trade.is_open.is_(False)]).all()
        },
        "exit_types": [member.value for member in ExitType if member.value],
    }


def close_db():
    """Let go of the file: each init_db opens its own engine, which would keep it locked."""
    engine = Trade.session.get_bind()
    Trade.session.remove()
    engine.dispose()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "tradesv3.sqlite"
    path.unlink(missing_ok=True)
    db_url = f"sqlite:///{path}"
    init_db(db_url)
    for number, spec in enumerate(TRADES, start=1):
        build_trade(number, *spec)
    Trade.commit()
    close_db()
    result = figures(db_url)
    close_db()
    # freqtrade leaves the file in WAL mode with the data in the -wal file; the fixture is one
    # self-contained file, which TradeOps opens read-only.
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()
    (OUT / "freqtrade_figures.json").write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
