"""Heartbeats: a bot says which release it runs and which trading mode it applies, as often as
every minute (docs/design.md, "The loop with the bot").

The trading mode (`trading`: trade, stop_entries, exit_all; "" when the heartbeat leaves it out)
is kept on the pulse only: the stop watch (integrity.loop) reads it there.

A heartbeat updates the bot's BotPulse in place (its last heartbeat, the release it runs and
since when); it is stored as a HealthEvent only when the running release changes (the first
heartbeat included), so the health event table holds the changes, not a row a minute. Every
heartbeat is still accounted for in the ingest response: one that moves the pulse forward is
`accepted`, one older than the last heard (out of order: a later one superseded it) or the same
again (a retry) is `unchanged`, one stamped with the last heard moment but another release is a
conflict (quarantined: the bot said two things of one moment), and one that reports a new
release is stored and counted as any health event.

A batch of heartbeats only touches the pulse: it writes no IngestBatch row, and the API lets a
bot send at most HEARTBEATS_PER_MINUTE of them a minute (429 past that). A batch with any other
health record (a state change, a HALT) is never held back.
"""

import datetime

from ingestion.counters import count_in_window
from ingestion.models import HeartbeatCount
from tradeops.models import BotPulse, HealthKind


class TooManyHeartbeats(Exception):
    """The bot sent more heartbeat-only batches this minute than it may (HTTP 429)."""

    def __init__(self, per_minute, retry_after):
        super().__init__(
            f"more than {per_minute} heartbeat batches this minute; one a minute is enough"
        )
        self.retry_after = retry_after


def only_heartbeats(valid, malformed):
    """Whether a cleaned health batch is heartbeats and nothing else."""
    return (
        bool(valid) and not malformed and all(c["kind"] == HealthKind.HEARTBEAT for _, c in valid)
    )


def count_heartbeat_batch(bot, per_minute, now):
    """Count a heartbeat-only batch in the bot's current UTC minute; TooManyHeartbeats once the
    bot has sent more than `per_minute` of them in it."""
    minute = now.replace(second=0, microsecond=0)
    counted = HeartbeatCount.objects.filter(bot=bot, minute=minute)
    count_in_window(
        counted,
        "batches",
        open_window=lambda: HeartbeatCount.objects.create(bot=bot, minute=minute, batches=1),
        stale=HeartbeatCount.objects.filter(bot=bot, minute__lt=minute),
    )
    if counted.values_list("batches", flat=True).first() > per_minute:
        next_minute = minute + datetime.timedelta(minutes=1)
        raise TooManyHeartbeats(per_minute, max(1, int((next_minute - now).total_seconds()) + 1))


def take_heartbeats(bot, valid):
    """Apply the heartbeats among `valid` [(record, clean)] health records to the bot's pulse.

    Returns (the records to store as health events: the others and the heartbeats that changed
    the running release, accepted, unchanged, conflicts [(record, errors)]): the counts of the
    heartbeats kept on the pulse only. Runs in the batch's transaction: the pulse row is locked
    until it commits.
    """
    heartbeats = [item for item in valid if item[1]["kind"] == HealthKind.HEARTBEAT]
    if not heartbeats:
        return valid, 0, 0, []
    to_store = [item for item in valid if item[1]["kind"] != HealthKind.HEARTBEAT]
    pulse = BotPulse.objects.select_for_update().filter(bot=bot).first()
    accepted = unchanged = 0
    conflicts = []
    for item in sorted(heartbeats, key=lambda item: item[1]["ts"]):
        ts, release, trading = item[1]["ts"], item[1]["running_release"], item[1]["trading"]
        if (
            pulse is not None
            and ts == pulse.last_heartbeat_at
            and (release, trading) != (pulse.running_release, pulse.trading)
        ):
            said = f"{pulse.running_release} ({pulse.trading or 'no trading mode'})"
            conflicts.append(
                (item[0], {"_conflict": f"the bot already reported {said} at {ts.isoformat()}"})
            )
            continue
        if pulse is not None and ts <= pulse.last_heartbeat_at:
            unchanged += 1
            continue
        if pulse is None or release != pulse.running_release:
            pulse = BotPulse(bot=bot, running_release=release, running_since=ts)
            to_store.append(item)
        else:
            accepted += 1
        pulse.last_heartbeat_at, pulse.trading = ts, trading
    # A first heartbeat racing another creates the row twice: the batch is retried (IntegrityError).
    pulse.save()
    return to_store, accepted, unchanged, conflicts
