"""RQ entry points for the decision framework (thin: the work is in experiments.triggers and
experiments.scorecard)."""

from experiments.models import Experiment
from experiments.scorecard import SCORED, refresh_scorecard
from experiments.triggers import evaluate_live_changes
from tradeops.scheduling import recorded_job

EVALUATE_TRIGGERS = "experiments.evaluate_triggers"
REFRESH_SCORECARDS = "experiments.refresh_scorecards"


@recorded_job(EVALUATE_TRIGGERS)
def evaluate_triggers_job(now):
    """The hard rollback triggers of every live experiment and holding scaling step."""
    fired = evaluate_live_changes(now)
    return {"stopped": [str(subject) for subject, evidence in fired if evidence]}


@recorded_job(REFRESH_SCORECARDS)
def refresh_scorecards(now):
    """The stored scorecard of every experiment running or in review, as of the run."""
    experiments = Experiment.objects.filter(status__in=SCORED).select_related(
        "bot", "baseline_release", "candidate_release"
    )
    return {"refreshed": [str(exp) for exp in experiments if refresh_scorecard(exp, now)]}
