from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from tradeops.services import create_bot


class Command(BaseCommand):
    help = "Create a bot and print its first API token (shown once; only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--exchange", default="")

    def handle(self, *args, slug, name, exchange, **options):
        try:
            bot, token = create_bot(slug=slug, name=name, exchange=exchange)
        except IntegrityError:
            raise CommandError(
                f"bot {slug!r} already exists; use create_token for a new token"
            ) from None
        self.stdout.write(f"Created bot {bot.slug}.")
        self.stdout.write(f"API token (store it now, it is not shown again): {token}")
