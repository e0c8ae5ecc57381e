from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.module_loading import import_string
from django_rq.management.commands.rqenqueue import Command as EnqueueCommand

from tradeops.models import JobRun
from tradeops.schedule import BY_FUNC


class Command(EnqueueCommand):
    help = (
        "Run a job: `rqenqueue <dotted.path> [arg ...]`, e.g. a missed day, "
        "`rqenqueue kpis.jobs.compute_daily_snapshots 2026-11-20`. With REDIS_URL it is queued for "
        "the workers, a scheduled job on its schedule's queue with its timeout; without (the "
        "embedded default, where no worker would ever take it) it runs here and now."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        # No default, so that a scheduled job goes to its own queue unless told otherwise.
        parser.set_defaults(queue=None)

    def handle(self, *args, **options):
        if not args:
            raise CommandError("name the job to run: its dotted path, then its arguments")
        path, arguments = args[0], args[1:]
        schedule = BY_FUNC.get(path)
        if settings.REDIS_URL:
            options["queue"] = options["queue"] or (schedule.queue if schedule else "default")
            if schedule and options["timeout"] is None:
                options["timeout"] = schedule.timeout
            return super().handle(*args, **options)
        try:
            job = import_string(path)
        except ImportError as error:
            raise CommandError(f"no job {path!r}: {error}") from error
        self.stdout.write(f"No REDIS_URL (the embedded default): running {path} here.")
        started = timezone.now()
        try:
            job(*arguments)
        except Exception as error:
            raise CommandError(f"{path} failed: {error!r} (its JobRun keeps the trace)") from error
        name = getattr(job, "schedule_name", None)
        if name is None:
            self.stdout.write(f"{path} done.")
            return
        runs = JobRun.objects.filter(name=name, started_at__gte=started)
        if not runs.exists():
            self.stdout.write(f"{name}: nothing to do, it already succeeded for that key.")
            return
        failed = list(runs.filter(outcome=JobRun.Outcome.FAILED).values_list("key", flat=True))
        self.stdout.write(f"{name}: {runs.count()} run(s) recorded, {len(failed)} failed.")
        if failed:
            raise CommandError(f"{name} failed for {', '.join(failed)}: see their JobRuns")
