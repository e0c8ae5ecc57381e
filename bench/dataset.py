"""A realistic fleet for the benchmarks, bulk-loaded with COPY (the benchmarks measure pages and
jobs, not ingestion; bench/ingest.py measures that).

`build_fleet` makes `bots` bots, the first of which ("main") holds `main_trades` closed trades over
`days` days and the others `other_trades` each (or bot n `trades_per_bot[n]`: see
`realistic_closes_a_day`), ending at `as_of`'s midnight or at `end`, closes evenly spread; every
bot has a starting equity, an hourly equity curve that follows its closes, 2 fills per trade,
daily decision counts for `symbols` symbols, two approved releases (the trades of the last 30
days run the second), prices that random-walk per symbol, and a few days without any trade (the
bot was down). Same arguments, same data.

    from common import throwaway_database       # first: sets Django up
    from dataset import AS_OF, build_fleet
    with throwaway_database():
        fleet = build_fleet(bots=50, main_trades=1_000_000)
"""

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from tradeops.models import Bot, ConfigRelease

AS_OF = datetime.date(2026, 11, 1)
KNOWN_EXITS = ["take_profit", "stop_loss", "trailing_stop", "time_exit"]
REJECTIONS = [("spread_too_wide", 90), ("risk_cap_reached", 60), ("cooldown_active", 20)]
QTY = Decimal("0.25")
PARAMS = {"fib_proximity_bps": 18, "side_balance_pressure": "0", "risk_per_trade_pct": "0.5"}


@dataclass
class Fleet:
    bots: list
    main: Bot
    as_of: datetime.date
    days: int


def build_fleet(
    *,
    bots=50,
    main_trades=1_000_000,
    other_trades=2_000,
    days=365,
    symbols=50,
    as_of=AS_OF,
    down_days=(40, 41, 200),
    seed=3,
    trades_per_bot=None,
    end=None,
    slug_prefix="",
):
    rng = random.Random(seed)
    if end is None:
        end = datetime.datetime.combine(as_of, datetime.time(), tzinfo=datetime.UTC)
    created = []
    for number in range(bots):
        bot = Bot.objects.create(
            slug=slug_prefix + ("main" if number == 0 else f"bot-{number:03d}"),
            name=f"Bench bot {number}",
            starting_equity=Decimal(25000 + 1000 * number),
            known_exit_reasons=KNOWN_EXITS,
        )
        old = ConfigRelease.objects.create(
            bot=bot, version=1, tag="v1", params=PARAMS, approved_at=timezone.now()
        )
        new = ConfigRelease.objects.create(
            bot=bot,
            version=2,
            tag="v2",
            params={**PARAMS, "fib_proximity_bps": 15},
            approved_at=timezone.now(),
            is_baseline=True,
        )
        bot.current_release = new
        bot.save(update_fields=["current_release"])
        if trades_per_bot is not None:
            count = trades_per_bot[number]
        else:
            count = main_trades if number == 0 else other_trades
        _load_bot(bot, (old, new), count, days, symbols, as_of, end, set(down_days), rng)
        created.append(bot)
    with connection.cursor() as cursor:
        # As autovacuum leaves a live table: statistics, and pages marked all-visible, so that
        # index-only scans read no table pages.
        cursor.execute("VACUUM ANALYZE")
    return Fleet(bots=created, main=created[0], as_of=as_of, days=days)


def realistic_closes_a_day(bots, heavy=20, seed=5):
    """Closes a day per bot of a live fleet: the first `heavy` at 2,740 (1M trades a year), the
    others from 200 to 3,000, log-uniform (hundreds to a few thousand; about 1,040 on average)."""
    rng = random.Random(seed)
    return [2_740 if n < heavy else round(200 * 15 ** rng.random()) for n in range(bots)]


def _load_bot(bot, releases, trades, days, symbols, as_of, end, down_days, rng):
    start = end - datetime.timedelta(days=days)
    new_from = start + datetime.timedelta(days=days - 30)
    names = [f"SYM{n:03d}USDT" for n in range(symbols)]
    prices = {name: Decimal(rng.randint(1, 60000)) for name in names}
    step = days * 86400 / max(trades, 1)
    now = timezone.now()
    closes = []
    columns = (
        "bot_id, external_id, symbol, side, status, opened_at, closed_at, qty, entry_price, "
        "exit_price, leverage, gross_pnl, fees, funding, net_pnl, exit_reason, release_tag, "
        "release_id, est_fees, est_funding, est_slippage_bps, realized_slippage, ingested_at"
    )
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY tradeops_trade ({columns}) FROM STDIN") as copy:
            for n in range(trades):
                closed = start + datetime.timedelta(seconds=n * step + 30)
                if (closed - start).days in down_days:
                    continue
                symbol = rng.choice(names)
                price = prices[symbol] = max(
                    Decimal("0.01"), prices[symbol] * Decimal(rng.randint(995, 1005)) / 1000
                )
                gross = Decimal(rng.randint(-5000, 6000)) / 100
                fees = Decimal(rng.randint(50, 300)) / 100
                funding = Decimal(rng.randint(-20, 50)) / 100
                net = gross - fees - funding
                release = releases[1] if closed >= new_from else releases[0]
                closes.append((closed, net))
                copy.write_row(
                    (
                        bot.pk,
                        f"B{n}",
                        symbol,
                        "short" if rng.random() < 0.75 else "long",
                        "closed",
                        closed - datetime.timedelta(minutes=rng.randint(5, 600)),
                        closed,
                        QTY,
                        price.quantize(Decimal("0.0001")),
                        (price * Decimal("0.999")).quantize(Decimal("0.0001")),
                        5,
                        gross,
                        fees,
                        funding,
                        net,
                        rng.choice(KNOWN_EXITS) if rng.random() > 0.01 else "mystery",
                        release.tag,
                        release.pk,
                        Decimal("1.5"),
                        Decimal("0.1"),
                        Decimal("1.2"),
                        SLIPPAGE_PER_QTY * QTY,
                        now,
                    )
                )
        add_fills(cursor, bot)
        _equity_curve(cursor, bot, start, days, closes, down_days)
        _decision_counts(cursor, bot, as_of, days, names, down_days)


# Each trade's two fills (entry and exit): leg suffix, side, price offset from the entry price,
# whose expected price is the entry price. Their realized slippage per unit of quantity: a buy
# pays (price - expected), a sell (expected - price).
FILL_LEGS = (("-E", "sell", Decimal("0.5")), ("-X", "buy", Decimal("1.25")))
SLIPPAGE_PER_QTY = sum(offset if side == "buy" else -offset for _, side, offset in FILL_LEGS)


def add_fills(cursor, bot):
    """The fills of every stored trade of `bot`, set-based. The trades carry the realized slippage
    these fills make (SLIPPAGE_PER_QTY x qty) from their COPY, as ingestion would have left them:
    updating ten million trades afterwards is not what a live table goes through."""
    legs = ", ".join("(%s, %s, %s)" for _ in FILL_LEGS)
    cursor.execute(
        "INSERT INTO tradeops_fill (bot_id, external_id, trade_external_id, trade_id, ts, "
        "side, price, qty, fee, liquidity, expected_price, ingested_at) "
        "SELECT bot_id, external_id || leg.l, external_id, id, closed_at, leg.side, "
        "entry_price + leg.d, qty, fees / 2, 'taker', entry_price, now() FROM tradeops_trade "
        f"CROSS JOIN (VALUES {legs}) AS leg(l, side, d) WHERE bot_id = %s",
        [value for leg in FILL_LEGS for value in leg] + [bot.pk],
    )


def _equity_curve(cursor, bot, start, days, closes, down_days):
    """Hourly equity: the starting equity plus the closes so far (no reading on down days)."""
    equity, position = bot.starting_equity, 0
    columns = "bot_id, ts, equity, ingested_at"
    now = timezone.now()
    with cursor.cursor.copy(f"COPY tradeops_equitysnapshot ({columns}) FROM STDIN") as copy:
        for hour in range(days * 24):
            moment = start + datetime.timedelta(hours=hour)
            while position < len(closes) and closes[position][0] <= moment:
                equity += closes[position][1]
                position += 1
            if hour // 24 not in down_days:
                copy.write_row((bot.pk, moment, equity, now))


def _decision_counts(cursor, bot, as_of, days, names, down_days):
    counts = [("no_signal", "", 1140), ("signal", "", 45)]
    counts += [("rejected", reason, count) for reason, count in REJECTIONS]
    columns = "bot_id, day, symbol, outcome, reason, count"
    with cursor.cursor.copy(f"COPY tradeops_decisioncount ({columns}) FROM STDIN") as copy:
        for index in range(days):
            if index in down_days:
                continue
            day = as_of - datetime.timedelta(days=days - index)
            for symbol in names:
                for outcome, reason, count in counts:
                    copy.write_row((bot.pk, day, symbol, outcome, reason, count))
