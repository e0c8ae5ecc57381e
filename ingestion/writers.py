"""How each kind of validated record is stored: its natural key, what counts as the same record,
when a stored row may be updated and when a re-send is a conflict.

`RowWriter.apply` classifies a batch against what is stored (and against earlier records of the
same batch), then writes it with one bulk insert and at most one bulk update.

Concurrent senders: the stored rows a batch compares with are locked (SELECT ... FOR UPDATE) until
it commits, so a second close of the same trade waits for the first and then sees it closed (a
conflict), never overwrites it. Rows are locked, inserted and updated in key order, so batches that
share keys in different orders queue behind each other instead of deadlocking.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Case, Exists, F, OuterRef, Q, Subquery, Sum, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from tradeops.models import (
    ConfigRelease,
    DecisionCount,
    EquitySnapshot,
    Fill,
    HealthEvent,
    Trade,
)

ACCEPTED, UPDATED, UNCHANGED, CONFLICT = "accepted", "updated", "unchanged", "conflict"
BULK_BATCH_SIZE = 2000


@dataclass
class Outcome:
    status: str
    errors: dict | None = None


def _describe_differences(stored, row, fields):
    return {
        field: f"stored {stored[field]!s}, received {row[field]!s}"
        for field in fields
        if stored[field] != row[field]
    }


def insert_rows(model, bot, rows):
    """Insert new rows of `model` for `bot`: COPY on PostgreSQL, bulk_create elsewhere.

    COPY skips Django's per-field preparation, the main cost of ingesting tens of thousands of
    trades a second; the values are already clean Python types psycopg adapts itself.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        objects = [model(bot=bot, **row) for row in rows]
        model.objects.bulk_create(objects, batch_size=BULK_BATCH_SIZE)
        return
    now = timezone.now()
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]

    def fallback(field):
        if field.attname == "bot_id":
            return bot.pk
        value = now if getattr(field, "auto_now_add", False) else field.get_default()
        # A stamp goes as the text psycopg sends for it (str()), written once here instead of
        # once a row: 1.6 us of CPU a timestamp, two a trade.
        return str(value) if isinstance(value, datetime) else value

    # A row holds a clean record's fields, never the bot or a creation stamp: those, and any
    # field the record does not have, take their fallback.
    names = [(field.attname, fallback(field)) for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    # Raw psycopg errors become Django's (IntegrityError...), as for any ORM query.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(sql) as copy,
    ):
        for row in rows:
            get = row.get
            copy.write_row([get(name, default) for name, default in names])


def one_of(model, name, values):
    """A filter: `name` is one of `values`. On PostgreSQL `= ANY(array)`, one parameter for a
    batch's thousands of keys; `__in` sends a placeholder each, and building and splitting that
    query took longer than running it."""
    if connection.vendor != "postgresql":
        return Q(**{f"{name}__in": values})
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(name).column)}"
    return RawSQL(f"{column} = ANY(%s)", [list(values)], output_field=BooleanField())


def _in_key_order(rows_by_key):
    return [rows_by_key[key] for key in sorted(rows_by_key)]


def update_rows(model, rows):
    """Update rows (dicts with "pk" and the same fields each): one UPDATE ... FROM (VALUES ...)
    per chunk on PostgreSQL, in the rows' order; bulk_update elsewhere.

    Django's bulk_update writes one CASE WHEN per field listing every pk, which PostgreSQL
    evaluates row by row: quadratic, seconds for a few thousand open trades updated at once.
    """
    if not rows:
        return
    if any(field.name == "changed_at" for field in model._meta.concrete_fields):
        # An updated row is a changed row: the integrity checks read it again.
        rows = [{**row, "changed_at": timezone.now()} for row in rows]
    fields = [model._meta.get_field(name) for name in rows[0] if name != "pk"]
    if connection.vendor != "postgresql":
        objects = [model(**row) for row in rows]
        names = [field.name for field in fields]
        model.objects.bulk_update(objects, names, batch_size=BULK_BATCH_SIZE)
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = quote(model._meta.pk.column)
    columns = [quote(field.column) for field in fields]
    types = [field.cast_db_type(connection) for field in fields]
    placeholder = "(%s::bigint, " + ", ".join(f"%s::{kind}" for kind in types) + ")"
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BULK_BATCH_SIZE):
            chunk = rows[start : start + BULK_BATCH_SIZE]
            values = ", ".join([placeholder] * len(chunk))
            params = [
                value
                for row in chunk
                for value in (row["pk"], *(row[field.attname] for field in fields))
            ]
            cursor.execute(
                f"UPDATE {table} SET {assignments} "
                f"FROM (VALUES {values}) AS v ({pk}, {', '.join(columns)}) "
                f"WHERE {table}.{pk} = v.{pk}",
                params,
            )


class RowWriter:
    model = None
    key_fields: tuple = ()
    # Filled in from other rows rather than sent by the bot; not compared.
    derived_fields: frozenset = frozenset()

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

    def apply(self, bot, items):
        """Store the valid records in `items` [(record, clean)] and return an Outcome for each."""
        self.prepare(bot, [clean for _, clean in items])
        rows = [self.to_row(bot, clean) for _, clean in items]
        if not rows:
            return []
        self.compared_fields = [field for field in rows[0] if field not in self.derived_fields]
        state = self._load(bot, {self.key(row) for row in rows})
        creates, updates, outcomes = {}, {}, []
        for row in rows:
            key = self.key(row)
            stored = state.get(key)
            if stored is None:
                creates[key] = row
                state[key] = row
                outcomes.append(Outcome(ACCEPTED))
                continue
            differences = [f for f in self.compared_fields if stored[f] != row[f]]
            if not differences:
                outcomes.append(Outcome(UNCHANGED))
                continue
            errors = self.conflict(stored, row, differences)
            if errors:
                outcomes.append(Outcome(CONFLICT, errors))
                continue
            if key in creates:
                creates[key] = row
            else:
                updates[key] = {**row, "pk": stored["pk"]}
            state[key] = {**row, "pk": stored.get("pk")}
            outcomes.append(Outcome(UPDATED))
        self._write(bot, _in_key_order(creates), _in_key_order(updates))
        return outcomes

    def _write(self, bot, creates, updates):
        insert_rows(self.model, bot, creates)
        update_rows(self.model, updates)
        self.after_write(bot, creates)


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

    def prepare(self, bot, cleans):
        hold_fill_linking(bot, exclusive=False)
        tags = {clean["release"] for clean in cleans if clean["release"]}
        self.release_ids = dict(
            ConfigRelease.objects.filter(bot=bot, tag__in=tags).values_list("tag", "pk")
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
