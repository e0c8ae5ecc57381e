"""Reads for the KPI engine: the database aggregates, pandas gets small frames.

Trades are rolled up per UTC day of their close: on PostgreSQL the database keeps that rollup as
trades are written (DailyCloses), so a window reads a few rows a day, not its closes, and equity at
a moment reads the days before it, not every close. Decisions are already daily counts; fill-level
slippage is already attributed to each trade at ingestion (Trade.realized_slippage). Only the
drawdown of a trade curve (a bot without equity snapshots, or one release's trades) walks the
window's closes, inside the database.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, Q, Subquery, Sum
from django.db.models.functions import Abs, Coalesce, TruncDate

from kpis.calculations import COST_PARTS
from tradeops.models import DecisionCount, EquitySnapshot, Trade
from tradeops.models.trading import DailyCloses

ZERO = Decimal(0)


def day_start(day):
    """Midnight UTC opening `day`: where a KPI window, a trigger's day and a review's day begin."""
    return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)


def utc_day(moment):
    """The UTC day `moment` falls on (day_start's inverse)."""
    return moment.astimezone(datetime.UTC).date()


@dataclass(frozen=True)
class Window:
    bot: object
    days: int
    as_of: datetime.date
    release: object = None

    @property
    def end(self):
        return day_start(self.as_of)

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
    """One row per UTC day with closes: counts and sums every trade KPI is made of.

    On PostgreSQL from the rollup the database keeps (a few rows a day, whatever the closes); the
    SQLite first-look default keeps none and aggregates the closes (`closes_by_day`).
    """
    if connection.vendor != "postgresql":
        return closes_by_day(window)
    groups = DailyCloses.objects.filter(
        bot=window.bot, day__gte=window.start.date(), day__lt=window.as_of
    )
    if window.release is not None:
        groups = groups.filter(release=window.release)
    # The rollup's columns are named like the figures: annotate under a prefix, then strip it.
    sums = {f"sum_{key}": Sum(column) for key, column in ROLLUP_COLUMNS.items()}
    sums["sum_unknown_exits"] = Sum("trades", filter=Trade.unknown_exit(window.bot), default=0)
    rows = groups.values("day").annotate(**sums).filter(sum_trades__gt=0).order_by("day")
    return [{"day": row["day"]} | {key: row[f"sum_{key}"] for key in ROLLUP_KEYS} for row in rows]


# What the rollup holds for each figure of a day (DailyCloses' columns).
ROLLUP_COLUMNS = {
    "trades": "trades",
    "pnl": "net_pnl",
    "wins": "wins",
    "win_pnl": "win_pnl",
    "losses": "losses",
    "loss_pnl": "loss_pnl",
    "longs": "longs",
    **{f"{part}_{sum_}": f"{part}_{sum_}" for part in COST_PARTS for sum_ in ("n", "drift", "abs")},
}
ROLLUP_KEYS = [*ROLLUP_COLUMNS, "unknown_exits"]


def closes_by_day(window):
    """The same rows as `daily_trade_rollup`, aggregated from the window's closes."""
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
            pnl=Sum("net_pnl", default=ZERO),
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


TRADE_CURVE_FALLS = """
SELECT MAX(fall), MAX(CASE WHEN %s + peak > 0 THEN fall / (%s + peak) END)
FROM (
    SELECT CASE WHEN peak > 0 THEN peak ELSE 0 END - equity AS fall,
           CASE WHEN peak > 0 THEN peak ELSE 0 END AS peak
    FROM (
        SELECT equity, MAX(equity) OVER (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING) AS peak
        FROM (
            SELECT closed_at, id,
                   SUM(CAST(net_pnl AS DOUBLE PRECISION))
                       OVER (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING) AS equity
            FROM ({closes}) AS closes
        ) AS curve
    ) AS peaks
) AS falls
"""


def trade_curve_drawdown(window, start_equity):
    """Max drawdown of the curve `start_equity` + the window's closes in close order, as
    calc.max_drawdown gives it for that curve: (absolute, fraction of the peak), floats.

    The database walks the curve, so a window of a million closes costs no memory here, in
    floats as calc.max_drawdown does. Equity is kept relative to the start (the start is a peak
    of 0); only the fraction needs the start. An index holds the closes in curve order with
    their P&L and release (trade_bot_closes_idx), so the walk reads neither the table nor a sort.
    """
    base = float(start_equity or 0)
    closes = closed_trades(window).order_by().values("closed_at", "id", "net_pnl")
    sql, params = closes.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(TRADE_CURVE_FALLS.format(closes=sql), [base, base, *params])
        fall, fraction = cursor.fetchone()
    fractions = [float(fraction)] if fraction is not None else []
    if base > 0:
        fractions.append(0.0)  # the start itself: a peak with no fall yet
    return float(fall or 0), max(fractions) if fractions else None


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
        DailyCloses.objects.filter(bot=bot, day__lt=day)
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


def closes_per_bot_day(bots, first_day, last_day):
    """{(bot id, day): (closes, net P&L)} for the UTC days first_day..last_day of several bots in
    one query: from the daily rollup on PostgreSQL, from the closes on the SQLite default."""
    if connection.vendor == "postgresql":
        rows = (
            DailyCloses.objects.filter(bot__in=bots, day__gte=first_day, day__lte=last_day)
            .values("bot", "day")
            .annotate(closes=Sum("trades"), net=Sum("net_pnl"))
            .filter(closes__gt=0)
            .values_list("bot", "day", "closes", "net")
        )
    else:
        start = Window(None, 0, first_day).end
        end = Window(None, 0, last_day + datetime.timedelta(days=1)).end
        rows = (
            Trade.objects.filter(
                bot__in=bots, status=Trade.Status.CLOSED, closed_at__gte=start, closed_at__lt=end
            )
            .annotate(day=TruncDate("closed_at", tzinfo=datetime.UTC))
            .values("bot", "day")
            .annotate(closes=Count("id"), net=Sum("net_pnl"))
            .values_list("bot", "day", "closes", "net")
        )
    return {(bot, day): (closes, net) for bot, day, closes, net in rows}


def exit_reasons_per_bot(bots, since, until):
    """{bot id: {exit reason: closes}} for the closes in (since, until] of several bots, in one
    query (the 24 h the unknown-exit check looks at)."""
    rows = (
        Trade.objects.filter(
            bot__in=bots, status=Trade.Status.CLOSED, closed_at__gt=since, closed_at__lte=until
        )
        .values("bot", "exit_reason")
        .annotate(closes=Count("id"))
        .values_list("bot", "exit_reason", "closes")
        .order_by()
    )
    reasons = {}
    for bot, reason, closes in rows:
        reasons.setdefault(bot, {})[reason] = closes
    return reasons
