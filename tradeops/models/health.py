"""What the bot reports of its health: heartbeats, state changes and safety events, and the
instability read from them (the circuit breaker, the integrity checks, the rollback triggers)."""

from django.db import models
from django.db.models import Q

from tradeops.models.base import HealthKind, HealthState, choices_check
from tradeops.models.bots import Bot


class HealthEvent(models.Model):
    State = HealthState

    Kind = HealthKind

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="health_events")
    ts = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, blank=True)
    detail = models.TextField(blank=True)
    # A database default too: writers that list their columns (COPY, raw SQL) need not know it.
    running_release = models.CharField(
        max_length=100,
        blank=True,
        default="",
        db_default="",
        help_text="Of a heartbeat: the release tag the bot runs.",
    )
    ingested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ts"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "ts", "kind"], name="health_event_unique"),
            models.CheckConstraint(
                condition=Q(kind="heartbeat", running_release__gt="")
                | (~Q(kind="heartbeat") & Q(running_release="")),
                name="health_running_release_of_heartbeat",
            ),
            choices_check("kind", HealthKind, "health_kind_valid"),
            models.CheckConstraint(
                condition=Q(state__in=["", *HealthState.values]), name="health_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind="state_change") | ~Q(state=""),
                name="health_state_change_has_state",
            ),
        ]
        indexes = [
            models.Index(fields=["-ts", "-id"], name="health_recent_idx"),
            # A bot's health state is its latest state change (the command center reads it for
            # every bot at once). State changes are rare among a year of events: without this,
            # a bot with none scans every bot's events (7.4 s for the page at 200k events).
            models.Index(
                fields=["bot", "-ts", "-id"],
                condition=Q(kind="state_change"),
                name="health_state_change_idx",
            ),
        ]

    def __str__(self):
        return f"{self.ts:%Y-%m-%d %H:%M} {self.kind} {self.state}"

    @property
    def is_halt_entry(self):
        return self.kind == HealthKind.STATE_CHANGE and self.state == HealthState.HALT

    @classmethod
    def instability(cls, bot, since, until):
        """The bot's safety instability in [since, until], oldest first: every kill-switch,
        degraded and safety-trigger event, and every entry into DEGRADED or HALT reported as a
        state change, however the bot reports it. An entry is a change to a state other than the
        one before it: a bot that repeats DEGRADED while degraded entered it once (the state in
        force at `since`, its last report before, counts as the one before). Reports stamped with
        the same moment are one occurrence, told the state change's way when there is one (a bot
        that sends a `degraded` event and its state change DEGRADED together was unstable once).
        """
        events = cls.objects.filter(
            bot=bot,
            kind__in=[HealthKind.STATE_CHANGE, *SAFETY_EVENT_KINDS],
            ts__gte=since,
            ts__lte=until,
        ).order_by("ts", "id")
        previous = (
            cls.objects.filter(bot=bot, kind=HealthKind.STATE_CHANGE, ts__lt=since)
            .order_by("-ts", "-id")
            .values_list("state", flat=True)
            .first()
        )
        unstable = []
        for event in events:
            if event.kind == HealthKind.STATE_CHANGE:
                entered, previous = event.state != previous, event.state
                if not entered or event.state not in UNSAFE_STATES:
                    continue
            if unstable and unstable[-1].ts == event.ts:
                if event.kind == HealthKind.STATE_CHANGE:
                    unstable[-1] = event
                continue
            unstable.append(event)
        return unstable


# Events that are instability whenever they come; a state change is only when it enters one of
# the unsafe states (HealthEvent.instability).
SAFETY_EVENT_KINDS = (HealthKind.KILL_SWITCH, HealthKind.DEGRADED, HealthKind.SAFETY_TRIGGER)
UNSAFE_STATES = (HealthState.DEGRADED, HealthState.HALT)
