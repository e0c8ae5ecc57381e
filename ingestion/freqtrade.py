"""The freqtrade connector: a freqtrade bot's trades and orders, read from its own database and
stored through `ingest_records` like any bot's records (validated, quarantined when refused).

How a freqtrade trade maps (docs/design.md, "The entities": Trade and Fill):

- One freqtrade trade is one TradeOps trade, external id `ft-<trade id>`; each filled order is a
  fill, `ft-order-<order id>`. A trade with several exit orders (partial exits, then the final
  one) is still one position lifecycle: its exits are its sell-side fills, its qty is all that
  was entered (the entry fills add up to it, and so do the exit fills once it is closed), its exit
  price the exits' average weighted by amount, its net P&L freqtrade's `close_profit_abs` (which
  freqtrade sums over every exit when it closes the trade), and it counts once in the KPIs, as in
  freqtrade's own statistics. An open trade with partial exits stays open: what they realized
  counts when the trade closes. DCA entries likewise: qty is their sum, entry price their average.
- side: `is_short`. leverage: `leverage`. exit reason: `exit_reason` as freqtrade wrote it (its
  ExitType values, or whatever a strategy's custom_exit returned).
- funding: freqtrade's `funding_fees` is positive when the trade received funding; TradeOps'
  funding is positive when paid, so funding = -funding_fees.
- fees: what freqtrade's profit charged, order by order: entry value x `fee_open`, exit value x
  `fee_close`. Not `fee_open_cost` / `fee_close_cost`: freqtrade records those for the first fill
  of each side only (no later DCA entry or partial exit) and `fee_open_cost` is on the stake
  after leverage, so they are not the fees in `close_profit_abs`.
- gross P&L = net + fees + funding, so net = gross - fees - funding holds exactly. (In
  freqtrade's margin mode its borrowing interest is in `close_profit_abs` too, and so in gross:
  TradeOps has no interest field. Futures and spot have none.)
- release: the release that was current for the bot when the trade opened (TradeOps' record of
  changes); none before the first change.
- fills: price = the order's average (else its price), qty = the filled amount less any fee
  taken in the base currency (what entered or left the position, as freqtrade counts it), fee as
  above, expected price = the price freqtrade asked for (`ft_price`), so the slippage KPI works.
  freqtrade does not record maker or taker: a limit order is taken as maker, any other
  (market, stop) as taker.

Nothing is fixed up here: a freqtrade row that makes no valid TradeOps record (a closed trade
without a profit, an exit reason over 100 characters...) goes through validation and is
quarantined, naming the record (`ft-<id>`) and the field. Trades are read incrementally (a
FreqtradeSource's position); reading one again changes nothing (`unchanged`).
"""

import hashlib
import json
from bisect import bisect_right
from decimal import Decimal

from django.db import transaction

from ingestion.freqtrade_db import FreqtradeDatabase, FreqtradeDatabaseError
from ingestion.models import FreqtradeSource
from ingestion.parsing import IncomingRecord
from ingestion.services import IngestResult, ingest_records
from tradeops.models import DECIMAL_PLACES, IngestKind, ReleaseChange

# freqtrade's ExitType values (freqtrade.enums.ExitType, 2026.9; "" is its "none"): the known
# exit reasons a freqtrade bot gets when its source is configured. custom_exit's own strings are
# the strategy's: add them on the bot.
FREQTRADE_EXIT_REASONS = [
    "roi",
    "stop_loss",
    "stoploss_on_exchange",
    "trailing_stop_loss",
    "liquidation",
    "exit_signal",
    "force_exit",
    "emergency_exit",
    "custom_exit",
    "partial_exit",
    "sold_on_exchange",
]
# Trades read per sync: a bot's first sync of a long history takes several runs, each bounded.
TRADES_PER_SYNC = 500
_PLACES = Decimal(1).scaleb(-DECIMAL_PLACES)
_ZERO = Decimal(0)


def trade_id(number):
    return f"ft-{number}"


def _number(value):
    """A float from freqtrade as the decimal it prints as (0.1 is 0.1, not its binary value)."""
    return None if value is None else Decimal(repr(float(value)))


def _text(number):
    return None if number is None else format(number.quantize(_PLACES), "f")


def _filled(order):
    """(amount into or out of the position, price) of a filled order, as freqtrade counts them;
    None for an order that filled nothing."""
    if order["ft_is_open"]:
        return None
    filled = order["filled"] if order["filled"] is not None else order["amount"]
    price = next(
        (order[name] for name in ("average", "price", "stop_price", "ft_price") if order[name]),
        None,
    )
    if not filled or price is None:
        return None
    return _number(filled) - (_number(order["ft_fee_base"]) or _ZERO), _number(price)


def _average(legs):
    amount = sum((qty for qty, _ in legs), _ZERO)
    return amount, (_value(legs) / amount if amount else None)


def _value(legs):
    return sum((qty * price for qty, price in legs), _ZERO)


def _iso(moment):
    # A missing time stays missing, for validation to name.
    return moment.isoformat() if moment else None


def map_trade(trade, orders, release_tag):
    """(trade record, fill records) for one freqtrade trade and its orders; no trade record for
    a trade with nothing filled yet (an entry order still working is not a position)."""
    entry_side, exit_side = ("sell", "buy") if trade["is_short"] else ("buy", "sell")
    fee_open, fee_close = _number(trade["fee_open"]) or _ZERO, _number(trade["fee_close"]) or _ZERO
    entries, exits, fills = [], [], []
    for order in orders:
        leg = _filled(order)
        if leg is None:
            continue
        qty, price = leg
        entering = order["ft_order_side"] == entry_side
        (entries if entering else exits).append(leg)
        fills.append(
            {
                "external_id": f"ft-order-{order['id']}",
                "trade_external_id": trade_id(trade["id"]),
                "ts": _iso(
                    order["order_filled_date"] or order["order_update_date"] or order["order_date"]
                ),
                "side": order["side"] or (entry_side if entering else exit_side),
                "price": _text(price),
                "qty": _text(qty),
                "fee": _text(qty * price * (fee_open if entering else fee_close)),
                "liquidity": "maker" if order["order_type"] == "limit" else "taker",
                "expected_price": _text(_number(order["ft_price"])),
            }
        )
    if not entries:
        return None, []
    qty, entry_price = _average(entries)
    record = {
        "external_id": trade_id(trade["id"]),
        "symbol": trade["pair"],
        "side": "short" if trade["is_short"] else "long",
        "status": "open" if trade["is_open"] else "closed",
        "opened_at": _iso(trade["open_date"]),
        "qty": _text(qty),
        "entry_price": _text(entry_price),
        "leverage": _text(_number(trade["leverage"]) or Decimal(1)),
        "release": release_tag,
    }
    if not trade["is_open"]:
        _, exit_price = _average(exits)
        fees = _value(entries) * fee_open + _value(exits) * fee_close
        funding = _ZERO - (_number(trade["funding_fees"]) or _ZERO)
        net = _number(trade["close_profit_abs"])
        record |= {
            "closed_at": _iso(trade["close_date"]),
            "exit_price": _text(exit_price or _number(trade["close_rate"])),
            "fees": _text(fees),
            "funding": _text(funding),
            "net_pnl": _text(net),
            # Its parts as stored (12 places), so the stored row adds up to the last place.
            "gross_pnl": None
            if net is None
            else _text(net.quantize(_PLACES) + fees.quantize(_PLACES) + funding.quantize(_PLACES)),
            "exit_reason": trade["exit_reason"] or "",
        }
    return {name: value for name, value in record.items() if value is not None}, fills


class ReleaseAt:
    """The bot's current release at a moment, from its recorded release changes."""

    def __init__(self, bot):
        changes = ReleaseChange.objects.filter(bot=bot).order_by("at", "id")
        pairs = list(changes.values_list("at", "release__tag"))
        self._times = [at for at, _ in pairs]
        self._tags = [tag for _, tag in pairs]

    def __call__(self, moment):
        if moment is None:
            return ""
        index = bisect_right(self._times, moment)
        return self._tags[index - 1] if index else ""


def configure_source(bot, db_url, *, now, enabled=True):
    """Point `bot` at its freqtrade database (created or changed); returns the source.

    A new source makes freqtrade's exit reasons the bot's known ones (added to any it has; edit
    them on the bot after). Another database than before starts the position over.
    """
    with transaction.atomic():
        source = FreqtradeSource.objects.select_for_update().filter(bot=bot).first()
        if source is None:
            source = FreqtradeSource.objects.create(
                bot=bot, db_url=db_url, enabled=enabled, created_at=now
            )
            known = list(bot.known_exit_reasons or [])
            bot.known_exit_reasons = known + [r for r in FREQTRADE_EXIT_REASONS if r not in known]
            bot.save(update_fields=["known_exit_reasons"])
        elif source.db_url != db_url:
            source.db_url, source.last_trade_id, source.open_trades = db_url, 0, {}
            source.save(update_fields=["db_url", "last_trade_id", "open_trades"])
    return source


def sync_source(source, *, now, limit=TRADES_PER_SYNC):
    """Read what is new in `source`'s freqtrade database and store it; returns the outcome (also
    kept on the source, with the error when the database cannot be read). Two syncs of one source
    never run at once: the second finds it locked and does nothing."""
    try:
        with transaction.atomic():
            locked = (
                FreqtradeSource.objects.select_for_update(skip_locked=True)
                .select_related("bot")
                .filter(pk=source.pk)
                .first()
            )
            if locked is None:
                return {"skipped": "another sync of this source is running"}
            outcome = _sync(locked, now=now, limit=limit)
            locked.last_synced_at = now
            locked.last_outcome = outcome
            locked.save(
                update_fields=[
                    "last_trade_id",
                    "open_trades",
                    "strategy_name",
                    "last_synced_at",
                    "last_outcome",
                ]
            )
    except FreqtradeDatabaseError as exc:
        failed = {"at": now.isoformat(), "error": str(exc)}
        FreqtradeSource.objects.filter(pk=source.pk).update(last_outcome=failed)
        raise
    return outcome


def _sync(source, *, now, limit):
    bot = source.bot
    with FreqtradeDatabase(source.db_url) as database:
        open_ids = [int(number) for number in source.open_trades]
        trades = database.trades(after_id=source.last_trade_id, also_ids=open_ids, limit=limit)
        orders = database.orders([trade["id"] for trade in trades])
    by_trade = {}
    for order in orders:
        by_trade.setdefault(order["ft_trade_id"], []).append(order)
    release_at = ReleaseAt(bot)
    trade_records, fill_records, still_open, as_before = [], [], {}, 0
    for trade in trades:
        record, fills = map_trade(
            trade, by_trade.get(trade["id"], []), release_at(trade["open_date"])
        )
        digest = hashlib.sha256(json.dumps([record, fills], sort_keys=True).encode()).hexdigest()
        key = str(trade["id"])
        if trade["is_open"]:
            still_open[key] = digest
        if source.open_trades.get(key) == digest:
            # An open trade as it was at the last sync: sending it again would store nothing,
            # and a batch a minute would make a stopped bot look alive (the silence watch).
            as_before += 1
        elif record is not None:
            trade_records.append(record)
            fill_records.extend(fills)
    source_name = f"freqtrade:{bot.slug}"
    # Trades first, so their fills are linked as they land.
    stored_trades = _ingest(bot, IngestKind.TRADES, trade_records, source_name)
    stored_fills = _ingest(bot, IngestKind.FILLS, fill_records, source_name)
    source.last_trade_id = max([source.last_trade_id, *(trade["id"] for trade in trades)])
    source.open_trades = still_open
    if not source.strategy_name:
        source.strategy_name = next((t["strategy"] for t in trades if t["strategy"]), "")
    return {
        "at": now.isoformat(),
        "trades_read": len(trades),
        "open_as_before": as_before,
        "trades": _counts(stored_trades),
        "fills": _counts(stored_fills),
        "last_trade_id": source.last_trade_id,
        "open_trades": len(still_open),
    }


def _ingest(bot, kind, records, source_name):
    """Stored through the one ingestion service; nothing to store is no batch."""
    if not records:
        return IngestResult()
    incoming = [
        IncomingRecord(index=i, raw=json.dumps(record, sort_keys=True), data=record)
        for i, record in enumerate(records)
    ]
    return ingest_records(bot, kind, incoming, source=source_name)


def _counts(result):
    return {
        name: getattr(result, name) for name in ("accepted", "updated", "unchanged", "quarantined")
    }
