"""How each kind of validated record is stored: its natural key, what counts as the same record,
when a stored row may be updated and when a re-send is a conflict.

`RowWriter.apply` classifies a batch against what is stored (and against earlier records of the
same batch), then writes it with one bulk insert and at most one bulk update. `RowWriter.stream`
does the same for trades while cleaning them, so PostgreSQL stores a batch as Python cleans it.

Concurrent senders: the stored rows a batch compares with are locked (SELECT ... FOR UPDATE) until
it commits, so a second close of the same trade waits for the first and then sees it closed (a
conflict), never overwrites it. Rows are locked, inserted and updated in key order, so batches that
share keys in different orders queue behind each other instead of deadlocking.
"""

from dataclasses import dataclass
from operator import itemgetter

from django.db import connection
from django.db.models import Case, Exists, F, OuterRef, Subquery, Sum, When
from django.utils import timezone

from ingestion.bulk import insert_rows, one_of, rows_inserted, update_rows
from ingestion.fields import FieldError
from ingestion.records import TRADE_FIELDS
from tradeops.models import (
    ConfigRelease,
    DecisionCount,
    EquitySnapshot,
    Fill,
    HealthEvent,
    Trade,
)

ACCEPTED, UPDATED, UNCHANGED, CONFLICT = "accepted", "updated", "unchanged", "conflict"


@dataclass(frozen=True)
class Outcome:
    status: str
    errors: dict | None = None


_ACCEPTED, _UNCHANGED, _UPDATED = Outcome(ACCEPTED), Outcome(UNCHANGED), Outcome(UPDATED)


def _describe_differences(stored, row, fields):
    return {
        field: f"stored {stored[field]!s}, received {row[field]!s}"
        for field in fields
        if stored[field] != row[field]
    }


def _in_key_order(rows_by_key):
    return [rows_by_key[key] for key in sorted(rows_by_key)]


class RowWriter:
    model = None
    key_fields: tuple = ()
    # Filled in from other rows rather than sent by the bot; not compared.
    derived_fields: frozenset = frozenset()
    # The fields compared with a stored row; by default a row's fields but the derived ones.
    compared_fields = None
    # Whether `stream` stores this kind: its key can be read from a record as sent (raw_key).
    streams = False

    def prepare(self, bot, cleans):
        """Look up what `to_row` needs for this batch (one query per lookup, not per record)."""

    def to_row(self, bot, clean):
        return dict(clean)

    def conflict(self, stored, row, differences):
        """None if `row` may replace `stored`, else the errors that make it a conflict."""
        key = " / ".join(str(part) for part in self.key(row))
        return {
            "_conflict": f"{self.model._meta.verbose_name} {key} is already stored "
            "with other values",
            **_describe_differences(stored, row, differences),
        }

    def after_write(self, bot, created_rows):
        pass

    def key(self, row):
        return tuple(row[field] for field in self.key_fields)

    def _load(self, bot, keys):
        rows = {}
        lead = self.key_fields[0]
        fields = ["pk", *self.compared_fields, *self.derived_fields]
        queryset = (
            self.model.objects.filter(one_of(self.model, lead, {key[0] for key in keys}), bot=bot)
            .order_by(*self.key_fields)
            .select_for_update()
        )
        for stored in queryset.values(*fields):
            rows[self.key(stored)] = stored
        return rows

    def _classify(self, row, state, creates, updates):
        """The outcome of storing `row`, given `state`: the stored rows and the batch's earlier
        ones, by key. A row to write goes into `creates` or `updates`."""
        key = self.key(row)
        stored = state.get(key)
        if stored is None:
            creates[key] = state[key] = row
            return _ACCEPTED
        differences = [f for f in self.compared_fields if stored[f] != row[f]]
        if not differences:
            return _UNCHANGED
        errors = self.conflict(stored, row, differences)
        if errors:
            return Outcome(CONFLICT, errors)
        if key in creates:
            creates[key] = row
        else:
            updates[key] = {**row, "pk": stored["pk"]}
        state[key] = {**row, "pk": stored.get("pk")}
        return _UPDATED

    def apply(self, bot, items):
        """Store the valid records in `items` [(record, clean)] and return an Outcome for each."""
        self.prepare(bot, [clean for _, clean in items])
        rows = [self.to_row(bot, clean) for _, clean in items]
        if not rows:
            return []
        if self.compared_fields is None:
            self.compared_fields = [field for field in rows[0] if field not in self.derived_fields]
        state = self._load(bot, {self.key(row) for row in rows})
        creates, updates = {}, {}
        outcomes = [self._classify(row, state, creates, updates) for row in rows]
        creates = _in_key_order(creates)
        insert_rows(self.model, bot, creates)
        update_rows(self.model, _in_key_order(updates))
        self.after_write(bot, creates)
        return outcomes

    def stream(self, bot, records, clean):
        """Store `records` [IncomingRecord], each cleaned by `clean(record)` -> (clean, errors)
        while PostgreSQL stores the rows before it. Returns ([(record, Outcome)] for the valid
        ones, [(record, errors)] for those `clean` refuses).

        What `apply` does, without cleaning the whole batch first: the keys are read from the
        records as sent (raw_key), to lock and load the stored rows before the first record is
        cleaned. The records then go in key order, a key's records one after another, so a new
        row is complete, and streamed, as soon as the next key begins.
        """
        keyed, malformed, cleaned_first = [], [], []
        for record in records:
            key = self.raw_key(record.data)
            if key is not None:
                keyed.append((key, record, None))
                continue
            cleaned, errors = clean(record)
            if errors:
                malformed.append((record, errors))
            else:
                cleaned_first.append((record, cleaned))
        self.prepare(bot, [record.data for _, record, _ in keyed] + [c for _, c in cleaned_first])
        for record, cleaned in cleaned_first:
            row = self.to_row(bot, cleaned)
            keyed.append((self.key(row), record, row))
        keyed.sort(key=itemgetter(0))
        state = self._load(bot, {key for key, _, _ in keyed})

        outcomes, created, creates, updates = [], [], {}, {}
        with rows_inserted(self.model, bot) as insert:

            def write_creates():
                for row in creates.values():
                    insert(row)
                    created.append(row)
                creates.clear()

            current = None
            for key, record, row in keyed:
                if key != current:
                    write_creates()
                    current = key
                if row is None:
                    cleaned, errors = clean(record)
                    if errors:
                        malformed.append((record, errors))
                        continue
                    row = self.to_row(bot, cleaned)
                outcomes.append((record, self._classify(row, state, creates, updates)))
            write_creates()
        update_rows(self.model, _in_key_order(updates))
        self.after_write(bot, created)
        return outcomes, malformed


def _as_clean(data, name):
    """A trade field as sent, converted as clean converts it; None when clean would refuse it
    (the database cannot be asked about a value before clean has said it can be stored)."""
    try:
        return TRADE_FIELDS[name].convert(data.get(name))
    except FieldError:
        return None


def refresh_realized_slippage(bot, trade_ids):
    """Attribute fill-level slippage to trades: the sum over their fills with an expected price.

    Called whenever fills land or get linked to a trade, so KPIs read one column per trade.
    """
    if not trade_ids:
        return
    adverse = Case(
        When(side=Fill.Side.BUY, then=(F("price") - F("expected_price")) * F("qty")),
        default=(F("expected_price") - F("price")) * F("qty"),
    )
    per_trade = (
        Fill.objects.filter(trade=OuterRef("pk"), expected_price__isnull=False)
        .values("trade")
        .annotate(cost=Sum(adverse))
        .values("cost")
    )
    Trade.objects.filter(one_of(Trade, "id", trade_ids), bot=bot).update(
        realized_slippage=Subquery(per_trade), changed_at=timezone.now()
    )


# pg_advisory_xact_lock(FILL_LINKING, bot id): trade batches share it, fill batches take it alone.
FILL_LINKING = 7401


def hold_fill_linking(bot, *, exclusive):
    """Until the transaction ends, keep a bot's fill batches and trade batches apart.

    A fill batch looks its trades up, and a trade batch links the orphan fills it can see. Run at
    once under READ COMMITTED, each could miss the other's uncommitted rows and leave fills
    orphaned for good; with the lock a fill batch waits for the trade batches in flight (and they
    for it), so one of the two always sees the other's rows.
    """
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [FILL_LINKING, bot.pk])


def link_orphan_fills(bot, trade_external_ids):
    """Link the bot's fills stored without a trade to their trade, where it is stored now."""
    if not trade_external_ids:
        return
    trades = Trade.objects.filter(bot=bot, external_id=OuterRef("trade_external_id"))
    orphans = Fill.objects.filter(
        one_of(Fill, "trade_external_id", trade_external_ids),
        Exists(trades),
        bot=bot,
        trade__isnull=True,
    )
    if orphans.update(trade=Subquery(trades.values("pk")[:1]), changed_at=timezone.now()):
        linked = Trade.objects.filter(
            one_of(Trade, "external_id", trade_external_ids), bot=bot, fills__isnull=False
        )
        refresh_realized_slippage(bot, set(linked.values_list("pk", flat=True)))


class TradeWriter(RowWriter):
    model = Trade
    key_fields = ("external_id",)
    derived_fields = frozenset({"release_id"})
    identity_fields = ("symbol", "side", "opened_at")
    # A trade's row is its clean fields with the release as the tag sent (to_row).
    compared_fields = (*(name for name in TRADE_FIELDS if name != "release"), "release_tag")
    streams = True

    def raw_key(self, data):
        """The key a trade as sent has once clean (its external_id, stripped); None when it has
        none that can be looked up, which clean refuses."""
        external_id = _as_clean(data, "external_id") if type(data) is dict else None
        return None if external_id is None else (external_id,)

    def prepare(self, bot, records):
        """`records` are clean trades, or trades as sent (stream): a tag sent is looked up as
        clean would leave it, stripped."""
        hold_fill_linking(bot, exclusive=False)
        tags = {_as_clean(data, "release") for data in records}
        tags.discard(None)
        tags.discard("")
        # A shadow's trades name its live bot's releases (it runs them).
        self.release_ids = dict(
            ConfigRelease.objects.filter(bot=bot.release_bot_id, tag__in=tags).values_list(
                "tag", "pk"
            )
        )

    def to_row(self, bot, clean):
        row = dict(clean)
        tag = row.pop("release")
        # A tag TradeOps does not know yet is kept as reported; the trade shows as without release.
        row["release_tag"] = tag
        row["release_id"] = self.release_ids.get(tag)
        return row

    def conflict(self, stored, row, differences):
        if stored["status"] == Trade.Status.CLOSED:
            return {
                "_conflict": f"trade {row['external_id']} is already stored closed; "
                "a closed trade is final",
                **_describe_differences(stored, row, differences),
            }
        changed_identity = [field for field in self.identity_fields if field in differences]
        if changed_identity:
            return {
                "_conflict": f"open trade {row['external_id']} re-sent with a different identity",
                **_describe_differences(stored, row, changed_identity),
            }
        return None

    def after_write(self, bot, created_rows):
        # Fills that arrived before their trade are linked as soon as the trade lands.
        link_orphan_fills(bot, [row["external_id"] for row in created_rows])


class FillWriter(RowWriter):
    model = Fill
    key_fields = ("external_id",)
    derived_fields = frozenset({"trade_id"})

    def prepare(self, bot, cleans):
        hold_fill_linking(bot, exclusive=True)
        trade_ids = {clean["trade_external_id"] for clean in cleans}
        self.trade_pks = dict(
            Trade.objects.filter(one_of(Trade, "external_id", trade_ids), bot=bot).values_list(
                "external_id", "pk"
            )
        )

    def to_row(self, bot, clean):
        return {**clean, "trade_id": self.trade_pks.get(clean["trade_external_id"])}

    def after_write(self, bot, created_rows):
        refresh_realized_slippage(bot, {row["trade_id"] for row in created_rows if row["trade_id"]})
        # A fill stored before its trade (also before this fix of the race) is linked when it
        # is sent again.
        link_orphan_fills(bot, list(self.trade_pks))


class HealthWriter(RowWriter):
    model = HealthEvent
    key_fields = ("ts", "kind")

    def to_row(self, bot, clean):
        # A heartbeat's trading mode lives on the bot's pulse (ingestion.heartbeats) only.
        return {name: value for name, value in clean.items() if name != "trading"}


class EquityWriter(RowWriter):
    model = EquitySnapshot
    key_fields = ("ts",)


class DecisionCountWriter(RowWriter):
    """Pre-counted daily rows: the bot's count for the day replaces the stored one."""

    model = DecisionCount
    key_fields = ("day", "symbol", "outcome", "reason")

    def conflict(self, stored, row, differences):
        return None


WRITERS = {
    "trades": TradeWriter,
    "fills": FillWriter,
    "health": HealthWriter,
    "equity": EquityWriter,
    "decisions": DecisionCountWriter,
}
