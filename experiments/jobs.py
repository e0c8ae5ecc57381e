"""RQ entry points for the decision framework (thin: the work is in experiments.triggers)."""

from experiments.triggers import evaluate_live_changes
from tradeops.scheduling import recorded_job

EVALUATE_TRIGGERS = "experiments.evaluate_triggers"


@recorded_job(EVALUATE_TRIGGERS)
def evaluate_triggers_job(now):
    """The hard rollback triggers of every running experiment."""
    fired = evaluate_live_changes(now)
    return {"stopped": [str(subject) for subject, evidence in fired if evidence]}
