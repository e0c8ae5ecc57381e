"""The one KPI service: every figure the experiments, triggers, reviews and reports use."""

import datetime
import hashlib
import json
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from kpis import calculations as calc
from kpis import queries
from kpis.models import BaselineReport, KPISnapshot
from kpis.registry import FIGURE_KEYS

# The plan's baseline of a release: its last 30 days (the baseline report adds the last 7).
BASELINE_DAYS = 30
BASELINE_WINDOWS = (7, BASELINE_DAYS)


@dataclass
class KPIResult:
    window: queries.Window
    figures: dict
    daily: list
    inputs: dict
    fingerprint: str


def _drawdown(window, rollup):
    """Max drawdown from equity snapshots, else from the trades' own equity curve.

    Returns (abs, pct, source, equity at each day's end, the curve's inputs for the fingerprint).
    A release-filtered window always uses its own trades: the account's snapshots mix releases.
    """
    points = queries.equity_points(window) if window.release is None else []
    if points:
        absolute, fraction = calc.max_drawdown([equity for _, equity in points])
        end_of_day = {ts.date(): equity for ts, equity in points}
        return absolute, fraction, "equity_snapshots", end_of_day, points
    start_equity = queries.equity_at(window.bot, window.start)
    absolute, fraction = queries.trade_curve_drawdown(window, start_equity)
    if start_equity is None:
        fraction = None  # a fall without a known account size is not a percentage
    end_of_day, running = {}, start_equity
    if start_equity is not None:
        for row in rollup:
            running += row["pnl"]
            end_of_day[row["day"]] = running
    return absolute, fraction, "trades", end_of_day, [start_equity, absolute, fraction]


def compute_kpis(bot, days, as_of, release=None):
    """All KPIs of docs/design.md ("The KPIs") for closed trades in [as_of - days, as_of), UTC.
    A pure read: it stores nothing (`capture_snapshot` stores)."""
    if days < 1:
        raise ValueError("a KPI window is at least one day")
    window = queries.Window(bot=bot, days=days, as_of=as_of, release=release)
    rollup = queries.daily_trade_rollup(window)
    decisions = queries.daily_decisions(window)
    absolute, fraction, source, equity_by_day, curve = _drawdown(window, rollup)

    figures = calc.trade_kpis(rollup, days)
    figures.update(calc.decision_kpis(decisions))
    figures["max_drawdown_abs"] = calc.money(absolute)
    figures["max_drawdown_pct"] = calc.rate(fraction)
    figures = {key: figures[key] for key in FIGURE_KEYS} | {
        "decisions": figures["decisions"],
        "drawdown_source": source,
        "days_with_closes": len(rollup),
    }
    inputs = {
        "bot": bot.slug,
        "window_days": days,
        "as_of": as_of.isoformat(),
        "release": release.tag if release else None,
        "known_exit_reasons": sorted(bot.known_exit_reasons or []),
        "closed_trades": figures["trades"],
        "decision_rows": len(decisions),
        "equity_snapshots": len(curve) if source == "equity_snapshots" else 0,
    }
    digest = hashlib.sha256(
        json.dumps([inputs, rollup, decisions, curve], default=str).encode()
    ).hexdigest()
    daily = calc.daily_series(days, window.start.date(), rollup, decisions, equity_by_day)
    return KPIResult(window, figures, daily, inputs, digest)


def capture_snapshot(bot, days, as_of, release=None):
    """Compute and store the snapshot; the same inputs again leave the stored one as it is."""
    result = compute_kpis(bot, days, as_of, release)
    with transaction.atomic():
        snapshot = (
            KPISnapshot.objects.select_for_update()
            .filter(bot=bot, window_days=days, as_of=as_of, release=release)
            .first()
        )
        if snapshot is not None and snapshot.fingerprint == result.fingerprint:
            return snapshot
        values = {
            "figures": result.figures,
            "daily": result.daily,
            "inputs": result.inputs,
            "fingerprint": result.fingerprint,
            "computed_at": timezone.now(),
        }
        if snapshot is None:
            return KPISnapshot.objects.create(
                bot=bot, window_days=days, as_of=as_of, release=release, **values
            )
        for name, value in values.items():
            setattr(snapshot, name, value)
        snapshot.save()
        return snapshot


def capture_baseline(release, *, captured_by, as_of=None):
    """The plan's baseline report for a release: its 7d and 30d snapshots, side by side.

    Only an approved release is a baseline: a draft is not what the bot runs.
    """
    if not release.is_approved:
        raise ValueError(
            f"release {release.tag} is not approved; only an approved release "
            "can have a baseline report"
        )
    as_of = as_of or timezone.now().date()
    snapshots = {
        days: capture_snapshot(release.bot, days, as_of, release) for days in BASELINE_WINDOWS
    }
    report, _ = BaselineReport.objects.update_or_create(
        release=release,
        as_of=as_of,
        defaults={
            "snapshot_7d": snapshots[7],
            "snapshot_30d": snapshots[30],
            "captured_at": timezone.now(),
            "captured_by": captured_by,
        },
    )
    return report


def today():
    return datetime.datetime.now(datetime.UTC).date()
