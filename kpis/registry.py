"""The KPI registry: every KPI of docs/design.md ("The KPIs") with its key, label and format,
in the one order they are listed everywhere.

The order: the closed-trade count the other figures rest on, then the plan's baseline
template, then the other KPIs. `compute_kpis` (its JSON and table), the snapshot pages, the
baseline report and its exports, and the experiment scorecard all read it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from kpis.calculations import INFINITY, TOP_REJECTIONS


def percent(value):
    return "n/a" if value is None else f"{value * 100:.2f}%"


def money(value):
    return "n/a" if value is None else f"{Decimal(value):,.2f}"


def count(value):
    return str(value)


def per_day(value):
    return f"{value:.1f}"


def factor(value):
    return "∞" if value == INFINITY else ("n/a" if value is None else f"{value:.2f}")


def rejections(value):
    return ", ".join(f"{r['reason']} {r['count']} ({percent(r['share'])})" for r in value) or "-"


def side_mix(value):
    return f"{percent(value['long'])} / {percent(value['short'])}"


def cost_drift(value):
    return "; ".join(
        f"{part} {money(drift['sum'])} / {money(drift['mae'])}" for part, drift in value.items()
    )


@dataclass(frozen=True)
class KPI:
    key: str  # as in the JSON, the exports and the stored snapshots
    label: str  # as people read it
    format: Callable[..., str]  # the figure as people read it


KPIS = (
    KPI("trades", "closed trades", count),
    KPI("trades_per_day", "trades/day", per_day),
    KPI("net_pnl_per_day", "net P&L/day", money),
    KPI("avg_pnl_per_trade", "avg P&L/trade", money),
    KPI("win_rate", "win rate", percent),
    KPI("profit_factor", "profit factor", factor),
    KPI("max_drawdown_abs", "max drawdown", money),
    KPI("max_drawdown_pct", "max drawdown %", percent),
    KPI("no_signal_pct", "% no_signal", percent),
    KPI("top_rejection_reasons", f"top {TOP_REJECTIONS} rejection reasons", rejections),
    KPI("unknown_exit_pct", "% unknown exit reasons", percent),
    KPI("net_pnl", "net P&L", money),
    KPI("avg_loss_per_trade", "avg loss/trade", money),
    KPI("side_mix", "side mix (long / short)", side_mix),
    KPI("cost_drift", "cost drift (sum / MAE)", cost_drift),
)
FIGURE_KEYS = tuple(kpi.key for kpi in KPIS)
LABELS = {kpi.key: kpi.label for kpi in KPIS}
_BY_KEY = {kpi.key: kpi for kpi in KPIS}


def format_figure(key, value):
    kpi = _BY_KEY.get(key)
    return kpi.format(value) if kpi else str(value)


# The formats whose figures subtract: the scorecard's difference column (test − baseline).
_SIGNED = {
    count: lambda d: f"{d:+,.0f}",
    per_day: lambda d: f"{d:+.1f}",
    money: lambda d: f"{d:+,.2f}",
    percent: lambda d: f"{d * 100:+.2f} pp",
    factor: lambda d: f"{d:+.2f}",
}


def is_money(key):
    """The KPI is an amount in the bot's quote currency."""
    kpi = _BY_KEY.get(key)
    return kpi is not None and kpi.format is money


def format_difference(key, baseline, test):
    """test − baseline as people read it ("+12.30", "-1.50 pp"), or "" where the figures do not
    subtract (a list, a mix, an infinite profit factor, a missing side)."""
    kpi = _BY_KEY.get(key)
    signed = _SIGNED.get(kpi.format) if kpi else None
    if signed is None or baseline is None or test is None or INFINITY in (baseline, test):
        return ""
    try:
        return signed(Decimal(str(test)) - Decimal(str(baseline)))
    except ArithmeticError:  # a stored "inf" or "nan" string
        return ""


def figure_rows(figures):
    """[(label, figure as text)] for every KPI, in the registry's order."""
    return [(kpi.label, kpi.format(figures[kpi.key])) for kpi in KPIS]
