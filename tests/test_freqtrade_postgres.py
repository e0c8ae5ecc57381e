"""A freqtrade bot on PostgreSQL: the same fixture's rows in a PostgreSQL database of their own
(freqtrade's column types there: boolean, timestamp without time zone, double precision), read
through a postgresql+psycopg2:// URL as freqtrade names it, in a read-only session."""

import psycopg
import pytest
from django.db import connection

from ingestion.freqtrade import configure_source, sync_source
from ingestion.freqtrade_db import FreqtradeDatabase
from tests.factories import FREQTRADE_FIGURES, FREQTRADE_NOW
from tradeops.models import Fill, Trade

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL to hold the bot's database"
)


def test_a_freqtrade_database_on_postgresql_syncs_like_its_sqlite_twin(bot, freqtrade_url):
    source = configure_source(bot, freqtrade_url, now=FREQTRADE_NOW)

    outcome = sync_source(source, now=FREQTRADE_NOW)

    assert outcome["trades"]["accepted"] == 11 and outcome["fills"]["accepted"] == 27
    closed = Trade.objects.filter(bot=bot, status="closed")
    net = sum(trade.net_pnl for trade in closed)
    assert abs(float(net) - FREQTRADE_FIGURES["profit_total_abs"]) < 1e-8
    assert Fill.objects.filter(bot=bot, trade__isnull=True).count() == 0


def test_the_postgresql_session_is_read_only(freqtrade_url):
    opened = FreqtradeDatabase(freqtrade_url)
    with opened as database, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        database._connection.execute("DELETE FROM trades")
