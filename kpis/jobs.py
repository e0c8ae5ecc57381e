"""RQ entry points for the KPI engine (thin: the work is in kpis.services)."""

from kpis.services import BASELINE_WINDOWS, capture_snapshot
from tradeops.models import Bot
from tradeops.scheduling import fan_out_job

DAILY_SNAPSHOTS = "kpis.daily_snapshots"


@fan_out_job(DAILY_SNAPSHOTS)
def compute_daily_snapshots(day):
    """7d and 30d snapshots of every active bot as of the day the job runs for: one job per bot
    (`snapshot_bot`)."""


def active_bots(day):
    return Bot.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)


def snapshot_bot(bot_id, as_of):
    """One bot's 7d and 30d snapshots as of the day."""
    bot = Bot.objects.get(pk=bot_id)
    return {"snapshots": [capture_snapshot(bot, days, as_of).pk for days in BASELINE_WINDOWS]}
