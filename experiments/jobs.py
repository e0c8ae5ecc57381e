"""RQ entry points for the decision framework (thin: the work is in experiments.triggers)."""

from django.utils import timezone

from experiments.triggers import evaluate_live_changes
from tradeops.scheduling import AlreadyDone, recorded_run

EVALUATE_TRIGGERS = "experiments.evaluate_triggers"


def evaluate_triggers_job():
    now = timezone.now()
    try:
        with recorded_run(EVALUATE_TRIGGERS, now.isoformat(timespec="microseconds")) as run:
            fired = evaluate_live_changes(now)
            run.detail = {"stopped": [str(subject) for subject, evidence in fired if evidence]}
    except AlreadyDone:
        pass
