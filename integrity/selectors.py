"""Reads of the integrity app that other screens show. Reads never write."""

import datetime
from dataclasses import dataclass

from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from integrity.alerts import CRITICAL_PATHS, firing_paths_of
from integrity.models import AlertDelivery, IntegrityCheckRun, IntegrityIncident
from tradeops.models import HealthEvent

Kind = IntegrityIncident.Kind
UTC = datetime.UTC
# The plan's exit criterion: this many consecutive days with no integrity violations.
INTEGRITY_GATE_DAYS = 3


@dataclass(frozen=True)
class IntegrityGate:
    """The plan's section 2 gate on a bot: INTEGRITY_GATE_DAYS clean days in a row, and a test
    alert confirmed as received on every critical path."""

    clean_days: int
    paths: dict  # critical path: its latest confirmed test (alerts.FiringPath), or None

    @property
    def tested(self):
        """The critical paths tested and confirmed firing."""
        return sum(1 for firing in self.paths.values() if firing)

    @property
    def passed(self):
        return self.clean_days >= INTEGRITY_GATE_DAYS and self.tested == len(self.paths)

    def __str__(self):
        return (
            f"{'passed' if self.passed else 'not passed'}: "
            f"{self.clean_days} of {INTEGRITY_GATE_DAYS} clean days, "
            f"{self.tested} of {len(self.paths)} alert paths confirmed firing"
        )


def integrity_gate(bot, as_of=None):
    """The integrity gate of `bot` as it stood at `as_of` (default now)."""
    return integrity_gates([bot], as_of)[bot.pk]


def integrity_gates(bots, as_of=None):
    """integrity_gate of each bot, by pk, in as many queries for a page of bots as for one."""
    as_of = as_of or timezone.now()
    bots = list(bots)
    days = _clean_days_in_a_row(bots, as_of)
    paths = firing_paths_of(bots, as_of=as_of)
    return {bot.pk: IntegrityGate(days[bot.pk], paths[bot.pk]) for bot in bots}


def clean_days_in_a_row(bot, as_of=None):
    """Full UTC days, counting back from the day before `as_of`, whose check runs found no
    violation. A day without any check run breaks the streak: an unchecked day is not clean."""
    return _clean_days_in_a_row([bot], as_of or timezone.now())[bot.pk]


def _clean_days_in_a_row(bots, as_of):
    today = as_of.astimezone(UTC).date()
    runs = IntegrityCheckRun.objects.filter(
        started_at__lt=datetime.datetime.combine(today, datetime.time(), tzinfo=UTC)
    )
    last_violation = (
        runs.filter(bot=OuterRef("bot"), violations__gt=0)
        .order_by("-started_at")
        .values("started_at")[:1]
    )
    # A streak lies after the bot's last day with a violation: only those days are read.
    checked_days = set(
        runs.filter(bot__in=bots)
        .annotate(
            day=TruncDate("started_at", tzinfo=UTC),
            violation_day=TruncDate(Subquery(last_violation), tzinfo=UTC),
        )
        .filter(Q(violation_day__isnull=True) | Q(day__gt=F("violation_day")))
        .values_list("bot", "day")
        .order_by()
        .distinct()
    )
    streaks = {}
    for bot in bots:
        streak = 0
        while (bot.pk, today - datetime.timedelta(days=streak + 1)) in checked_days:
            streak += 1
        streaks[bot.pk] = streak
    return streaks


def with_confirmations(channels):
    """The alert channels, each annotated for every critical path with `confirmed_<path>`, when
    a test alert down that path was last confirmed as received on the channel, and `sent_<path>`,
    when one was last sent there (None: never)."""

    def latest(tests, field, path):
        return Subquery(
            tests.filter(channel=OuterRef("pk"), path=path)
            .order_by(F(field).desc(nulls_last=True))
            .values(field)[:1]
        )

    tests = AlertDelivery.objects.tests()
    return channels.annotate(
        **{
            f"{field}_{path}": latest(tests, f"{field}_at", path)
            for field in ("confirmed", "sent")
            for path in CRITICAL_PATHS
        }
    )


def stabilization_exit_criteria(window, now=None):
    """The plan's section 1 exit criteria for a freeze, from the data of the window (up to now
    while it runs): [{"criterion", "passed", "evidence"}]. An incident counts if it was open at
    any time in the window."""
    now = now or timezone.now()
    bot = window.bot
    end = min(now, window.effective_end)
    last_state = (
        HealthEvent.objects.filter(bot=bot, kind=HealthEvent.Kind.STATE_CHANGE, ts__lte=end)
        .order_by("-ts")
        .first()
    )
    seen = IntegrityIncident.objects.filter(
        bot=bot, last_seen_at__gte=window.starts_at, opened_at__lt=end
    )

    def no_incidents(criterion, *kinds):
        count = seen.filter(kind__in=kinds).count()
        return {
            "criterion": criterion,
            "passed": count == 0,
            "evidence": f"{count} incident(s) in the window",
        }

    return [
        {
            "criterion": "system NORMAL",
            "passed": last_state is None or last_state.state == HealthEvent.State.NORMAL,
            "evidence": "no state change reported"
            if last_state is None
            else f"{last_state.state} since {last_state.ts:%Y-%m-%d %H:%M} UTC",
        },
        no_incidents(
            "no malformed trade persistence",
            Kind.BLOCKED_MALFORMED_TRADE,
            Kind.MALFORMED_STORED_TRADE,
            Kind.TRADE_CONFLICT,
        ),
        no_incidents("no spike in unknown exit reasons", Kind.UNKNOWN_EXIT_RATE),
        no_incidents("no abnormal safety triggers", Kind.SAFETY_EVENTS),
    ]
