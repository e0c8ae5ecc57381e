"""RQ entry points for the decision framework (thin: the work is in experiments.triggers and
experiments.scorecard). Both fan out: one job per experiment (or holding scaling step)."""

from experiments.models import LIVE, Experiment, ScalingStep
from experiments.scaling import complete_scaling_step
from experiments.scorecard import SCORED, refresh_scorecard
from experiments.triggers import evaluate_rollback_triggers
from tradeops.scheduling import fan_out_job

EVALUATE_TRIGGERS = "experiments.evaluate_triggers"
REFRESH_SCORECARDS = "experiments.refresh_scorecards"
EXPERIMENT, STEP = "experiment-", "step-"


@fan_out_job(EVALUATE_TRIGGERS)
def evaluate_triggers_job(period=None):
    """The hard rollback triggers of every live experiment and holding scaling step: one job
    each (`evaluate_subject`)."""


def live_subjects(now):
    experiments = Experiment.objects.filter(status__in=LIVE).order_by("pk")
    steps = ScalingStep.objects.filter(status=ScalingStep.Status.HOLDING).order_by("pk")
    return [f"{EXPERIMENT}{pk}" for pk in experiments.values_list("pk", flat=True)] + [
        f"{STEP}{pk}" for pk in steps.values_list("pk", flat=True)
    ]


def evaluate_subject(unit, now):
    """One live experiment's or holding step's triggers; a step whose hold ended without a
    trigger is completed (as experiments.triggers.evaluate_live_changes does for all)."""
    if unit.startswith(STEP):
        step = ScalingStep.objects.get(pk=unit.removeprefix(STEP))
        fired = evaluate_rollback_triggers(step, now)
        if not fired and step.status == ScalingStep.Status.HOLDING and step.hold_until <= now:
            complete_scaling_step(step, now)
        return {"stopped": str(step)} if fired else {}
    experiment = Experiment.objects.get(pk=unit.removeprefix(EXPERIMENT))
    return {"stopped": str(experiment)} if evaluate_rollback_triggers(experiment, now) else {}


@fan_out_job(REFRESH_SCORECARDS)
def refresh_scorecards(period=None):
    """The stored scorecard of every experiment running or in review, as of each one's run: one
    job per experiment (`refresh_experiment_scorecard`)."""


def scored_experiments(now):
    return Experiment.objects.filter(status__in=SCORED).order_by("pk").values_list("pk", flat=True)


def refresh_experiment_scorecard(experiment_id, now):
    experiment = Experiment.objects.select_related(
        "bot", "baseline_release", "candidate_release"
    ).get(pk=experiment_id)
    return {"refreshed": refresh_scorecard(experiment, now)}
