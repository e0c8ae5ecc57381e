import json

from django.core.management.base import BaseCommand, CommandError

from tradeops.audit import verify_chain, verify_exported


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chain: name the first row changed or removed (exit status "
        "1), or say it is intact with its row count and head. With --file, check a JSON export "
        "(export_audit, the admin's export) and that the database still holds its rows unchanged."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", help="a JSON export to check")

    def handle(self, *args, file, **options):
        if file:
            self.check_file(file)
            return
        check = verify_chain()
        if not check.intact:
            self.stderr.write(f"audit chain broken after {check.rows} good row(s): {check.problem}")
            raise SystemExit(1)
        self.stdout.write(
            f"audit chain intact: {check.rows} row(s), head #{check.head_seq} {check.head_hash}"
        )

    def check_file(self, path):
        try:
            with open(path, encoding="utf-8") as export:
                rows = json.load(export)["events"]
            problem = verify_exported(rows)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"{path}: not an audit export ({exc!r})") from exc
        if problem:
            self.stderr.write(f"{path}: {problem}")
            raise SystemExit(1)
        self.stdout.write(f"{path}: {len(rows)} row(s) intact and as stored")
