"""The demo bot's history as the bot would send it: about 40 closes a day, 3 of 4 short (the
concentration Experiment A targets), several exit reasons with about 1% unknown ones, far more
no_signal than signal decisions, a DEGRADED episode, an hourly equity curve and a handful of
malformed records. The same end date and seed give the same records.

Its shadow (demo.scenario.DEMO_SHADOW) runs the baseline, v1.4.0, dry-run beside Experiment A's
candidate (build_shadow_history): most of its entries are twins of the live bot's (the same
symbol and side, opened within two minutes, their P&L close), and some trades only it took,
mostly shorts: the lever's effect on what is entered.
"""

import datetime
import json
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from ingestion.parsing import IncomingRecord

START_EQUITY = Decimal("25000")
SYMBOLS = {
    "BTCUSDT": Decimal("64000"),
    "ETHUSDT": Decimal("3100"),
    "SOLUSDT": Decimal("150"),
    "BNBUSDT": Decimal("590"),
    "XRPUSDT": Decimal("0.62"),
    "DOGEUSDT": Decimal("0.16"),
}
WIN_REASONS = [("take_profit", 60), ("trailing_stop", 30), ("signal_flip", 10)]
LOSS_REASONS = [("stop_loss", 70), ("time_exit", 20), ("signal_flip", 10)]
UNKNOWN_REASONS = ["", "exchange_adl"]
REJECTION_REASONS = [
    ("spread_too_wide", 35),
    ("risk_cap_reached", 25),
    ("cooldown_active", 20),
    ("low_volume", 15),
    ("funding_too_high", 5),
]
CANDLES_PER_DAY = 288  # 5-minute candles
EXPERIMENT_A_DAYS = 6
EXPERIMENT_A_TAG = "v1.5.0-a"
FREEZE_DAYS = 7


def _weighted(rng, options):
    names, weights = zip(*options, strict=True)
    return rng.choices(names, weights)[0]


def _q(value, places):
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def _price_places(price):
    return 6 if price < 1 else 2


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class DemoHistory:
    trades: list = field(default_factory=list)
    fills: list = field(default_factory=list)
    decisions: list = field(default_factory=list)
    health: list = field(default_factory=list)
    equity: list = field(default_factory=list)
    malformed: list = field(default_factory=list)


def build_history(end_date, days=45, seed=7):
    """The demo records for the `days` days before `end_date` (UTC midnight), deterministic."""
    rng = random.Random(seed)
    end = datetime.datetime.combine(end_date, datetime.time(), tzinfo=datetime.UTC)
    start = end - datetime.timedelta(days=days)
    prices = dict(SYMBOLS)
    history = DemoHistory()
    winner_from = start + datetime.timedelta(days=days // 3)
    experiment_from = end - datetime.timedelta(days=EXPERIMENT_A_DAYS)
    closes = []  # (closed_at, net_pnl) for the equity curve

    for day_index in range(days):
        day_start = start + datetime.timedelta(days=day_index)
        for symbol in prices:
            prices[symbol] = prices[symbol] * Decimal(str(round(rng.uniform(0.97, 1.03), 4)))
        day_trades = rng.randint(34, 46)
        for number in range(day_trades):
            opened_at = day_start + datetime.timedelta(seconds=rng.randint(0, 86_000))
            closed_at = opened_at + datetime.timedelta(seconds=rng.randint(600, 6 * 3600))
            latest_close = end - datetime.timedelta(minutes=rng.randint(1, 180))
            if closed_at > latest_close:  # the history ends at `end`: move the trade earlier
                opened_at -= closed_at - latest_close
                closed_at = latest_close
            release = "v1.4.0" if opened_at >= winner_from else "v1.3.0"
            if opened_at >= experiment_from:
                release = EXPERIMENT_A_TAG
            trade, trade_fills = _closed_trade(
                rng,
                f"D{day_index:02d}-{number:03d}",
                rng.choice(list(prices)),
                prices,
                opened_at,
                closed_at,
                release,
            )
            history.trades.append(trade)
            history.fills.extend(trade_fills)
            closes.append((closed_at, Decimal(trade["net_pnl"])))
        history.decisions.extend(_decision_counts(rng, day_start.date(), day_trades))

    for number in range(3):
        symbol = list(prices)[number]
        history.trades.append(
            {
                "external_id": f"OPEN-{number}",
                "symbol": symbol,
                "side": "short" if number else "long",
                "status": "open",
                "opened_at": _iso(end - datetime.timedelta(hours=3 - number)),
                "qty": str(_q(Decimal(3000) / prices[symbol], 4)),
                "entry_price": str(_q(prices[symbol], _price_places(prices[symbol]))),
                "leverage": "5",
                "release": EXPERIMENT_A_TAG,
            }
        )

    history.health = _health_events(start, days)
    history.equity = _equity_curve(start, days, closes)
    history.malformed = _malformed_trades(start + datetime.timedelta(days=max(days - 5, 0)))
    return history


TWIN_SHARE = 0.8  # of the live bot's entries the shadow also took
SHADOW_ONLY_PER_DAY = (4, 9)  # the entries only the baseline takes (the lever's selection)
TWIN_WINDOW_SECONDS = 120


def build_shadow_history(live, end_date, days=EXPERIMENT_A_DAYS + 1, seed=11):
    """The shadow's records for the `days` days before `end_date`, from the live bot's history
    `live` (build_history): twins of its closes in those days, and entries of its own."""
    rng = random.Random(seed)
    end = datetime.datetime.combine(end_date, datetime.time(), tzinfo=datetime.UTC)
    start = end - datetime.timedelta(days=days)
    history = DemoHistory()
    closed = [t for t in live.trades if t["status"] == "closed" and t["opened_at"] >= _iso(start)]
    for trade in closed:
        if rng.random() < TWIN_SHARE:
            twin, fills = _twin(rng, trade, end)
            history.trades.append(twin)
            history.fills.extend(fills)
    for day_index in range(days):
        day_start = start + datetime.timedelta(days=day_index)
        for number in range(rng.randint(*SHADOW_ONLY_PER_DAY)):
            template = rng.choice(closed)
            opened_at = day_start + datetime.timedelta(seconds=rng.randint(0, 80_000))
            closed_at = min(
                opened_at + datetime.timedelta(seconds=rng.randint(600, 5 * 3600)),
                end - datetime.timedelta(minutes=5),
            )
            prices = {template["symbol"]: Decimal(template["entry_price"])}
            trade, fills = _closed_trade(
                rng,
                f"S-ONLY-{day_index:02d}-{number:02d}",
                template["symbol"],
                prices,
                opened_at,
                closed_at,
                "v1.4.0",
            )
            history.trades.append(trade)
            history.fills.extend(fills)
    history.health = [
        {"ts": _iso(start), "kind": "state_change", "state": "NORMAL", "detail": "dry-run"},
        {
            "ts": _iso(end - datetime.timedelta(minutes=2)),
            "kind": "heartbeat",
            "running_release": "v1.4.0",
        },
    ]
    return history


def _twin(rng, trade, end):
    """The shadow's take of a live entry: opened within TWIN_WINDOW_SECONDS, the same symbol,
    side and size, prices a little apart, so its P&L follows the live trade's."""
    shift = datetime.timedelta(seconds=rng.randint(-TWIN_WINDOW_SECONDS, TWIN_WINDOW_SECONDS))
    opened_at = datetime.datetime.fromisoformat(trade["opened_at"]) + shift
    closed_at = min(datetime.datetime.fromisoformat(trade["closed_at"]) + shift, end)
    closed_at = max(closed_at, opened_at + datetime.timedelta(minutes=1))
    direction = 1 if trade["side"] == "long" else -1
    places = _price_places(Decimal(trade["entry_price"]))
    entry = _q(Decimal(trade["entry_price"]) * Decimal(str(1 + rng.uniform(-3e-4, 3e-4))), places)
    exit_price = _q(
        Decimal(trade["exit_price"]) * Decimal(str(1 + rng.uniform(-6e-4, 6e-4))), places
    )
    qty = Decimal(trade["qty"])
    gross = _q((exit_price - entry) * qty * direction, 8)
    fees = _q((entry + exit_price) * qty * Decimal("0.0004"), 8)
    funding = Decimal(trade["funding"])
    external_id = f"S-{trade['external_id']}"
    twin = {
        **trade,
        "external_id": external_id,
        "opened_at": _iso(opened_at),
        "closed_at": _iso(closed_at),
        "entry_price": str(entry),
        "exit_price": str(exit_price),
        "gross_pnl": str(gross),
        "fees": str(fees),
        "net_pnl": str(gross - fees - funding),
        "release": "v1.4.0",
    }
    entry_fee = _q(fees * entry / (entry + exit_price), 8)
    slippage = Decimal(trade["est_slippage_bps"])
    fills = [
        _fill(external_id, "E", opened_at, direction, entry, qty, entry_fee, slippage, rng),
        _fill(external_id, "X", closed_at, -direction, exit_price, qty, fees - entry_fee, 0, rng),
    ]
    return twin, fills


def _closed_trade(rng, external_id, symbol, prices, opened_at, closed_at, release):
    # Experiment A's soft side-balance pressure makes its trades less one-sided.
    side = "short" if rng.random() < (0.6 if release == EXPERIMENT_A_TAG else 0.75) else "long"
    direction = 1 if side == "long" else -1
    places = _price_places(prices[symbol])
    entry = _q(prices[symbol] * Decimal(str(round(rng.uniform(0.995, 1.005), 5))), places)
    win_rate = 0.51 if release == "v1.3.0" else 0.55
    win = rng.random() < win_rate
    move = rng.uniform(0.002, 0.012) if win else -rng.uniform(0.002, 0.009)
    exit_price = _q(entry * Decimal(str(round(1 + direction * move, 6))), places)
    qty = _q(Decimal(rng.randint(2000, 6000)) / entry, 4)
    hours = Decimal((closed_at - opened_at).total_seconds()) / 3600
    gross = _q((exit_price - entry) * qty * direction, 8)
    fees = _q((entry + exit_price) * qty * Decimal("0.0004"), 8)
    funding = _q(entry * qty * Decimal(str(round(rng.uniform(-0.0001, 0.0003), 6))) * hours / 8, 8)
    if rng.random() < 0.013:
        reason = rng.choice(UNKNOWN_REASONS)
    else:
        reason = _weighted(rng, WIN_REASONS if gross - fees - funding > 0 else LOSS_REASONS)
    slippage_bps = Decimal(str(round(rng.uniform(0.3, 3.0), 2)))
    trade = {
        "external_id": external_id,
        "symbol": symbol,
        "side": side,
        "status": "closed",
        "opened_at": _iso(opened_at),
        "closed_at": _iso(closed_at),
        "qty": str(qty),
        "entry_price": str(entry),
        "exit_price": str(exit_price),
        "leverage": str(rng.choice([3, 5, 5, 10])),
        "gross_pnl": str(gross),
        "fees": str(fees),
        "funding": str(funding),
        "net_pnl": str(gross - fees - funding),
        "exit_reason": reason,
        "release": release,
        "est_fees": str(_q(fees * Decimal(str(round(rng.uniform(0.85, 1.05), 3))), 8)),
        "est_funding": str(_q(funding * Decimal(str(round(rng.uniform(0.5, 1.2), 3))), 8)),
        "est_slippage_bps": str(slippage_bps),
    }
    entry_fee = _q(fees * entry / (entry + exit_price), 8)
    fills = [
        _fill(external_id, "E", opened_at, direction, entry, qty, entry_fee, slippage_bps, rng),
        _fill(external_id, "X", closed_at, -direction, exit_price, qty, fees - entry_fee, 0, rng),
    ]
    return trade, fills


def _fill(trade_id, leg, ts, direction, price, qty, fee, slippage_bps, rng):
    expected = price * (1 - direction * slippage_bps / Decimal(10000))
    return {
        "external_id": f"{trade_id}-{leg}",
        "trade_external_id": trade_id,
        "ts": _iso(ts),
        "side": "buy" if direction > 0 else "sell",
        "price": str(price),
        "qty": str(qty),
        "fee": str(fee),
        "liquidity": "maker" if leg == "E" and rng.random() < 0.4 else "taker",
        "expected_price": str(_q(expected, 8)),
    }


def _decision_counts(rng, day, trades):
    rows = []
    signals = {symbol: 0 for symbol in SYMBOLS}
    for _ in range(trades + rng.randint(0, 6)):
        signals[rng.choice(list(SYMBOLS))] += 1
    for symbol, signal_count in signals.items():
        rejected = {}
        for _ in range(rng.randint(20, 45)):
            reason = _weighted(rng, REJECTION_REASONS)
            rejected[reason] = rejected.get(reason, 0) + 1
        no_signal = CANDLES_PER_DAY - signal_count - sum(rejected.values())
        base = {"day": day.isoformat(), "symbol": symbol}
        rows.append({**base, "outcome": "signal", "count": signal_count})
        rows.append({**base, "outcome": "no_signal", "count": no_signal})
        rows.extend(
            {**base, "outcome": "rejected", "reason": reason, "count": count}
            for reason, count in sorted(rejected.items())
        )
    return rows


def _health_events(start, days):
    episode = start + datetime.timedelta(days=days - 12, hours=14, minutes=5)
    recovered = episode + datetime.timedelta(hours=2, minutes=35)
    return [
        {"ts": _iso(start), "kind": "state_change", "state": "NORMAL", "detail": "Phase 1 live"},
        {
            "ts": _iso(episode),
            "kind": "degraded",
            "state": "DEGRADED",
            "detail": "exchange websocket lag above 5 s; new entries paused",
        },
        {"ts": _iso(episode), "kind": "state_change", "state": "DEGRADED", "detail": "ws lag"},
        {"ts": _iso(recovered), "kind": "state_change", "state": "NORMAL", "detail": "recovered"},
    ]


def _equity_curve(start, days, closes):
    closes = sorted(closes)
    equity, position, snapshots = START_EQUITY, 0, []
    for hour in range(days * 24 + 1):
        moment = start + datetime.timedelta(hours=hour)
        while position < len(closes) and closes[position][0] <= moment:
            equity += closes[position][1]
            position += 1
        snapshots.append({"ts": _iso(moment), "equity": str(_q(equity, 8))})
    return snapshots


def _malformed_trades(day):
    base = {
        "symbol": "ETHUSDT",
        "side": "short",
        "status": "closed",
        "opened_at": _iso(day + datetime.timedelta(hours=9)),
        "closed_at": _iso(day + datetime.timedelta(hours=10)),
        "qty": "1.5",
        "entry_price": "3050.10",
        "exit_price": "3040.00",
        "gross_pnl": "15.15",
        "fees": "3.65",
        "funding": "0.10",
        "net_pnl": "11.40",
        "exit_reason": "take_profit",
        "release": "v1.4.0",
    }
    return [
        {**base, "external_id": "BAD-1", "exit_price": None},
        {**base, "external_id": "BAD-2", "closed_at": _iso(day)},
        {**base, "external_id": "BAD-3", "qty": "0"},
        {**base, "external_id": "BAD-4", "net_pnl": "14.00"},
        {**base, "external_id": "BAD-5", "side": "buy"},
    ]


def as_records(rows):
    records = []
    for index, row in enumerate(rows):
        data = {key: value for key, value in row.items() if value is not None}
        records.append(IncomingRecord(index=index, raw=json.dumps(data), data=data))
    return records
