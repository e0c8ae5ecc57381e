"""Bulk SQL for ingestion: new rows streamed by COPY, changed rows updated in one statement,
batch-sized key filters as one array parameter. Each has a plain ORM fallback for SQLite.
"""

from contextlib import contextmanager
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

BULK_BATCH_SIZE = 2000


@contextmanager
def rows_inserted(model, bot):
    """A function that inserts a new row of `model` for `bot`, for the block's rows.

    On PostgreSQL each row is streamed by COPY as it is given, so the server stores the rows while
    the caller prepares the next ones; elsewhere they are bulk-created when the block ends. COPY
    skips Django's per-field preparation, the main cost of ingesting tens of thousands of trades
    a second; the values are already clean Python types psycopg adapts itself.
    """
    if connection.vendor != "postgresql":
        rows = []
        yield rows.append
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
        write_row = copy.write_row

        def insert(row):
            get = row.get
            write_row([get(name, default) for name, default in names])

        yield insert


def insert_rows(model, bot, rows):
    """Insert new rows of `model` for `bot` (see rows_inserted)."""
    if not rows:
        return
    with rows_inserted(model, bot) as insert:
        for row in rows:
            insert(row)


def one_of(model, name, values):
    """A filter: `name` is one of `values`. On PostgreSQL `= ANY(array)`, one parameter for a
    batch's thousands of keys; `__in` sends a placeholder each, and building and splitting that
    query took longer than running it."""
    if connection.vendor != "postgresql":
        return Q(**{f"{name}__in": values})
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(name).column)}"
    return RawSQL(f"{column} = ANY(%s)", [list(values)], output_field=BooleanField())


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
