"""The KPI formulas of docs/design.md ("The KPIs"), one function each, over the frames
kpis.queries reads.

Sums of money stay Decimal (exact, from the database); pandas does the ratios, the drawdown
curve and the daily series in float. Presentation rounding happens in `present`: money as
decimal strings with MONEY_PLACES places, rates as fractions with RATE_PLACES places.
"""

import datetime
import math
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd

MONEY_PLACES = 8
RATE_PLACES = 6
TOP_REJECTIONS = 3
COST_PARTS = ("fees", "funding", "slippage")


def money(value):
    if value is None:
        return None
    quantized = Decimal(value).quantize(Decimal(1).scaleb(-MONEY_PLACES), ROUND_HALF_EVEN)
    return f"{quantized:f}"  # fixed point: 0.00000000, never 0E-8


INFINITY = "Infinity"  # JSON has no infinity; a profit factor with no losses is stored as this


def rate(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if math.isinf(value):
        return INFINITY
    return round(float(value), RATE_PLACES)


def ratio(numerator, denominator):
    return None if not denominator else numerator / denominator


def profit_factor(win_pnl, loss_pnl):
    """Gross profit / gross loss; infinity when there are wins and no losses, None with neither."""
    if loss_pnl == 0:
        return math.inf if win_pnl > 0 else None
    return float(win_pnl) / abs(float(loss_pnl))


def max_drawdown(equity):
    """Largest peak-to-trough fall of an equity curve: (absolute, fraction of the peak).

    The same formula walks a trade curve inside the database: kpis.queries.trade_curve_drawdown.
    """
    if len(equity) == 0:
        return 0.0, None
    values = np.asarray(equity, dtype=float)
    peaks = np.maximum.accumulate(values)
    falls = peaks - values
    with np.errstate(divide="ignore", invalid="ignore"):
        fractions = np.where(peaks > 0, falls / peaks, np.nan)
    worst_fraction = None if np.all(np.isnan(fractions)) else float(np.nanmax(fractions))
    return float(falls.max()), worst_fraction


def trade_kpis(rollup, days):
    """Everything computed from the daily trade rollup."""
    frame = pd.DataFrame(rollup)
    totals = frame.drop(columns=["day"]).sum() if not frame.empty else None

    def total(column):
        return totals[column] if totals is not None else 0

    trades = int(total("trades"))
    net_pnl = Decimal(total("pnl") or 0)
    losses = int(total("losses"))
    cost_drift = {}
    for part in COST_PARTS:
        count = int(total(f"{part}_n"))
        cost_drift[part] = {
            "trades": count,
            "sum": money(Decimal(total(f"{part}_drift") or 0)),
            "mae": money(ratio(Decimal(total(f"{part}_abs") or 0), count)),
        }
    return {
        "trades": trades,
        "trades_per_day": rate(trades / days),
        "net_pnl": money(net_pnl),
        "net_pnl_per_day": money(net_pnl / days),
        "avg_pnl_per_trade": money(ratio(net_pnl, trades)),
        "win_rate": rate(ratio(int(total("wins")), trades)),
        "profit_factor": rate(profit_factor(total("win_pnl"), total("loss_pnl"))),
        "avg_loss_per_trade": money(ratio(Decimal(total("loss_pnl") or 0), losses)),
        "unknown_exit_pct": rate(ratio(int(total("unknown_exits")), trades)),
        "side_mix": {
            "long": rate(ratio(int(total("longs")), trades)),
            "short": rate(ratio(trades - int(total("longs")), trades)),
        },
        "cost_drift": cost_drift,
    }


def decision_kpis(decisions):
    frame = pd.DataFrame(decisions, columns=["day", "outcome", "reason", "count"])
    all_decisions = int(frame["count"].sum())
    no_signal = int(frame.loc[frame["outcome"] == "no_signal", "count"].sum())
    rejected = frame[frame["outcome"] == "rejected"]
    by_reason = rejected.groupby("reason")["count"].sum().reset_index()
    by_reason = by_reason.sort_values(["count", "reason"], ascending=[False, True])
    total_rejected = int(by_reason["count"].sum())
    return {
        "decisions": all_decisions,
        "no_signal_pct": rate(ratio(no_signal, all_decisions)),
        "top_rejection_reasons": [
            {
                "reason": row.reason,
                "count": int(row.count),
                "share": rate(row.count / total_rejected),
            }
            for row in by_reason.head(TOP_REJECTIONS).itertuples()
        ],
    }


def daily_series(window_days, start_day, rollup, decisions, equity_by_day):
    """Per-day figures for charts: one entry per day of the window, empty days included.

    Both inputs are already one row per day (and outcome and reason), so this only lays them
    out by day; plain dictionaries do that in microseconds where a pandas pivot took 10 ms.
    """
    by_day = {row["day"]: row for row in rollup}
    reasons = sorted({row["reason"] for row in decisions if row["outcome"] == "rejected"})
    per_day, no_signal, rejections = Counter(), Counter(), {}
    for row in decisions:
        per_day[row["day"]] += row["count"]
        if row["outcome"] == "no_signal":
            no_signal[row["day"]] += row["count"]
        elif row["outcome"] == "rejected":
            day_rejections = rejections.setdefault(row["day"], dict.fromkeys(reasons, 0))
            day_rejections[row["reason"]] += row["count"]
    series = []
    for day in (start_day + datetime.timedelta(days=n) for n in range(window_days)):
        row = by_day.get(day, {})
        n = row.get("trades", 0)
        series.append(
            {
                "day": day.isoformat(),
                "trades": n,
                "net_pnl": money(row.get("pnl", 0)),
                "win_rate": rate(ratio(row.get("wins", 0), n)),
                "long_share": rate(ratio(row.get("longs", 0), n)),
                "no_signal_pct": rate(ratio(no_signal[day], per_day[day])),
                "rejections": {
                    str(reason): int(count)
                    for reason, count in rejections.get(day, dict.fromkeys(reasons, 0)).items()
                },
                "equity": money(equity_by_day.get(day)),
            }
        )
    return series
