"""RQ entry points for the decision framework (thin: the work is in experiments.triggers and
experiments.scorecard). Both fan out: one job per experiment (or holding scaling step)."""

from experiments.models import Experiment, ScalingStep
from experiments.scorecard import SCORED, refresh_scorecard
from experiments.triggers import evaluate_live_change, live_changes
from tradeops.scheduling import fan_out_job

EVALUATE_TRIGGERS = "experiments.evaluate_triggers"
REFRESH_SCORECARDS = "experiments.refresh_scorecards"
EXPERIMENT, STEP = "experiment-", "step-"


@fan_out_job(EVALUATE_TRIGGERS)
def evaluate_triggers_job(period=None):
    """The hard rollback triggers of every live experiment and holding scaling step: one job
    each (`evaluate_subject`)."""


def live_subjects(now):
    return [
        f"{STEP if isinstance(change, ScalingStep) else EXPERIMENT}{change.pk}"
        for change in live_changes()
    ]


def evaluate_subject(unit, now):
    """One live experiment's or holding step's triggers (experiments.triggers)."""
    if unit.startswith(STEP):
        change = ScalingStep.objects.get(pk=unit.removeprefix(STEP))
    else:
        change = Experiment.objects.get(pk=unit.removeprefix(EXPERIMENT))
    return {"stopped": str(change)} if evaluate_live_change(change, now) else {}


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
