"""A realistic, deterministic trading history for one bot, loaded through the real ingestion path.

About 40 closes a day, 3 of 4 short (the concentration Experiment A targets), several exit reasons
with about 1% unknown ones, far more no_signal than signal decisions, a DEGRADED episode, an hourly
equity curve, two config releases (an older one and the frozen Phase 1 winner) and a handful of
malformed records that end in quarantine. The same end date and seed give the same records.

The decision framework is mid-flight: the winner was frozen for a week after it went live, and
Experiment A (soft side-balance pressure) has run its candidate for the last 6 days (so its
trades are less one-sided), with Experiment B queued behind it.
"""

import datetime
import hashlib
import json
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from ingestion.parsing import IncomingRecord
from ingestion.services import ingest_records
from integrity.models import AlertChannel
from tradeops.models import Bot, ConfigRelease, ParamSpec, StabilizationWindow
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER, ensure_roles
from tradeops.services import create_bot

DEMO_BOT = "demo-perp"
DEMO_PASSWORD = "tradeops-demo"
DEMO_USERS = [("lead", TEAM_LEAD), ("operator", OPERATOR), ("viewer", VIEWER)]
DEMO_CHANNEL = "Ops email"
START_EQUITY = Decimal("25000")
CHUNK = 5000

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

PARAM_SPECS = [
    ("fib_proximity_bps", "strategy", "int", 1, 200, "Max distance from a fib level, in bps."),
    ("entry_zone_tolerance_pct", "strategy", "decimal", "0.05", "2", "Entry zone width, %."),
    ("side_balance_pressure", "strategy", "decimal", "0", "1", "Soft long/short balancing."),
    ("risk_per_trade_pct", "risk", "decimal", "0.1", "3", "Equity risked per trade, %."),
    ("max_leverage", "risk", "int", 1, 20, "Leverage cap."),
    ("max_open_positions", "risk", "int", 1, 20, "Concurrent positions cap."),
    ("order_type", "execution", "str", None, None, "Entry order type (limit or market)."),
    (
        "cost_model_slippage_bps",
        "strategy",
        "decimal",
        "0",
        "20",
        "Slippage the entry filter's cost model assumes, bps.",
    ),
]
OLD_PARAMS = {
    "fib_proximity_bps": 25,
    "entry_zone_tolerance_pct": "0.35",
    "side_balance_pressure": "0",
    "risk_per_trade_pct": "0.5",
    "max_leverage": 5,
    "max_open_positions": 6,
    "order_type": "limit",
    "cost_model_slippage_bps": "1.5",
}
WINNER_PARAMS = {**OLD_PARAMS, "fib_proximity_bps": 18}


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


def _as_records(rows):
    records = []
    for index, row in enumerate(rows):
        data = {key: value for key, value in row.items() if value is not None}
        records.append(IncomingRecord(index=index, raw=json.dumps(data), data=data))
    return records


def _setup_people_and_releases(bot, start):
    ensure_roles()
    users = {}
    for username, role in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": True, "email": f"{username}@example.com"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(Group.objects.get(name=role))
        users[role] = user
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)
    # Email to the console (EMAIL_URL=consolemail://): alerts print where `make demo` runs.
    AlertChannel.objects.get_or_create(
        name=DEMO_CHANNEL, defaults={"kind": "email", "target": "ops@example.com"}
    )

    for key, category, value_type, low, high, description in PARAM_SPECS:
        ParamSpec.objects.get_or_create(
            key=key,
            defaults={
                "category": category,
                "value_type": value_type,
                "min_value": low,
                "max_value": high,
                "description": description,
            },
        )
    for version, tag, params, approved, notes in [
        (1, "v1.3.0", OLD_PARAMS, start - datetime.timedelta(days=20), "Phase 1 candidate."),
        (2, "v1.4.0", WINNER_PARAMS, start + datetime.timedelta(days=14), "Phase 1 winner."),
    ]:
        ConfigRelease.objects.get_or_create(
            bot=bot,
            tag=tag,
            defaults={
                "version": version,
                "git_commit": hashlib.sha1(tag.encode()).hexdigest(),
                "params": params,
                "notes": notes,
                "created_by": users[OPERATOR],
                "approved_by": users[TEAM_LEAD],
                "approved_at": approved,
                "is_baseline": tag == "v1.4.0",
            },
        )


def load_demo(end_date=None, days=45):
    """Create the demo bot, people and releases, and ingest its history. Returns the counts by
    kind, or None if the demo bot already exists (loading twice would shift the history)."""
    if Bot.objects.filter(slug=DEMO_BOT).exists():
        return None
    end_date = end_date or timezone.now().date()
    start = datetime.datetime.combine(
        end_date - datetime.timedelta(days=days), datetime.time(), tzinfo=datetime.UTC
    )
    with transaction.atomic():
        bot, _ = create_bot(slug=DEMO_BOT, name="Demo perps bot", exchange="binance-futures")
        bot.starting_equity = START_EQUITY
        bot.save(update_fields=["starting_equity"])
        _setup_people_and_releases(bot, start)
        _prepare_experiment_a(bot)
    history = build_history(end_date, days)
    summary = {}
    for kind, rows in [
        ("trades", history.trades),
        ("fills", history.fills),
        ("decisions", history.decisions),
        ("health", history.health),
        ("equity", history.equity),
        ("trades", history.malformed),
        ("trades", history.malformed[:1]),  # the bot retried one: quarantine counts it twice
    ]:
        for offset in range(0, len(rows), CHUNK):
            result = ingest_records(
                bot, kind, _as_records(rows[offset : offset + CHUNK]), source="demo"
            )
            totals = summary.setdefault(kind, {"accepted": 0, "unchanged": 0, "quarantined": 0})
            for name in totals:
                totals[name] += getattr(result, name)
    _run_experiment_a(bot, end_date)
    _capture_kpis(bot, end_date)
    _integrity(bot)
    return summary


def _prepare_experiment_a(bot):
    """Before the history lands: the week's freeze after the winner went live, and Experiment A
    drafted from the plan, its candidate release approved (the last days' trades carry its tag)."""
    from experiments import services
    from experiments.plan import draft_from_plan
    from experiments.releases import approve_release
    from tradeops.audit import history, record_audit

    lead, operator = (User.objects.get(username=name) for name, _ in DEMO_USERS[:2])
    winner = ConfigRelease.objects.get(bot=bot, is_baseline=True)
    freeze = StabilizationWindow.objects.create(
        bot=bot,
        starts_at=winner.approved_at,
        ends_at=winner.approved_at + datetime.timedelta(days=FREEZE_DAYS),
        reason="Plan section 1: freeze the Phase 1 winner and measure it before any change.",
        created_by=lead,
    )
    record_audit(freeze, "frozen", actor=lead, to_state="frozen", note=freeze.reason)
    history(freeze).update(at=freeze.starts_at)
    experiment = draft_from_plan(
        bot=bot,
        key="A",
        lever="side_balance_pressure",
        value="0.3",
        tag=EXPERIMENT_A_TAG,
        by=operator,
    )
    approve_release(experiment.candidate_release, by=lead, note="One lever; risk caps unchanged.")
    services.submit(experiment, by=operator, note="Short share is 75%: plan section 4, first.")


def _run_experiment_a(bot, end_date):
    """The lead approves A (its rollback triggers frozen on the baseline's figures) and the
    operator starts it, dated to when its trades begin; B is drafted and queued behind it."""
    from experiments import services
    from experiments.models import Experiment
    from experiments.plan import draft_from_plan
    from tradeops.audit import history

    lead, operator = (User.objects.get(username=name) for name, _ in DEMO_USERS[:2])
    experiment = Experiment.objects.get(bot=bot, plan_key="A")
    services.approve(experiment, by=lead, note="Success criteria and triggers as the plan says.")
    services.start(experiment, by=operator, note=f"{EXPERIMENT_A_TAG} deployed.")
    started = datetime.datetime.combine(
        end_date - datetime.timedelta(days=EXPERIMENT_A_DAYS), datetime.time(), tzinfo=datetime.UTC
    )
    Experiment.objects.filter(pk=experiment.pk).update(
        approved_at=started - datetime.timedelta(hours=2), started_at=started
    )
    for action, hours_before in [("created", 26), ("submit", 25), ("approve", 2), ("start", 0)]:
        history(experiment).filter(action=action).update(
            at=started - datetime.timedelta(hours=hours_before)
        )
    queued = draft_from_plan(
        bot=bot, key="B", lever="fib_proximity_bps", value=15, tag="v1.5.0-b", by=operator
    )
    services.submit(queued, by=operator, note="Queued behind A: starts once A is decided.")


def _integrity(bot):
    """The operator tests the ops channel's firing paths; today's integrity check runs."""
    from integrity.alerts import send_test_alerts
    from integrity.models import AlertChannel
    from integrity.services import run_integrity_checks

    operator = User.objects.get(username=DEMO_USERS[1][0])
    send_test_alerts(AlertChannel.objects.get(name=DEMO_CHANNEL), user=operator)
    run_integrity_checks(bot, triggered_by="demo")


def _capture_kpis(bot, end_date):
    """What the lead and the scheduler would have done: the baseline report of the frozen winner
    and today's 7d/30d snapshots (in-process without Redis, on a worker with it)."""
    from kpis.jobs import compute_daily_snapshots
    from kpis.services import capture_baseline
    from tradeops.scheduling import enqueue

    winner = ConfigRelease.objects.get(bot=bot, is_baseline=True)
    lead = User.objects.get(username=DEMO_USERS[0][0])
    capture_baseline(winner, captured_by=lead, as_of=end_date)
    enqueue(compute_daily_snapshots, end_date)
