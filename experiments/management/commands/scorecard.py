from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from experiments.models import Experiment
from experiments.scorecard import SCORED, build_scorecard, refresh_scorecard
from kpis.registry import format_figure

SIDES = ("baseline", "test")


class Command(BaseCommand):
    help = (
        "Print an experiment's scorecard as of now: the verdict, what it rests on and the KPIs "
        "side by side. --store keeps it on the experiment, as the 15-minute job does."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "experiment", nargs="?", type=int, help="its id; every running one if left out"
        )
        parser.add_argument("--store", action="store_true", help="store it on the experiment")

    def handle(self, *args, experiment=None, store=False, **options):
        experiments = Experiment.objects.select_related(
            "bot", "baseline_release", "candidate_release"
        )
        if experiment is not None:
            experiments = experiments.filter(pk=experiment)
            if not experiments.exists():
                raise CommandError(f"no experiment {experiment}")
        else:
            experiments = experiments.filter(status__in=SCORED)
        now = timezone.now()
        for exp in experiments.order_by("pk"):
            if exp.started_at is None:
                self.stdout.write(f"{exp}: not started, no scorecard")
                continue
            card = build_scorecard(exp, now)
            self._write(exp, card)
            if store:
                stored = refresh_scorecard(exp, now)
                self.stdout.write("  stored" if stored else "  not stored: decided or newer one")

    def _write(self, exp, card):
        comparison, baseline = card["comparison"], card["baseline"]
        self.stdout.write(f"{exp} (#{exp.pk}): {card['verdict'].upper()}")
        self.stdout.write(f"  {comparison['wording']}")
        if comparison.get("per_day"):
            day, trade = comparison["per_day"], comparison["per_trade"]
            self.stdout.write(
                f"  net P&L a day {day['difference']:+.2f} [{day['low']:+.2f}, {day['high']:+.2f}]"
                f", a trade {trade['difference']:+.2f} [{trade['low']:+.2f}, {trade['high']:+.2f}]"
                f" ({comparison['confidence']:.0%}, anytime-valid)"
            )
        pairing = comparison.get("pairing")
        if pairing:
            self.stdout.write(
                f"  {pairing['twins']} twin trades, {pairing['candidate_only']} only the "
                f"candidate took, {pairing['shadow_only']} only the shadow took, "
                f"{pairing['days']} whole day(s)"
            )
        where = (
            f"shadow {baseline['bot']}, same days"
            if baseline.get("concurrent")
            else f"{baseline['days']} days to {baseline['to']}"
        )
        self.stdout.write(
            f"  baseline {baseline['release']} ({where}) | test {card['test']['release']}"
        )
        for row in card["kpis"]:
            mark = "*" if row["primary"] else " "
            figures = " | ".join(format_figure(row["kpi"], row[side]) for side in SIDES)
            self.stdout.write(f"  {mark} {row['kpi']:<28} {figures}")
