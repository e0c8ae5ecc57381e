"""RQ entry points for ingestion (thin: the work is in ingestion.freqtrade)."""

from ingestion.freqtrade import sync_source
from ingestion.freqtrade_db import FreqtradeDatabaseError
from ingestion.models import FreqtradeSource
from tradeops.scheduling import recorded_job

SYNC_FREQTRADE = "ingestion.sync_freqtrade"


class FreqtradeSyncFailed(Exception):
    """Some freqtrade databases could not be read; the others were synced."""


@recorded_job(SYNC_FREQTRADE)
def sync_freqtrade_sources(now):
    """Every minute: what is new in each enabled freqtrade source of an active bot. A database
    that cannot be read does not hold up the others; the run then fails, naming each one (and
    each source keeps its own error), so the job runs list shows it."""
    synced, failed = {}, {}
    sources = FreqtradeSource.objects.filter(enabled=True, bot__is_active=True).select_related(
        "bot"
    )
    for source in sources.order_by("bot__slug"):
        try:
            synced[source.bot.slug] = sync_source(source, now=now).get("trades")
        except FreqtradeDatabaseError as exc:
            failed[source.bot.slug] = str(exc)
    if failed:
        raise FreqtradeSyncFailed(
            f"synced {len(synced)} source(s); could not read: "
            + "; ".join(f"{slug}: {error}" for slug, error in failed.items())
        )
    return {"synced": synced}
