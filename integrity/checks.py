"""The daily integrity checks (plan section 2), one function each.

A check looks at one bot's data and returns the violations it finds as Findings. It writes
nothing: integrity.services turns findings into incidents and a check run.
"""

import datetime
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
SAMPLE = 20


@dataclass
class Finding:
    kind: str
    severity: str
    title: str
    count: int
    detail: dict = field(default_factory=dict)
    key: str = ""


def new_malformed_rows(bot, now, since):
    """Records quarantined since the last run, and stored trades that fail today's rules."""
    findings = []
    fresh = QuarantinedRecord.objects.filter(bot=bot, last_seen_at__gt=since)
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


def unknown_exit_rate(bot, now, since):
    closes = Trade.objects.filter(
        bot=bot, status=Trade.Status.CLOSED, closed_at__gt=now - DAY, closed_at__lte=now
    )
    counts = closes.aggregate(
        total=Count("id"), unknown=Count("id", filter=Trade.unknown_exit(bot))
    )
    total, unknown = counts["total"], counts["unknown"]
    # Exact: 2 of 100 is exactly 2%, which a float would read as a hair above 0.02.
    if not total or unknown <= bot.unknown_exit_alert_share * total:
        return []
    share = unknown / total
    return [
        Finding(
            Kind.UNKNOWN_EXIT_RATE,
            Severity.CRITICAL,
            f"Unknown exit reasons at {share:.1%} of closes in 24h "
            f"(threshold {bot.unknown_exit_alert_share:.1%})",
            unknown,
            {"unknown": unknown, "closes": total, "share": round(share, 6)},
        )
    ]


def orphan_anomalies(bot, now, since):
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
    mismatched = fill_qty_mismatches(bot)
    if mismatched:
        findings.append(
            Finding(
                Kind.FILL_QTY_MISMATCH,
                Severity.WARNING,
                "Closed trades whose fills don't add up to their qty",
                len(mismatched),
                {"trade_ids": mismatched[:SAMPLE]},
            )
        )
    return findings


def fill_qty_mismatches(bot):
    """Closed trades with fills whose entry or exit fills don't each add up to the trade's qty."""
    opening = Q(fills__side=Fill.Side.BUY, side=Trade.Side.LONG) | Q(
        fills__side=Fill.Side.SELL, side=Trade.Side.SHORT
    )
    rows = (
        Trade.objects.filter(bot=bot, status=Trade.Status.CLOSED, fills__isnull=False)
        .values("pk", "external_id", "qty")
        .annotate(
            entry=Sum("fills__qty", filter=opening, default=0),
            exit=Sum("fills__qty", filter=~opening, default=0),
        )
        .filter(~Q(entry=F("qty")) | ~Q(exit=F("qty")))
    )
    return [row["external_id"] for row in rows]


def safety_events(bot, now, since):
    events = HealthEvent.objects.filter(
        bot=bot,
        kind__in=[
            HealthEvent.Kind.KILL_SWITCH,
            HealthEvent.Kind.DEGRADED,
            HealthEvent.Kind.SAFETY_TRIGGER,
        ],
        ts__gt=now - DAY,
        ts__lte=now,
    )
    count = events.count()
    if count <= bot.safety_events_per_day:
        return []
    by_kind = dict(events.values_list("kind").annotate(n=Count("id")))
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
