from django.conf import settings
from django.contrib.staticfiles.management.commands.runserver import Command as RunserverCommand
from django.core.management.base import CommandError

from tradeops.embedded import Scheduler, sped_up_clock
from tradeops.schedule import SCHEDULE


class Command(RunserverCommand):
    help = (
        "The embedded default, whole: the development server and, in the same process, the "
        "schedule (tradeops.schedule) that rqcron and the workers run with Redis. Without "
        "REDIS_URL only. Takes runserver's arguments, e.g. `run_embedded 127.0.0.1:8001`."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--clock-speed",
            type=float,
            default=1.0,
            help="run the schedule's clock this many times faster than the wall clock (tests)",
        )

    def handle(self, *args, **options):
        if settings.REDIS_URL:
            raise CommandError(
                "REDIS_URL is set: the schedule runs under rqcron and the RQ workers "
                "(docs/operations.md, 'Workers and schedules'), and a second scheduler here "
                "would run it twice. "
                "Unset REDIS_URL for the embedded default, or serve with runserver or gunicorn."
            )
        super().handle(*args, **options)

    def inner_run(self, *args, **options):
        # Called once in the process that serves (the autoreloader's child, or this one with
        # --noreload), so there is one scheduler, restarted with the server on a reload.
        speed = options["clock_speed"]
        if speed == 1:
            scheduler = Scheduler()
        else:
            scheduler = Scheduler(clock=sped_up_clock(speed), poll=max(0.05, 1 / speed))
        scheduler.start()
        self.stdout.write(
            f"Schedule: {len(SCHEDULE)} jobs of tradeops.schedule run in this process, "
            f"one thread per queue ({', '.join(scheduler.lanes)})"
            + (f", at {speed:g} times the wall clock's speed" if speed != 1 else "")
        )
        super().inner_run(*args, **options)
