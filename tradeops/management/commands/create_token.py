from django.core.management.base import BaseCommand, CommandError

from tradeops.models import Bot
from tradeops.services import issue_api_token


class Command(BaseCommand):
    help = "Issue another API token for a bot (shown once; only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--label", default="")

    def handle(self, *args, slug, label, **options):
        bot = Bot.objects.filter(slug=slug).first()
        if bot is None:
            raise CommandError(f"no bot {slug!r}")
        token = issue_api_token(bot, label=label)
        self.stdout.write(
            f"API token for {bot.slug} (store it now, it is not shown again): {token}"
        )
