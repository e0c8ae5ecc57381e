"""The malformed-trade cleanup SOP: dry-run first, apply second, restore if needed.

A dry run writes a CleanupPlan. Applying that plan moves each trade, with its fills, whole into
quarantine in one transaction (nothing is deleted without its full copy), after checking that
every row is exactly as the dry run saw it. Restoring puts the rows back with their original ids.
"""

import hashlib
import json

from django.db import transaction
from django.utils import timezone

from ingestion.stored import malformed_stored_trades
from integrity.models import CleanupPlan
from tradeops.audit import record_audit
from tradeops.models import Fill, QuarantinedRecord, QuarantineReason, Trade

MOVE_TO_QUARANTINE = "move_to_quarantine"


class CleanupRefused(Exception):
    """The plan cannot be applied or restored; the message says why."""


def _snapshot(trade_pk):
    """The trade row and its fills exactly as stored, or None if the trade is gone."""
    trade = Trade.objects.filter(pk=trade_pk).values().first()
    if trade is None:
        return None
    fills = list(Fill.objects.filter(trade_id=trade_pk).order_by("pk").values())
    return json.loads(json.dumps({"trade": trade, "fills": fills}, default=str))


def _fingerprint(content):
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


# How many of a plan's trades its audit rows name (the plan itself keeps every row).
NAMED_IN_AUDIT = 20


def plan_cleanup(bot, *, by, now=None):
    """The dry run: which stored trades fail today's rules, and what apply would do."""
    now = now or timezone.now()
    rows = [
        {
            "trade_id": trade.pk,
            "external_id": trade.external_id,
            "action": MOVE_TO_QUARANTINE,
            "reasons": [f"{name}: {error}" for name, error in errors.items()],
            "fingerprint": _fingerprint(_snapshot(trade.pk)),
        }
        for trade, errors in malformed_stored_trades(Trade.objects.filter(bot=bot), now)
    ]
    with transaction.atomic():
        plan = CleanupPlan.objects.create(
            bot=bot,
            rows=rows,
            fingerprint=_fingerprint([row["fingerprint"] for row in rows]),
            planned_at=now,
            planned_by=by,
        )
        record_audit(
            plan, "dry run", actor=by, to_state=plan.status, note=f"{len(rows)} row(s)", at=now
        )
    return plan


def _plan(plan_id, status):
    plan = CleanupPlan.objects.select_for_update().filter(pk=plan_id).first()
    if plan is None:
        raise CleanupRefused(f"no cleanup plan {plan_id}: run a dry run first")
    if plan.status != status:
        raise CleanupRefused(f"cleanup plan {plan_id} is {plan.status}, not {status}")
    return plan


@transaction.atomic
def apply_cleanup(plan_id, *, by):
    """Move the planned rows to quarantine, if and only if they are still as planned."""
    plan = _plan(plan_id, CleanupPlan.Status.PLANNED)
    ids = [row["trade_id"] for row in plan.rows]
    locked = Trade.objects.select_for_update().filter(pk__in=ids)  # no writer slips in between
    # A plan acts on its own bot's trades only, whatever its stored rows were made to say.
    if any(trade.bot_id != plan.bot_id for trade in locked):
        raise CleanupRefused(
            f"cleanup plan {plan_id} names a trade of another bot than {plan.bot.slug}; "
            "nothing was applied"
        )
    snapshots = {}
    for row in plan.rows:
        snapshot = _snapshot(row["trade_id"])
        if snapshot is None or _fingerprint(snapshot) != row["fingerprint"]:
            raise CleanupRefused(
                f"trade {row['external_id']} changed since the dry run of plan {plan_id}; "
                "nothing was applied: run a new dry run"
            )
        snapshots[row["trade_id"]] = snapshot
    now = timezone.now()
    quarantined = []
    for row in plan.rows:
        snapshot = snapshots[row["trade_id"]]
        quarantined.append(
            QuarantinedRecord.objects.create(
                bot=plan.bot,
                kind="trades",
                reason=QuarantineReason.CLEANUP,
                external_id=row["external_id"],
                raw=json.dumps(snapshot, sort_keys=True),
                errors={"_cleanup": "; ".join(row["reasons"])},
                source=f"cleanup plan {plan.pk}",
                fingerprint=row["fingerprint"],
                first_seen_at=now,
                last_seen_at=now,
            ).pk
        )
        Fill.objects.filter(trade_id=row["trade_id"]).delete()
        Trade.objects.filter(pk=row["trade_id"]).delete()
    plan.status = CleanupPlan.Status.APPLIED
    plan.applied_at, plan.applied_by, plan.quarantined_ids = now, by, quarantined
    plan.save()
    _audit(plan, "apply", by, CleanupPlan.Status.PLANNED, now)
    return plan


def _audit(plan, action, by, before, now):
    """Who moved which rows, in the audit trail's chain (not only on the plan's own columns)."""
    named = ", ".join(row["external_id"] for row in plan.rows[:NAMED_IN_AUDIT])
    more = " …" if len(plan.rows) > NAMED_IN_AUDIT else ""
    note = f"{len(plan.rows)} trade(s): {named}{more} (the plan holds them all)"
    record_audit(plan, action, actor=by, from_state=before, to_state=plan.status, note=note, at=now)


@transaction.atomic
def restore_cleanup(plan_id, *, by):
    """Put an applied plan's rows back, with their original ids, and take them out of quarantine."""
    plan = _plan(plan_id, CleanupPlan.Status.APPLIED)
    records = QuarantinedRecord.objects.filter(pk__in=plan.quarantined_ids)
    if records.count() != len(plan.quarantined_ids):
        raise CleanupRefused(f"some quarantined rows of plan {plan_id} are gone; cannot restore")
    for record in records:
        snapshot = json.loads(record.raw)
        for model, values in [(Trade, snapshot["trade"]), *((Fill, f) for f in snapshot["fills"])]:
            model.objects.create(**values)
            # create() stamps auto_now_add fields with now; the row comes back as it was.
            model.objects.filter(pk=values["id"]).update(ingested_at=values["ingested_at"])
    records.delete()
    plan.status = CleanupPlan.Status.RESTORED
    plan.restored_at, plan.restored_by = timezone.now(), by
    plan.save()
    _audit(plan, "restore", by, CleanupPlan.Status.APPLIED, plan.restored_at)
    return plan
