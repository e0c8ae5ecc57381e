"""RQ entry points for ingestion (thin: the work is in ingestion.freqtrade)."""

from ingestion.freqtrade import sync_source
from ingestion.models import FreqtradeSource
from tradeops.scheduling import fan_out_job

SYNC_FREQTRADE = "ingestion.sync_freqtrade"


@fan_out_job(SYNC_FREQTRADE)
def sync_freqtrade_sources(period=None):
    """Every minute: what is new in each enabled freqtrade source of an active bot, one job per
    source (`sync_one_source`). A database that cannot be read fails its own job only, naming
    it in the job runs list (and the source keeps its error)."""


def enabled_sources(now):
    sources = FreqtradeSource.objects.filter(enabled=True, bot__is_active=True)
    return sources.order_by("pk").values_list("pk", flat=True)


def sync_one_source(source_id, now):
    source = FreqtradeSource.objects.select_related("bot").get(pk=source_id)
    return {source.bot.slug: sync_source(source, now=now).get("trades")}
