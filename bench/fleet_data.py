"""The fleet of bench/fleet.py, loaded set-based (INSERT ... SELECT generate_series: the trade
table's statement triggers keep the daily rollup as ingestion would), up to now.

Every bot has two releases (v1 the baseline, v2 the candidate it runs since its experiment
started `EXPERIMENT_DAYS` ago, or half the history if shorter), a running experiment (written as
the bench/home.py fleet writes it: the lifecycle's services need people and four eyes, which cost
nothing to the jobs), closed
trades at its rate of closes a day over `days` days with 2 fills each, an hourly equity curve,
daily decision counts for `SYMBOLS` symbols and a fresh heartbeat. Every `SHADOW_EVERY`th bot has
a shadow (tradeops.services.create_bot, shadow_of) closing as many trades as it; every
`FREQTRADE_EVERY`th bot reads a freqtrade database that is not there (the sync opens it and
fails, as against an unreachable host); one email alert channel for every bot and one of its own
for every `CHANNEL_EVERY`th bot.
"""

import datetime
import math
import random
from decimal import Decimal

from dataset import KNOWN_EXITS, PARAMS, add_fills
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from experiments.models import Experiment
from experiments.rules import default_triggers
from ingestion.models import FreqtradeSource
from integrity.models import AlertChannel
from tradeops.models import Bot, BotPulse, ConfigRelease
from tradeops.services import create_bot

HEAVY_RATE = 1_000_000 / 365  # closes a day of a bot at 1M trades a year
EXPERIMENT_DAYS = 10
SYMBOLS = 10
SHADOW_EVERY = 20
FREQTRADE_EVERY = 10
CHANNEL_EVERY = 10
MISSING_FREQTRADE_DB = "sqlite:////nonexistent/freqtrade/tradesv3.sqlite"


def closes_a_day(bots, heavy, seed=22):
    """`heavy` bots at 1M trades a year, the others log-uniform between 100 and 3,000 a day."""
    rng = random.Random(seed)
    rates = [HEAVY_RATE] * heavy
    rates += [math.exp(rng.uniform(math.log(100), math.log(3000))) for _ in range(bots - heavy)]
    return [round(rate) for rate in rates]


def build(*, bots=500, heavy=20, days=35, log=print):
    """Load the fleet; returns a summary of what was loaded."""
    now = timezone.now().replace(microsecond=0)
    start = now - datetime.timedelta(days=days)
    switch = now - datetime.timedelta(days=max(1, min(EXPERIMENT_DAYS, days // 2)))
    rates = closes_a_day(bots, heavy)
    live = []
    for number, rate in enumerate(rates):
        bot = Bot.objects.create(
            slug=f"fleet-{number:03d}",
            name=f"Fleet bot {number}",
            starting_equity=Decimal(25000 + 100 * number),
            known_exit_reasons=KNOWN_EXITS,
        )
        live.append((bot, rate, _releases(bot, now)))
    shadows = []
    for bot, rate, (v1, _) in live[::SHADOW_EVERY]:
        shadow, _ = create_bot(slug=f"{bot.slug}-shadow", shadow_of=bot, now=start)
        shadow.starting_equity = bot.starting_equity
        shadow.save(update_fields=["starting_equity"])
        shadow.refresh_from_db()
        release = shadow.current_release or v1
        shadows.append((shadow, rate, (release, release)))
    operator, _ = User.objects.get_or_create(username="fleet-operator", defaults={"is_staff": True})
    for bot, _, (v1, v2) in live:
        Experiment.objects.create(
            bot=bot,
            name=f"A {bot.slug}",
            lever="fib_proximity_bps",
            baseline_release=v1,
            candidate_release=v2,
            success_criteria="net P&L per trade up, drawdown not worse",
            status="running",
            plan_key="A",
            started_at=switch,
            created_by=operator,
            # As approval freezes them (experiments.rules.frozen_triggers), with a baseline avg
            # loss near what the loaded trades give.
            triggers=default_triggers() | {"baseline_avg_loss": "-25.50"},
        )
    for bot, _, _ in live[::FREQTRADE_EVERY]:
        FreqtradeSource.objects.create(bot=bot, db_url=MISSING_FREQTRADE_DB, created_at=now)
    AlertChannel.objects.create(name="Ops email", kind="email", target="ops@example.com")
    for bot, _, _ in live[::CHANNEL_EVERY]:
        AlertChannel.objects.create(
            name=f"{bot.slug} desk", kind="email", target=f"desk-{bot.slug}@example.com", bot=bot
        )
    fleet = live + shadows
    BotPulse.objects.bulk_create(
        BotPulse(
            bot=bot,
            last_heartbeat_at=now,
            running_release=release.tag,
            running_since=switch,
        )
        for bot, _, (_, release) in fleet
    )
    trades = 0
    with connection.cursor() as cursor:
        for index, (bot, rate, releases) in enumerate(fleet):
            trades += _trades(cursor, bot, rate, days, start, switch, releases)
            add_fills(cursor, bot)
            if index % 50 == 49:
                took = timezone.now() - now
                log(f"  {index + 1} of {len(fleet)} bots loaded, {trades:,} trades, {took}")
        log(f"  trades and fills in {timezone.now() - now}")
        _equity_and_decisions(cursor, [bot.pk for bot, _, _ in fleet], start, days)
        cursor.execute("VACUUM ANALYZE")
    return {"bots": len(live), "shadows": len(shadows), "trades": trades, "days": days}


def _releases(bot, now):
    v1 = ConfigRelease.objects.create(
        bot=bot, version=1, tag="v1", params=PARAMS, approved_at=now, is_baseline=True
    )
    v2 = ConfigRelease.objects.create(
        bot=bot,
        version=2,
        tag="v2",
        params={**PARAMS, "fib_proximity_bps": 15},
        approved_at=now,
    )
    bot.current_release = v2
    bot.save(update_fields=["current_release"])
    return v1, v2


def _trades(cursor, bot, rate, days, start, switch, releases):
    """`rate` closes a day, evenly spread over the `days` before now, on v1 then v2."""
    count = rate * days
    step = days * 86400 / count
    v1, v2 = releases
    cursor.execute(
        """
        INSERT INTO tradeops_trade (bot_id, external_id, symbol, side, status, opened_at,
            closed_at, qty, entry_price, exit_price, leverage, gross_pnl, fees, funding, net_pnl,
            exit_reason, release_tag, release_id, est_fees, est_funding, est_slippage_bps,
            realized_slippage, ingested_at)
        SELECT %(bot)s, 'F' || n, 'SYM' || lpad((n %% %(symbols)s)::text, 3, '0') || 'USDT',
            CASE WHEN random() < 0.75 THEN 'short' ELSE 'long' END, 'closed',
            closed - make_interval(mins => 5 + (random() * 595)::int), closed, 0.25,
            price, round(price * 0.999, 4), 5, gross, fees, funding, gross - fees - funding,
            CASE WHEN random() < 0.01 THEN 'mystery'
                 ELSE (%(exits)s::text[])[1 + floor(random() * 4)::int] END,
            CASE WHEN closed >= %(switch)s THEN %(tag2)s ELSE %(tag1)s END,
            CASE WHEN closed >= %(switch)s THEN %(v2)s ELSE %(v1)s END,
            1.5, 0.1, 1.2, %(slippage)s, now()
        FROM (
            SELECT n, %(start)s + make_interval(secs => n * %(step)s + 30) AS closed,
                round((100 + random() * 60000)::numeric, 4) AS price,
                round((random() * 110 - 50)::numeric, 2) AS gross,
                round((0.5 + random() * 2.5)::numeric, 2) AS fees,
                round((random() * 0.7 - 0.2)::numeric, 2) AS funding
            FROM generate_series(0, %(last)s) AS n
        ) AS t
        """,
        {
            "bot": bot.pk,
            "symbols": SYMBOLS,
            "exits": KNOWN_EXITS,
            "switch": switch,
            "tag1": v1.tag,
            "tag2": v2.tag,
            "v1": v1.pk,
            "v2": v2.pk,
            "slippage": Decimal("0.4375"),  # dataset.SLIPPAGE_PER_QTY x 0.25, as add_fills makes
            "start": start,
            "step": step,
            "last": count - 1,
        },
    )
    return count


def _equity_and_decisions(cursor, bot_ids, start, days):
    cursor.execute(
        """
        INSERT INTO tradeops_equitysnapshot (bot_id, ts, equity, ingested_at)
        SELECT b.id, %(start)s + make_interval(hours => h),
            b.starting_equity + h * 2.5 + round((random() * 100)::numeric, 2), now()
        FROM tradeops_bot b CROSS JOIN generate_series(0, %(hours)s) AS h
        WHERE b.id = ANY(%(bots)s)
        """,
        {"start": start, "hours": days * 24 - 1, "bots": bot_ids},
    )
    cursor.execute(
        """
        INSERT INTO tradeops_decisioncount (bot_id, day, symbol, outcome, reason, count)
        SELECT b, (%(start)s::timestamptz AT TIME ZONE 'UTC')::date + d,
            'SYM' || lpad(s::text, 3, '0') || 'USDT', o.outcome, o.reason, o.n
        FROM unnest(%(bots)s) AS b CROSS JOIN generate_series(0, %(days)s) AS d
        CROSS JOIN generate_series(0, %(symbols)s - 1) AS s
        CROSS JOIN (VALUES ('no_signal', '', 1140), ('signal', '', 45),
            ('rejected', 'spread_too_wide', 90), ('rejected', 'risk_cap_reached', 60),
            ('rejected', 'cooldown_active', 20)) AS o(outcome, reason, n)
        """,
        {"start": start, "days": days, "bots": bot_ids, "symbols": SYMBOLS},
    )
