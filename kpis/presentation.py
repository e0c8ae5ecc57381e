"""How KPI figures read for people: labels in the plan's template order, rounded values."""

from decimal import Decimal

from kpis.calculations import INFINITY

# The plan's baseline template order, then the other KPIs.
LABELS = [
    ("trades", "closed trades"),
    ("trades_per_day", "trades/day"),
    ("net_pnl_per_day", "net P&L/day"),
    ("avg_pnl_per_trade", "avg P&L/trade"),
    ("win_rate", "win rate"),
    ("profit_factor", "profit factor"),
    ("max_drawdown_abs", "max drawdown"),
    ("max_drawdown_pct", "max drawdown %"),
    ("no_signal_pct", "% no_signal"),
    ("top_rejection_reasons", "top 3 rejection reasons"),
    ("unknown_exit_pct", "% unknown exit reasons"),
    ("net_pnl", "net P&L"),
    ("avg_loss_per_trade", "avg loss/trade"),
    ("side_mix", "side mix (long / short)"),
    ("cost_drift", "cost drift (sum / MAE)"),
]
PERCENT_KEYS = {"win_rate", "max_drawdown_pct", "no_signal_pct", "unknown_exit_pct"}
MONEY_KEYS = {
    "net_pnl",
    "net_pnl_per_day",
    "avg_pnl_per_trade",
    "avg_loss_per_trade",
    "max_drawdown_abs",
}


def percent(value):
    return "n/a" if value is None else f"{value * 100:.2f}%"


def money(value):
    return "n/a" if value is None else f"{Decimal(value):,.2f}"


def format_figure(key, value):
    if key in PERCENT_KEYS:
        return percent(value)
    if key in MONEY_KEYS:
        return money(value)
    if key == "profit_factor":
        return "∞" if value == INFINITY else ("n/a" if value is None else f"{value:.2f}")
    if key == "trades_per_day":
        return f"{value:.1f}"
    if key == "top_rejection_reasons":
        return (
            ", ".join(f"{r['reason']} {r['count']} ({percent(r['share'])})" for r in value) or "-"
        )
    if key == "side_mix":
        return f"{percent(value['long'])} / {percent(value['short'])}"
    if key == "cost_drift":
        return "; ".join(
            f"{part} {money(drift['sum'])} / {money(drift['mae'])}" for part, drift in value.items()
        )
    return str(value)


def figure_rows(figures):
    return [(label, format_figure(key, figures[key])) for key, label in LABELS]
