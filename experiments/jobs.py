"""RQ entry points for the decision framework (thin: the work is in experiments.triggers,
experiments.scorecard and experiments.releases.push). The triggers and the scorecards fan out:
one job per experiment (or holding scaling step); the release push is one job."""

from experiments.models import Experiment, ScalingStep
from experiments.releases.push import deliver_due_pushes
from experiments.scorecard import SCORED, refresh_scorecard
from experiments.triggers import evaluate_live_change, live_changes
from tradeops.scheduling import fan_out_job, recorded_job

EVALUATE_TRIGGERS = "experiments.evaluate_triggers"
REFRESH_SCORECARDS = "experiments.refresh_scorecards"
# Named when the push lived in integrity; kept, so its JobRun history reads as one.
PUSH_RELEASE_CHANGES = "integrity.push_release_changes"
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


@recorded_job(PUSH_RELEASE_CHANGES)
def push_release_changes(now):
    """Send every due release push: right after a change commits, and each minute the retries."""
    pushed = deliver_due_pushes(now)
    return {"attempted": len(pushed), "sent": sum(push.status == "sent" for push in pushed)}
