"""RQ entry points for the integrity checks (thin: the work is in integrity.services)."""

from integrity.alerts import deliver_due_alerts, queue_repeats
from integrity.loop import watch_bot_loop
from integrity.schedules import watch_schedules
from integrity.services import run_integrity_checks
from tradeops.models import Bot
from tradeops.scheduling import fan_out_job, recorded_job

DAILY_CHECKS = "integrity.daily_checks"
DISPATCH_ALERTS = "integrity.dispatch_alerts"
WATCH_SCHEDULES = "integrity.watch_schedules"
WATCH_BOT_LOOP = "integrity.watch_bot_loop"


@fan_out_job(DAILY_CHECKS)
def run_daily_integrity_checks(day):
    """The plan's daily integrity check for every active bot, once per UTC day (a missed day run
    late checks the data as it is now): one job per bot (`check_bot`)."""


def active_bots(day):
    return Bot.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)


def check_bot(bot_id, day):
    check_run = run_integrity_checks(Bot.objects.get(pk=bot_id), triggered_by="daily job")
    return {"check_run": check_run.pk}


@recorded_job(DISPATCH_ALERTS)
def dispatch_alerts(now):
    """Queue due repeats, then send every due alert (each minute, and right after an incident)."""
    repeats = queue_repeats(now)
    sent = deliver_due_alerts(now)
    return {
        "repeats": len(repeats),
        "attempted": len(sent),
        "sent": sum(d.status == "sent" for d in sent),
    }


@recorded_job(WATCH_SCHEDULES)
def watch_schedules_job(now):
    """The dead man's switch on its own schedule (it also runs from the ingestion API)."""
    return {"missed": [incident.key for incident in watch_schedules(now)]}


@recorded_job(WATCH_BOT_LOOP)
def watch_bot_loop_job(now):
    """Config drift and silent bots (integrity.loop), every minute: the grace is minutes."""
    found = watch_bot_loop(now)
    return {"incidents": [f"{bot.slug}:{finding.kind}" for bot, finding in found]}
