import datetime

from django.core.management.base import BaseCommand, CommandError

from tradeops.audit import EXPORT_FORMATS, export_audit
from tradeops.models import Bot


class Command(BaseCommand):
    help = (
        "Export the audit trail (the admin's export): a bot's rows or all, on UTC days "
        "since..until (both included), each with its hash. Check a JSON export with "
        "verify_audit --file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bot", help="bot slug; default every bot")
        day = datetime.date.fromisoformat
        parser.add_argument("--since", type=day, help="first UTC day, YYYY-MM-DD")
        parser.add_argument("--until", type=day, help="last UTC day, YYYY-MM-DD")
        parser.add_argument("--format", choices=EXPORT_FORMATS, default="json")
        parser.add_argument("--output", help="file to write; default standard output")

    def handle(self, *args, bot, since, until, format, output, **options):
        target = None
        if bot:
            target = Bot.objects.filter(slug=bot).first()
            if target is None:
                raise CommandError(f"no bot {bot!r}")
        if since and until and since > until:
            raise CommandError("--since is after --until")
        text = export_audit(format, bot=target, since=since, until=until)
        if output:
            with open(output, "w", encoding="utf-8", newline="") as file:
                file.write(text)
        else:
            self.stdout.write(text, ending="")
