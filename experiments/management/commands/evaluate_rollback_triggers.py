from django.core.management.base import BaseCommand

from experiments.models import Experiment
from experiments.triggers import evaluate_running_experiments


class Command(BaseCommand):
    help = "Evaluate the hard rollback triggers of every running experiment now."

    def handle(self, *args, **options):
        results = evaluate_running_experiments()
        if not results:
            self.stdout.write("No experiment is running.")
        for pk, fired in results.items():
            name = Experiment.objects.get(pk=pk).name
            if fired:
                self.stdout.write(f"{name}: STOPPED — " + "; ".join(f["summary"] for f in fired))
            else:
                self.stdout.write(f"{name}: no trigger fired")
