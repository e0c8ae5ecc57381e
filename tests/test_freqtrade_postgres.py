"""A freqtrade bot on PostgreSQL: the same fixture's rows in a PostgreSQL database of their own
(freqtrade's column types there: boolean, timestamp without time zone, double precision), read
through a postgresql+psycopg2:// URL as freqtrade names it, in a read-only session."""

import sqlite3
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from ingestion.freqtrade import configure_source, sync_source
from ingestion.freqtrade_db import ORDER_COLUMNS, TRADE_COLUMNS, FreqtradeDatabase
from tests.test_freqtrade import FIGURES, NOW
from tradeops.models import Fill, Trade

FIXTURE = Path(__file__).parent / "fixtures" / "freqtrade" / "tradesv3.sqlite"
TYPES = {
    "is_open": "boolean",
    "is_short": "boolean",
    "ft_is_open": "boolean",
    "id": "integer",
    "ft_trade_id": "integer",
    "pair": "varchar(25)",
    "exit_reason": "varchar(255)",
    "strategy": "varchar(100)",
    "ft_order_side": "varchar(25)",
    "side": "varchar(25)",
    "order_type": "varchar(50)",
}
TIMES = {"open_date", "close_date", "order_date", "order_filled_date", "order_update_date"}

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL to hold the bot's database"
)


@pytest.fixture
def freqtrade_url(db):
    settings = connection.settings_dict
    name = f"{settings['NAME']}_freqtrade"
    server = {"host": settings["HOST"], "port": settings["PORT"], "user": settings["USER"]}
    with psycopg.connect(**server, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    source = sqlite3.connect(FIXTURE)
    with psycopg.connect(**server, dbname=name) as target:
        for table, columns in (("trades", TRADE_COLUMNS), ("orders", ORDER_COLUMNS)):
            kinds = [
                TYPES.get(c, "timestamp" if c in TIMES else "double precision") for c in columns
            ]
            target.execute(
                f"CREATE TABLE {table} ("
                + ", ".join(f"{c} {k}" for c, k in zip(columns, kinds, strict=True))
                + ")"
            )
            rows = source.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
            flags = [i for i, k in enumerate(kinds) if k == "boolean"]
            marks = ", ".join(["%s"] * len(columns))
            for row in rows:
                row = [bool(v) if i in flags and v is not None else v for i, v in enumerate(row)]
                target.execute(f"INSERT INTO {table} VALUES ({marks})", row)
    source.close()
    yield f"postgresql+psycopg2://{server['user']}@{server['host']}:{server['port']}/{name}"
    with psycopg.connect(**server, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_freqtrade_database_on_postgresql_syncs_like_its_sqlite_twin(bot, freqtrade_url):
    source = configure_source(bot, freqtrade_url, now=NOW)

    outcome = sync_source(source, now=NOW)

    assert outcome["trades"]["accepted"] == 11 and outcome["fills"]["accepted"] == 27
    closed = Trade.objects.filter(bot=bot, status="closed")
    net = sum(trade.net_pnl for trade in closed)
    assert abs(float(net) - FIGURES["profit_total_abs"]) < 1e-8
    assert Fill.objects.filter(bot=bot, trade__isnull=True).count() == 0


def test_the_postgresql_session_is_read_only(freqtrade_url):
    opened = FreqtradeDatabase(freqtrade_url)
    with opened as database, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        database._connection.execute("DELETE FROM trades")
