"""RQ entry points of the operating cadence (thin: the work is in cadence.services and
cadence.digest)."""

from cadence.digest import deliver_due_digests
from cadence.services import queue_daily_digests, refresh_trigger_headroom
from tradeops.scheduling import recorded_job

DAILY_DIGESTS = "cadence.daily_digests"
TRIGGER_HEADROOM = "cadence.trigger_headroom"


@recorded_job(DAILY_DIGESTS)
def send_daily_digests(now):
    """Queue the digest of every bot whose digest hour has come today (once per day and
    channel), then send the digests due, retries included."""
    queued = queue_daily_digests(now)
    sent = deliver_due_digests(now)
    return {
        "queued": [str(message) for message in queued],
        "attempted": [str(message) for message in sent],
    }


@recorded_job(TRIGGER_HEADROOM)
def refresh_trigger_headroom_job(now):
    """What the command center shows under "trigger headroom", for every live change."""
    return {"bots": refresh_trigger_headroom(now)}
