from django.core.management.base import BaseCommand

from experiments.triggers import evaluate_live_changes


class Command(BaseCommand):
    help = (
        "Evaluate the hard rollback triggers of every running experiment and holding scaling "
        "step now."
    )

    def handle(self, *args, **options):
        results = evaluate_live_changes()
        if not results:
            self.stdout.write("No experiment is running and no scaling step is holding.")
        for subject, fired in results:
            if fired:
                self.stdout.write(f"{subject}: STOPPED — " + "; ".join(f["summary"] for f in fired))
            else:
                self.stdout.write(f"{subject}: no trigger fired")
