from django.core.management.base import BaseCommand

from tradeops.roles import ROLE_GRANTS, ensure_roles


class Command(BaseCommand):
    help = "Create or refresh the Team lead, Operator and Viewer groups and their permissions."

    def handle(self, *args, **options):
        ensure_roles()
        self.stdout.write(f"Roles up to date: {', '.join(ROLE_GRANTS)}")
