"""The plan's experiment queue (section 4) as templates: A first, B post-A, C post-B.

Each template carries the plan's rationale and success criteria and the levers it may pull;
drafting one makes the candidate release (the baseline with the one lever changed) and the
experiment, queued behind the latest experiment of the template before it.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from experiments.models import Experiment
from experiments.releases import create_release
from experiments.services import baseline_to_test_against, create_experiment


@dataclass(frozen=True)
class PlanExperiment:
    key: str
    name: str
    levers: tuple
    rationale: str
    success_criteria: str
    primary_kpis: tuple
    secondary_kpis: tuple
    after: str = ""


PLAN = {
    "A": PlanExperiment(
        key="A",
        name="Experiment A: directional concentration control",
        levers=("side_balance_pressure",),
        rationale="Closed trades are heavily one-sided (short concentration risk). Add soft "
        "side-balance pressure, not hard bans; risk caps unchanged.",
        success_criteria="Reduced side concentration (side mix closer to balanced); similar or "
        "improved expectancy (net P&L/trade) and max drawdown.",
        primary_kpis=("avg_pnl_per_trade", "profit_factor"),
        secondary_kpis=(
            "side_mix",
            "max_drawdown_pct",
            "trades_per_day",
            "win_rate",
            "avg_loss_per_trade",
            "top_rejection_reasons",
        ),
    ),
    "B": PlanExperiment(
        key="B",
        name="Experiment B: entry quality calibration",
        levers=("fib_proximity_bps", "entry_zone_tolerance_pct"),
        rationale="Keep the gain in opportunity capture while reducing adverse selection. "
        "Fine-tune exactly one of fib_proximity_bps or entry_zone_tolerance_pct, never both in "
        "the same cycle.",
        success_criteria="Maintain the higher signal throughput (trades/day, % no_signal); "
        "improve profit factor and avg P&L/trade.",
        primary_kpis=("profit_factor", "avg_pnl_per_trade"),
        secondary_kpis=(
            "trades_per_day",
            "no_signal_pct",
            "win_rate",
            "avg_loss_per_trade",
            "max_drawdown_pct",
            "top_rejection_reasons",
        ),
        after="A",
    ),
    "C": PlanExperiment(
        key="C",
        name="Experiment C: execution cost accuracy",
        levers=("cost_model_slippage_bps",),
        rationale="Better fee/funding/slippage truth improves optimization quality: the cost "
        "model the entry filter uses, checked against fill-level realized costs.",
        success_criteria="Reduced model-vs-realized cost error (cost drift MAE of fees, funding "
        "and slippage); expectancy not worse, so expectancy decisions can be trusted.",
        primary_kpis=("cost_drift", "avg_pnl_per_trade"),
        secondary_kpis=("profit_factor", "trades_per_day", "win_rate", "max_drawdown_pct"),
        after="B",
    ),
}


def latest_of(bot, key):
    return Experiment.objects.filter(bot=bot, plan_key=key).order_by("-created_at").first()


def draft_from_plan(*, bot, key, lever, value, tag, by, git_commit="", now=None):
    """Experiment `key` of the plan as a draft: candidate = baseline with `lever` set to `value`."""
    template = PLAN.get(key)
    if template is None:
        raise ValidationError(f"the plan's queue has experiments {', '.join(PLAN)}, not {key}")
    if lever not in template.levers:
        raise ValidationError(
            f"{template.name} changes exactly one of {' or '.join(template.levers)}, not {lever}"
        )
    prerequisite = latest_of(bot, template.after) if template.after else None
    if template.after and prerequisite is None:
        raise ValidationError(
            f"{template.name} is queued after Experiment {template.after}: draft that first"
        )
    baseline = baseline_to_test_against(bot)
    with transaction.atomic():
        candidate = create_release(
            based_on=baseline,
            changes={lever: value},
            tag=tag,
            by=by,
            git_commit=git_commit,
            notes=f"{template.name}: {lever} {baseline.params.get(lever)!r} → {value!r}",
            now=now,
        )
        experiment = create_experiment(
            bot=bot,
            name=template.name,
            lever=lever,
            candidate=candidate,
            success_criteria=template.success_criteria,
            rationale=template.rationale,
            baseline=baseline,
            prerequisite=prerequisite,
            primary_kpis=template.primary_kpis,
            secondary_kpis=template.secondary_kpis,
            plan_key=key,
            by=by,
            now=now,
        )
    return experiment
