import json

from django.core.management.base import BaseCommand, CommandError

from ingestion.parsing import UnparseableBody
from ingestion.services import ingest_file
from tradeops.models import Bot, IngestKind


class Command(BaseCommand):
    help = "Ingest an .ndjson/.jsonl/.json or .csv file through the same service as the API."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=IngestKind.values)
        parser.add_argument("path")
        parser.add_argument("--bot", required=True, help="bot slug")

    def handle(self, *args, kind, path, bot, **options):
        target = Bot.objects.filter(slug=bot).first()
        if target is None:
            raise CommandError(f"no bot {bot!r}")
        try:
            result = ingest_file(target, kind, path)
        except UnparseableBody as exc:
            raise CommandError(f"{path}: unparseable, kept in quarantine: {exc}") from None
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"accepted={result.accepted} updated={result.updated} "
            f"unchanged={result.unchanged} quarantined={result.quarantined}"
        )
        for error in result.errors:
            self.stdout.write(json.dumps(error, default=str))
