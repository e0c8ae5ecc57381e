import datetime
import json

from django.core.management.base import BaseCommand, CommandError

from kpis.registry import figure_rows
from kpis.services import compute_kpis, today
from tradeops.exports import plain_text
from tradeops.models import Bot, ConfigRelease


class Command(BaseCommand):
    help = "Compute the KPI set for a bot and window on demand (nothing is stored)."

    def add_arguments(self, parser):
        parser.add_argument("--bot", required=True, help="bot slug")
        parser.add_argument("--days", type=int, required=True, help="window length N")
        parser.add_argument(
            "--as-of",
            type=datetime.date.fromisoformat,
            help="window end, exclusive, YYYY-MM-DD (UTC); default today",
        )
        parser.add_argument("--release", help="only trades of this release tag")
        parser.add_argument("--format", choices=["json", "table"], default="table")

    def handle(self, *args, bot, days, as_of, release, format, **options):
        target = Bot.objects.filter(slug=bot).first()
        if target is None:
            raise CommandError(f"no bot {bot!r}")
        release_obj = None
        if release:
            release_obj = ConfigRelease.objects.filter(bot=target, tag=release).first()
            if release_obj is None:
                raise CommandError(f"bot {bot!r} has no release {release!r}")
        if days < 1:
            raise CommandError("--days must be at least 1")
        result = compute_kpis(target, days, as_of or today(), release_obj)
        if format == "json":
            self.stdout.write(json.dumps(result.figures, indent=2))
            return
        scope = f"release {release}" if release else "all releases"
        self.stdout.write(f"{bot}: {days}d to {result.window.as_of} ({scope})")
        for label, value in figure_rows(result.figures):
            self.stdout.write(f"  {label:<28} {plain_text(value)}")  # a bot's reasons
