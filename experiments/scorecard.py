"""The experiment scorecard: what the candidate did, what its control did over the same hours,
and a verdict that means what it says however often anyone looks (experiments.verdicts).

With a shadow (a dry-run twin of the live bot running the baseline release on the same pairs
and days), the baseline is the shadow over the same elapsed time, and the candidate is compared
with it as twin trades and by UTC day, with an anytime-valid confidence sequence: "better" or
"worse" when the difference in net P&L per day excludes zero, "too early" before the minimum,
otherwise "inconclusive" worded by what the test can detect. Without a shadow the baseline is
the baseline release's 30 days before the start, shown for information, and the verdict is
"before/after only": the market moves between the two windows as much as a lever does.

Closed form, no resampling: the KPI figures come from the daily rollups, the verdict from the
test window's trades of both arms (a week of a busy bot: tens of thousands of rows); the
baseline window is read as per-trade P&L only when there is no shadow. The refresh job stores
the scorecard on the experiment (`refresh_scorecard`), the page shows the stored one, and a
decision computes and stores its own.
"""

import datetime
from decimal import Decimal

import numpy as np
from django.db import connection
from django.db.models import F, FloatField, Func, Q
from django.db.models.functions import Cast

from experiments import verdicts
from experiments.models import Experiment
from experiments.shadows import find_shadow
from kpis import queries
from kpis.calculations import money, rate
from kpis.registry import FIGURE_KEYS
from kpis.services import BASELINE_DAYS, compute_kpis
from tradeops.models import Trade

# The experiments whose scorecard the refresh job keeps: the ones still collecting evidence.
SCORED = (Experiment.Status.RUNNING, Experiment.Status.REVIEW)
DAY = datetime.timedelta(days=1)
# What the test's per-day figures divide by, as the scorecard says it.
ELAPSED = "elapsed"


class Epoch(Func):
    """A time as seconds since 1970 (float): PostgreSQL's epoch, SQLite's Julian day rescaled
    (Django's Extract has no epoch on SQLite, the embedded default)."""

    output_field = FloatField()
    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)"

    def as_sqlite(self, compiler, connection, **extra):
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra)


# How a trade is read for the verdict: its pair, side, times (epoch seconds) and net P&L.
_ARM_COLUMNS = {
    "symbol": F("symbol"),
    "side": F("side"),
    "opened_at": Epoch("opened_at"),
    "closed_at": Epoch("closed_at"),
    "net_pnl": Cast("net_pnl", FloatField()),
}


def _arm(bot, release, start, end):
    """The closed trades of `bot` on `release` closed in [start, end), as the verdict's arrays.

    Read with a plain cursor: the rows are plain values (the casts are in the SQL), and Django's
    per-value converters would cost more than the query on a busy bot's week."""
    trades = Trade.objects.filter(
        bot=bot,
        release=release,
        status=Trade.Status.CLOSED,
        closed_at__gte=start,
        closed_at__lt=end,
    )
    sql, params = trades.order_by().values_list(*_ARM_COLUMNS.values()).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) or [()] * len(_ARM_COLUMNS)
    return {
        name: np.array(values, dtype=object if name in ("symbol", "side") else float)
        for name, values in zip(_ARM_COLUMNS, columns, strict=True)
    }


def _net_pnl(window):
    """Each trade's net P&L as a float array, read without a Python object per trade."""
    rows = queries.closed_trades(window).values_list(Cast("net_pnl", FloatField()), flat=True)
    return np.fromiter(rows.iterator(chunk_size=20_000), float)


def per_elapsed_day(figures, elapsed_days):
    """The per-day figures over the days elapsed, a day begun counting by the time it has run:
    at 01:00 on the 7th day of a test started at 00:00, 6.04 days, not 7."""
    return figures | {
        "trades_per_day": rate(figures["trades"] / elapsed_days),
        "net_pnl_per_day": money(Decimal(figures["net_pnl"]) / Decimal(elapsed_days)),
    }


def build_scorecard(experiment, now):
    """Test: the candidate from the start to `now`, its per-day figures over the days elapsed
    (per_elapsed_day). Baseline: with a shadow, the shadow running the baseline release over the
    same days, the concurrent control the verdict compares with; without one, the baseline
    release's 30 days before the start (before/after: figures, never a verdict)."""
    bot, start, start_day = experiment.bot, experiment.started_at, experiment.started_at.date()
    # The KPI window reads whole UTC days: every day the test touched, today's too. The
    # candidate's trades are the test's own, since it runs only from the start.
    touched = max((now.date() - start_day).days + 1, 1)
    test_end = start_day + datetime.timedelta(days=touched)
    elapsed_days = max(now - start, datetime.timedelta(seconds=1)) / DAY
    planned_days = max(experiment.min_horizon_days, verdicts.PLANNED_DAYS)
    baseline_release, candidate_release = experiment.baseline_release, experiment.candidate_release
    test = compute_kpis(bot, touched, test_end, candidate_release)
    test_figures = per_elapsed_day(test.figures, elapsed_days)
    test_span = {"days": round(elapsed_days, 4), "days_basis": ELAPSED}
    test_span |= {"from": start.isoformat(), "to": now.isoformat()}
    candidate = _arm(bot, candidate_release, start, now)
    shadow = find_shadow(bot)
    if shadow is not None:
        base = compute_kpis(shadow, touched, test_end, baseline_release)
        base_figures = per_elapsed_day(base.figures, elapsed_days)
        baseline = {"bot": shadow.slug, "concurrent": True, **test_span}
        comparison = verdicts.shadow_verdict(
            candidate,
            _arm(shadow, baseline_release, start, now),
            start=start.timestamp(),
            now=now.timestamp(),
            planned_days=planned_days,
            currency=bot.quote_currency,
        )
    else:
        base = compute_kpis(bot, BASELINE_DAYS, start_day, baseline_release)
        base_figures = base.figures
        baseline = {"bot": bot.slug, "concurrent": False, "days": BASELINE_DAYS}
        baseline["to"] = start_day.isoformat()
        comparison = verdicts.before_after(
            _net_pnl(base.window),
            candidate["net_pnl"],
            baseline_days=BASELINE_DAYS,
            test_days=elapsed_days,
            planned_days=planned_days,
            currency=bot.quote_currency,
        )
    return {
        "baseline": {"release": baseline_release.tag, **baseline, "figures": base_figures},
        "test": {"release": candidate_release.tag, **test_span, "figures": test_figures},
        "kpis": [
            {
                "kpi": key,
                "baseline": base_figures[key],
                "test": test_figures[key],
                "primary": key in experiment.primary_kpis,
            }
            for key in FIGURE_KEYS
        ],
        "comparison": comparison,
        "verdict": comparison["verdict"],
        "trades": {"baseline": base_figures["trades"], "test": test_figures["trades"]},
    }


def refresh_scorecard(experiment, now):
    """Compute the scorecard as of `now` and store it on the experiment, unless the experiment
    has been decided or stopped since, or a later one is stored already (two runs raced).
    Returns whether it was stored."""
    card = build_scorecard(experiment, now)
    fresher = Q(scorecard_computed_at__isnull=True) | Q(scorecard_computed_at__lt=now)
    stored = Experiment.objects.filter(fresher, pk=experiment.pk, status__in=SCORED).update(
        scorecard=card, scorecard_computed_at=now
    )
    return stored == 1
