"""The malformed-trade rule applied to trades already stored: what today's ingestion would refuse
in them (rows stored before a rule existed, or stamped in the future). One rule: each row goes
through ingestion's own validate_record."""

from datetime import datetime

from django.db.models import Q

from ingestion.records import MAX_CLOCK_SKEW, PNL_TOLERANCE, TRADE_FIELDS, validate_record
from tradeops.models import IngestKind, Trade
from tradeops.models.trading import BLANK_TEXT, PNL_GAP


def stored_trade_errors(trade, latest_allowed):
    """What today's ingestion would refuse in a stored trade, by field (empty: nothing): the row
    goes through validate_record as the record a bot would send for it."""
    record = {name: getattr(trade, name) for name in TRADE_FIELDS.keys() - {"release"}}
    record["release"] = trade.release_tag
    sent = {name: v.isoformat() if isinstance(v, datetime) else v for name, v in record.items()}
    return validate_record(IngestKind.TRADES, sent, latest_allowed)[1]


def malformed_stored_trades(trades, now):
    """[(trade, errors)] for the trades of `trades` that ingestion would refuse at `now` (rows
    stored before a rule, or stamped in the future), in the order they were stored.

    The Trade constraints hold the table to every rule but P&L consistency, time and blank text,
    so SQL reads only the rows that may break one of those (a bot's year is a million trades),
    each through an index (the P&L gap and blank text are indexed on Trade), and
    stored_trade_errors judges them."""
    latest_allowed = now + MAX_CLOCK_SKEW
    suspects = (
        trades.annotate(pnl_gap=PNL_GAP)
        .filter(
            Q(pnl_gap__gt=PNL_TOLERANCE)
            | Q(opened_at__gt=latest_allowed)
            # Only a closed trade has a close (a constraint): said here, the index on
            # (bot, status, closed_at) serves it.
            | Q(status=Trade.Status.CLOSED, closed_at__gt=latest_allowed)
            | BLANK_TEXT
        )
        .order_by("pk")
    )
    judged = ((trade, stored_trade_errors(trade, latest_allowed)) for trade in suspects)
    return [(trade, errors) for trade, errors in judged if errors]
