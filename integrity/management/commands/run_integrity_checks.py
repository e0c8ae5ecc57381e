import json

from django.core.management.base import BaseCommand, CommandError

from integrity.models import IntegrityIncident
from integrity.services import run_all_integrity_checks
from tradeops.models import Bot


class Command(BaseCommand):
    help = (
        "Run the integrity checks now. Exits with status 2 while a critical incident is open, so "
        "a cron wrapper or CI step can act on it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bot", help="bot slug; default every active bot")
        parser.add_argument("--format", choices=["json", "table"], default="table")

    def handle(self, *args, bot, format, **options):
        bots = None
        if bot:
            bots = list(Bot.objects.filter(slug=bot))
            if not bots:
                raise CommandError(f"no bot {bot!r}")
        runs = run_all_integrity_checks(triggered_by="command", bots=bots)
        critical = IntegrityIncident.objects.filter(
            bot__in=[run.bot for run in runs], severity=IntegrityIncident.Severity.CRITICAL
        ).exclude(status=IntegrityIncident.Status.RESOLVED)
        if format == "json":
            payload = [
                {"bot": run.bot.slug, "violations": run.violations, "results": run.results}
                for run in runs
            ]
            self.stdout.write(json.dumps(payload, indent=2, default=str))
        else:
            for run in runs:
                self.stdout.write(f"{run.bot.slug}: {run.violations} violation(s)")
                for result in run.results:
                    found = result["violations"]
                    status = (
                        "ok"
                        if not found
                        else "; ".join(
                            f"[{v['severity']}] {v['title']} ({v['count']})" for v in found
                        )
                    )
                    self.stdout.write(f"  {result['check']:<20} {status}")
        if critical.exists():
            titles = ", ".join(f"{i.bot.slug}: {i.title}" for i in critical)
            self.stderr.write(f"critical incidents open: {titles}")
            raise SystemExit(2)
