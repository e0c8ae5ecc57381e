"""Reads for the KPI engine: the database aggregates, pandas gets small frames.

Trades are rolled up per UTC day of their close; decisions are already daily counts; fill-level
slippage is already attributed to each trade at ingestion (Trade.realized_slippage). Only one
per-trade column is read: net P&L in close order, for the drawdown curve when the bot sends no
equity snapshots. Equity at a moment reads the daily P&L rollup PostgreSQL keeps (DailyPnl), not
every close before the moment.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count, DecimalField, F, Q, Subquery, Sum
from django.db.models.functions import Abs, Coalesce, TruncDate

from tradeops.models import DecisionCount, EquitySnapshot, Trade
from tradeops.models.trading import DailyPnl

MONEY = DecimalField(max_digits=30, decimal_places=12)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Window:
    bot: object
    days: int
    as_of: datetime.date
    release: object = None

    @property
    def end(self):
        return datetime.datetime.combine(self.as_of, datetime.time(), tzinfo=datetime.UTC)

    @property
    def start(self):
        return self.end - datetime.timedelta(days=self.days)


def closed_trades(window):
    trades = Trade.objects.filter(
        bot=window.bot, status=Trade.Status.CLOSED, closed_at__gte=window.start
    ).filter(closed_at__lt=window.end)
    if window.release is not None:
        trades = trades.filter(release=window.release)
    return trades


def daily_trade_rollup(window):
    """One row per UTC day with closes: counts and sums every trade KPI is made of."""
    has_estimates = Q(est_fees__isnull=False)
    has_funding_estimate = Q(est_funding__isnull=False)
    # Only trades with both sides of the slippage story: unknown realized slippage is not zero.
    has_slippage_estimate = Q(est_slippage_bps__isnull=False, realized_slippage__isnull=False)
    rows = (
        closed_trades(window)
        .annotate(
            day=TruncDate("closed_at", tzinfo=datetime.UTC),
            trade_slippage_drift=F("realized_slippage")
            - F("est_slippage_bps") / 10000 * F("qty") * (F("entry_price") + F("exit_price")),
        )
        .values("day")
        .annotate(
            trades=Count("id"),
            pnl=Sum("net_pnl"),
            wins=Count("id", filter=Q(net_pnl__gt=0)),
            win_pnl=Sum("net_pnl", filter=Q(net_pnl__gt=0), default=ZERO),
            losses=Count("id", filter=Q(net_pnl__lt=0)),
            loss_pnl=Sum("net_pnl", filter=Q(net_pnl__lt=0), default=ZERO),
            longs=Count("id", filter=Q(side=Trade.Side.LONG)),
            unknown_exits=Count("id", filter=Trade.unknown_exit(window.bot)),
            fees_n=Count("id", filter=has_estimates),
            fees_drift=Sum(F("fees") - F("est_fees"), filter=has_estimates, default=ZERO),
            fees_abs=Sum(Abs(F("fees") - F("est_fees")), filter=has_estimates, default=ZERO),
            funding_n=Count("id", filter=has_funding_estimate),
            funding_drift=Sum(
                F("funding") - F("est_funding"), filter=has_funding_estimate, default=ZERO
            ),
            funding_abs=Sum(
                Abs(F("funding") - F("est_funding")), filter=has_funding_estimate, default=ZERO
            ),
            slippage_n=Count("id", filter=has_slippage_estimate),
            slippage_drift=Sum("trade_slippage_drift", filter=has_slippage_estimate, default=ZERO),
            slippage_abs=Sum(
                Abs("trade_slippage_drift"), filter=has_slippage_estimate, default=ZERO
            ),
        )
        .order_by("day")
    )
    return list(rows)


def net_pnl_in_close_order(window):
    return list(closed_trades(window).order_by("closed_at", "id").values_list("net_pnl", flat=True))


def equity_points(window):
    return list(
        EquitySnapshot.objects.filter(bot=window.bot, ts__gte=window.start, ts__lt=window.end)
        .order_by("ts")
        .values_list("ts", "equity")
    )


def equity_at(bot, moment):
    """Account equity at `moment`, or None when the account size is unknown.

    The last equity snapshot stamped at or before `moment`: a snapshot stamped exactly at the
    moment is the reading at that moment (a bot that reports its equity at 00:00 UTC gives each
    day its opening figure). Without one, the bot's starting equity plus the net P&L of trades
    closed strictly before `moment`: a close stamped exactly then belongs to the period that
    starts then (every KPI window is [start, end)), so a curve that starts here counts it once.
    """
    reading = (
        EquitySnapshot.objects.filter(bot=bot, ts__lte=moment)
        .order_by("-ts")
        .values_list("equity", flat=True)
        .first()
    )
    if reading is not None:
        return reading
    if bot.starting_equity is None:
        return None
    return bot.starting_equity + closes_before(bot, moment)


def closes_before(bot, moment):
    """Net P&L of the bot's closes strictly before `moment`, in one query: the whole days before
    from the daily rollup, the rest from the trades closed that day (on PostgreSQL; the SQLite
    first-look default keeps no rollup and sums the trades)."""
    closes = Trade.objects.filter(bot=bot, status=Trade.Status.CLOSED, closed_at__lt=moment)
    if connection.vendor != "postgresql":
        return closes.aggregate(total=Sum("net_pnl", default=ZERO))["total"]
    day = moment.astimezone(datetime.UTC).date()
    days_before = (
        DailyPnl.objects.filter(bot=bot, day__lt=day)
        .values("bot")
        .annotate(total=Sum("net_pnl"))
        .values("total")
    )
    same_day = closes.filter(closed_at__gte=Window(bot, 0, day).end)
    return same_day.aggregate(
        total=Sum("net_pnl", default=ZERO) + Coalesce(Subquery(days_before), ZERO)
    )["total"]


def daily_decisions(window):
    """Decision counts per (day, outcome, reason) over all symbols."""
    return list(
        DecisionCount.objects.filter(
            bot=window.bot, day__gte=window.start.date(), day__lt=window.as_of
        )
        .values("day", "outcome", "reason")
        .annotate(count=Sum("count"))
        .order_by("day", "outcome", "reason")
    )
