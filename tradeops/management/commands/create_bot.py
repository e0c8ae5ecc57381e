from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from tradeops.models import Bot
from tradeops.services import create_bot


class Command(BaseCommand):
    help = "Create a bot and print its first API token (shown once; only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--exchange", default="")
        parser.add_argument(
            "--shadow-of",
            metavar="LIVE_SLUG",
            help="Create the shadow of this live bot: dry-run, on its exchange and pairs, "
            "running the experiment's baseline while one runs on the live bot.",
        )

    def handle(self, *args, slug, name, exchange, shadow_of, **options):
        live = None
        if shadow_of:
            live = Bot.objects.filter(slug=shadow_of).first()
            if live is None:
                raise CommandError(f"no bot {shadow_of!r} to shadow")
        if Bot.objects.filter(slug=slug).exists():
            raise CommandError(f"bot {slug!r} already exists; use create_token for a new token")
        try:
            bot, token = create_bot(slug=slug, name=name, exchange=exchange, shadow_of=live)
        except IntegrityError:
            raise CommandError(
                f"bot {slug!r} already exists; use create_token for a new token"
            ) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"Created bot {bot.slug}.")
        if live is not None:
            runs = bot.current_release.tag if bot.current_release else "nothing yet"
            self.stdout.write(
                f"It shadows {live.slug} (dry-run, on {bot.exchange or 'its exchange'}); "
                f"it runs {runs}."
            )
        self.stdout.write(f"API token (store it now, it is not shown again): {token}")
