from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ingestion.freqtrade import configure_source, sync_source
from ingestion.freqtrade_db import FreqtradeDatabaseError, check_freqtrade_database
from ingestion.models import FreqtradeSource
from tradeops.models import Bot


class Command(BaseCommand):
    help = (
        "Import a freqtrade bot's trades and orders from its database (read-only), from where "
        "the last sync stopped. --db-url configures the bot's freqtrade source (the first time, "
        "or to point it at another database); without it, the configured one is read."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bot", required=True, help="bot slug")
        parser.add_argument(
            "--db-url",
            help="freqtrade's db_url, e.g. sqlite:////freqtrade/user_data/tradesv3.sqlite",
        )
        parser.add_argument(
            "--no-schedule",
            action="store_true",
            help="when configuring a new source, leave it out of the every-minute sync",
        )

    def handle(self, *args, bot, db_url, no_schedule, **options):
        target = Bot.objects.filter(slug=bot).first()
        if target is None:
            raise CommandError(f"no bot {bot!r}")
        now = timezone.now()
        if db_url:
            try:
                # Checked before it is kept: a mistyped URL does not replace a working one.
                check_freqtrade_database(db_url)
            except ValueError as exc:
                raise CommandError(f"--db-url: {exc}") from None
            except FreqtradeDatabaseError as exc:
                raise CommandError(f"--db-url: {exc}") from None
            source = configure_source(target, db_url, now=now, enabled=not no_schedule)
        else:
            source = FreqtradeSource.objects.filter(bot=target).first()
            if source is None:
                raise CommandError(f"bot {bot!r} has no freqtrade source yet: give --db-url")
        try:
            outcome = sync_source(source, now=now)
        except FreqtradeDatabaseError as exc:
            raise CommandError(str(exc)) from None
        if "skipped" in outcome:
            self.stdout.write(outcome["skipped"])
            return
        trades, fills = outcome["trades"], outcome["fills"]
        self.stdout.write(
            f"{outcome['trades_read']} trades read (up to freqtrade trade "
            f"{outcome['last_trade_id']}, {outcome['open_trades']} open): "
            + "; ".join(
                f"{kind} " + " ".join(f"{name}={count}" for name, count in counts.items())
                for kind, counts in (("trades", trades), ("fills", fills))
            )
        )
        if trades["quarantined"] or fills["quarantined"]:
            self.stdout.write("refused records are in Quarantined records, with their errors")
