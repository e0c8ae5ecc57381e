"""The daily integrity checks (plan section 2), one function each.

A check looks at one bot's data and returns the violations it finds as Findings. It writes
nothing: integrity.services turns findings into incidents and a check run.

A bot's year is a million trades, so no check reads the history: each reads what an index finds
(the last 24 h, open trades, the rare rows that break a rule), or what was written since the last
run (LastRun) plus what that run flagged, which stays flagged until a change fixes it.
"""

import datetime
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, F, Q, Sum

from ingestion.stored import malformed_stored_trades
from integrity.models import IntegrityIncident
from tradeops.models import Fill, HealthEvent, QuarantinedRecord, Trade

Kind = IntegrityIncident.Kind
Severity = IntegrityIncident.Severity

DAY = datetime.timedelta(hours=24)
# A fill may reach TradeOps a little before its trade; only older orphans are anomalies.
ORPHAN_FILL_GRACE = datetime.timedelta(hours=1)
# A row is stamped before its batch commits: a run re-reads the writes of the hour before the last
# one started, so a batch still in flight then is read now (no batch takes an hour).
CHANGE_GRACE = datetime.timedelta(hours=1)
# Past this many flagged trades a run does not list them for the next: it re-reads the history.
RECHECK_LIMIT = 1000
SAMPLE = 20


@dataclass
class Finding:
    kind: str
    severity: str
    title: str
    count: int
    detail: dict = field(default_factory=dict)
    key: str = ""
    # Of a check that reads what changed: every trade it flagged (pks), for the next run to read
    # again; None when there are too many to list.
    recheck: list | None = field(default_factory=list)


@dataclass(frozen=True)
class LastRun:
    """What a check run knows of the run before it."""

    since: datetime.datetime  # records seen after this are new (the checks' clock)
    changed_after: datetime.datetime | None  # rows written after this are read; None: all
    recheck: dict = field(default_factory=dict)  # {kind: trade pks it flagged, or None}

    @classmethod
    def of(cls, run, now):
        if run is None:
            return cls(since=now - DAY, changed_after=None)
        recheck = {
            violation["kind"]: violation["recheck"]
            for result in run.results
            for violation in result["violations"]
            if "recheck" in violation
        }
        # Rows are stamped on the wall clock; a run may have been given another (a replay): the
        # earlier of its two stamps never skips a write.
        started = min(run.started_at, run.finished_at)
        return cls(since=run.started_at, changed_after=started - CHANGE_GRACE, recheck=recheck)

    def reads_all(self, kind):
        return self.changed_after is None or self.recheck.get(kind, []) is None


def new_malformed_rows(bot, now, last):
    """Records quarantined since the last run, and stored trades that fail today's rules (the
    whole history: ingestion.stored reads only the suspects, through indexes)."""
    findings = []
    fresh = QuarantinedRecord.objects.filter(bot=bot, last_seen_at__gt=last.since)
    fresh_trades = fresh.filter(kind="trades")
    if fresh_trades.exists():
        findings.append(
            Finding(
                Kind.BLOCKED_MALFORMED_TRADE,
                Severity.CRITICAL,
                "Blocked malformed trade persistence",
                fresh_trades.count(),
                {"quarantined_ids": list(fresh_trades.values_list("pk", flat=True)[:SAMPLE])},
            )
        )
    other = fresh.exclude(kind="trades").values("kind").annotate(n=Count("id"))
    for row in other:
        findings.append(
            Finding(
                Kind.QUARANTINED_RECORDS,
                Severity.WARNING,
                f"Quarantined {row['kind']} records",
                row["n"],
                key=row["kind"],
            )
        )
    failing = malformed_stored_trades(Trade.objects.filter(bot=bot), now)
    if failing:
        findings.append(
            Finding(
                Kind.MALFORMED_STORED_TRADE,
                Severity.CRITICAL,
                "Stored trades failing validation",
                len(failing),
                {"trade_ids": [trade.external_id for trade, _ in failing[:SAMPLE]]},
            )
        )
    return findings


def unknown_exit_rate(bot, now, last):
    closes = Trade.objects.filter(
        bot=bot, status=Trade.Status.CLOSED, closed_at__gt=now - DAY, closed_at__lte=now
    )
    counts = closes.aggregate(
        total=Count("id"), unknown=Count("id", filter=Trade.unknown_exit(bot))
    )
    total, unknown = counts["total"], counts["unknown"]
    if not bot.unknown_exits_alarm(unknown, total):
        return []
    share = unknown / total
    return [
        Finding(
            Kind.UNKNOWN_EXIT_RATE,
            Severity.CRITICAL,
            f"Unknown exit reasons at {share:.1%} of closes in 24h "
            f"(threshold {bot.unknown_exit_alert_percent})",
            unknown,
            {"unknown": unknown, "closes": total, "share": round(share, 6)},
        )
    ]


def orphan_anomalies(bot, now, last):
    findings = []
    orphans = Fill.objects.filter(bot=bot, trade__isnull=True, ts__lt=now - ORPHAN_FILL_GRACE)
    if orphans.exists():
        findings.append(
            Finding(
                Kind.ORPHAN_FILLS,
                Severity.WARNING,
                "Fills without a trade",
                orphans.count(),
                {"fill_ids": list(orphans.values_list("external_id", flat=True)[:SAMPLE])},
            )
        )
    unreleased = Trade.objects.filter(bot=bot, release__isnull=True)
    if unreleased.exists():
        findings.append(
            Finding(
                Kind.TRADES_WITHOUT_RELEASE,
                Severity.WARNING,
                "Trades without a release",
                unreleased.count(),
                {
                    "trade_ids": list(unreleased.values_list("external_id", flat=True)[:SAMPLE]),
                    "reported_tags": sorted(
                        set(unreleased.values_list("release_tag", flat=True)[:SAMPLE])
                    ),
                },
            )
        )
    stale = Trade.objects.filter(
        bot=bot,
        status=Trade.Status.OPEN,
        opened_at__lt=now - datetime.timedelta(hours=bot.max_open_hours),
    )
    if stale.exists():
        findings.append(
            Finding(
                Kind.STALE_OPEN_TRADES,
                Severity.WARNING,
                f"Open trades older than {bot.max_open_hours} h",
                stale.count(),
                {"trade_ids": list(stale.values_list("external_id", flat=True)[:SAMPLE])},
            )
        )
    mismatched = fill_qty_mismatches(bot, last)
    if mismatched:
        findings.append(
            Finding(
                Kind.FILL_QTY_MISMATCH,
                Severity.WARNING,
                "Closed trades whose fills don't add up to their qty",
                len(mismatched),
                {"trade_ids": [external_id for _, external_id in mismatched[:SAMPLE]]},
                recheck=[pk for pk, _ in mismatched] if len(mismatched) <= RECHECK_LIMIT else None,
            )
        )
    return findings


def fill_qty_mismatches(bot, last):
    """[(pk, external id)] of the closed trades with fills whose entry or exit fills don't each
    add up to the trade's qty: of the trades or fills written since the last run, and the trades
    it flagged (the whole history on a first run)."""
    trades = Trade.objects.filter(bot=bot, status=Trade.Status.CLOSED)
    if not last.reads_all(Kind.FILL_QTY_MISMATCH):
        changed = Q(bot=bot, changed_at__gt=last.changed_after)
        # Listed first, then looked up by primary key: the planner sees how few they are.
        to_read = (
            Trade.objects.filter(changed)
            .values_list("pk", flat=True)
            .order_by()
            .union(
                Fill.objects.filter(changed, trade__isnull=False)
                .values_list("trade_id", flat=True)
                .order_by(),
                Trade.objects.filter(pk__in=last.recheck.get(Kind.FILL_QTY_MISMATCH, []))
                .values_list("pk", flat=True)
                .order_by(),
            )
        )
        trades = trades.filter(pk__in=list(to_read))
    opening = Q(fills__side=Fill.Side.BUY, side=Trade.Side.LONG) | Q(
        fills__side=Fill.Side.SELL, side=Trade.Side.SHORT
    )
    rows = (
        trades.filter(fills__isnull=False)
        .values("pk", "external_id", "qty")
        .annotate(
            entry=Sum("fills__qty", filter=opening, default=0),
            exit=Sum("fills__qty", filter=~opening, default=0),
        )
        .filter(~Q(entry=F("qty")) | ~Q(exit=F("qty")))
        .order_by("pk")
    )
    return [(row["pk"], row["external_id"]) for row in rows]


def safety_events(bot, now, last):
    """Safety instability in the last 24 h however the bot reports it (HealthEvent.instability,
    the rule the rollback trigger counts by too), against the bot's daily threshold."""
    events = HealthEvent.instability(bot, now - DAY, now)
    count = len(events)
    if count <= bot.safety_events_per_day:
        return []
    by_kind = dict(
        Counter(
            f"entered {event.state}" if event.kind == HealthEvent.Kind.STATE_CHANGE else event.kind
            for event in events
        )
    )
    return [
        Finding(
            Kind.SAFETY_EVENTS,
            Severity.CRITICAL,
            f"{count} safety events in 24h (threshold {bot.safety_events_per_day})",
            count,
            {"by_kind": by_kind},
        )
    ]


CHECKS = {
    "new_malformed_rows": new_malformed_rows,
    "unknown_exit_rate": unknown_exit_rate,
    "orphan_anomalies": orphan_anomalies,
    "safety_events": safety_events,
}
# The incident kinds the checks own: an open one the checks no longer find is resolved.
CHECKED_KINDS = {
    Kind.BLOCKED_MALFORMED_TRADE,
    Kind.QUARANTINED_RECORDS,
    Kind.MALFORMED_STORED_TRADE,
    Kind.UNKNOWN_EXIT_RATE,
    Kind.ORPHAN_FILLS,
    Kind.TRADES_WITHOUT_RELEASE,
    Kind.STALE_OPEN_TRADES,
    Kind.FILL_QTY_MISMATCH,
    Kind.SAFETY_EVENTS,
}
