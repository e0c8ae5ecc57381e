import datetime

from django.core.management.base import BaseCommand

from demo.scenario import DEMO_BOT, DEMO_PASSWORD, DEMO_USERS, PRACTICE, load_demo


class Command(BaseCommand):
    help = "Load the deterministic demo history for one bot through the ingestion service."

    def add_arguments(self, parser):
        parser.add_argument(
            "--end-date",
            type=datetime.date.fromisoformat,
            help="last day (exclusive) of the history, YYYY-MM-DD; default today (UTC)",
        )
        parser.add_argument("--days", type=int, default=45)
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/admin/", help="where the demo's admin is served"
        )

    def handle(self, *args, end_date, days, url, **options):
        summary = load_demo(end_date=end_date, days=days)
        if summary is None:
            self.stdout.write(f"Demo bot {DEMO_BOT} already loaded; nothing to do.")
        else:
            for kind, counts in summary.items():
                figures = " ".join(f"{name}={value}" for name, value in counts.items())
                self.stdout.write(f"{kind:<10} {figures}")
        self.stdout.write(f"\nOpen {url} and log in as one of:")
        for username, role in [*DEMO_USERS, ("admin", "superuser")]:
            self.stdout.write(f"  {username:<9} / {DEMO_PASSWORD}   ({role})")
        self.stdout.write('\nTo practise (docs/operations.md, "Practise with the demo"):')
        for item in PRACTICE:
            self.stdout.write(f"  - {item}")
