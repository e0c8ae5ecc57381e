"""Trades are cleaned while they are stored (TradeWriter.stream): the keys are read from the
trades as sent, and each trade is cleaned inside the COPY. Streaming must store, count and
quarantine exactly what cleaning the whole batch first (RowWriter.apply) does."""

import pytest

from ingestion import fields
from ingestion.records import latest_allowed_timestamp, validate_record
from ingestion.writers import TradeWriter
from tests.factories import closed_trade, ingest, open_trade
from tests.test_trade_fast_path import COMMON, TRADES, mixed_trades
from tradeops.models import IngestKind, QuarantinedRecord, Trade
from tradeops.services import create_bot


def test_the_key_read_from_a_trade_as_sent_is_the_key_once_clean():
    """The stored rows are locked and loaded by the keys read before cleaning: a trade whose
    clean key differed would be inserted again instead of compared."""
    latest = latest_allowed_timestamp()
    writer = TradeWriter()
    writer.release_ids = {}
    checked = 0
    for data in [*TRADES, *COMMON, *mixed_trades(3000, seed=5)]:
        clean, errors = validate_record(IngestKind.TRADES, data, latest)
        if errors:
            continue
        checked += 1
        assert writer.raw_key(data) == writer.key(writer.to_row(None, clean)), data
    assert checked > 300


def stored(bot):
    rows = list(Trade.objects.filter(bot=bot).order_by("external_id").values())
    for row in rows:
        for name in ("id", "bot_id", "ingested_at", "changed_at", "release_id"):
            del row[name]
    return rows


def quarantined(bot):
    return list(QuarantinedRecord.objects.filter(bot=bot).order_by("raw").values("raw", "errors"))


BATCHES = [
    # Keys out of order; a trade sent open then closed in one batch; the same trade twice.
    [
        closed_trade(external_id="T-c"),
        open_trade(external_id="T-b"),
        closed_trade(external_id="T-a"),
        closed_trade(external_id="T-b"),
        closed_trade(external_id="T-a"),
    ],
    # Against what is stored: unchanged, closed, a conflict with a closed trade, a new one, and
    # a trade refused among them.
    [
        closed_trade(external_id="T-a"),
        closed_trade(external_id="T-b", net_pnl="1"),
        open_trade(external_id="T-d"),
        {**closed_trade(external_id="T-e"), "qty": "-1"},
        open_trade(external_id=" T-d "),
        closed_trade(external_id="T-d"),
        {"external_id": "\ud800", "symbol": "BTCUSDT"},
        "a trade",
    ],
]


@pytest.mark.django_db
def test_streaming_stores_what_cleaning_the_batch_first_stores(monkeypatch):
    def run(slug):
        bot, _ = create_bot(slug=slug)
        results = [ingest(bot, "trades", *batch).as_dict() for batch in BATCHES]
        return results, stored(bot), quarantined(bot)

    streamed = run("streamed")
    monkeypatch.setattr(TradeWriter, "streams", False)
    applied = run("applied")

    first, second = streamed[0]
    assert (first["accepted"], first["updated"], first["unchanged"]) == (3, 1, 1)
    assert (second["accepted"], second["updated"], second["unchanged"]) == (1, 1, 2)
    assert second["quarantined"] == 4
    assert streamed == applied


@pytest.mark.django_db
def test_a_tag_sent_with_spaces_links_the_trade_to_its_release(bot, baseline):
    ingest(bot, "trades", closed_trade(external_id="T-1", release=f"\t{baseline.tag} "))

    assert Trade.objects.get().release == baseline


@pytest.mark.django_db
def test_a_streamed_trade_the_database_refuses_is_quarantined_and_the_rest_lands(bot, monkeypatch):
    # Validation loosened by hand, as if a rule were missing: the COPY fails, and the batch is
    # cleaned first and split by the database instead.
    monkeypatch.setattr(fields, "MAX_DIGITS", 40)
    result = ingest(
        bot,
        "trades",
        closed_trade(external_id="T-1"),
        closed_trade(external_id="T-2", qty="1" + "0" * 24),
    )

    assert (result.accepted, result.quarantined) == (1, 1)
    assert "refused by the database" in result.errors[0]["errors"]["_record"]
    assert Trade.objects.get().external_id == "T-1"
    assert '"T-2"' in QuarantinedRecord.objects.get().raw


@pytest.mark.django_db
def test_streaming_asks_the_database_nothing_per_trade(bot, django_assert_max_num_queries):
    def batch(size, prefix):
        return [closed_trade(external_id=f"{prefix}-{n}") for n in range(size)]

    ingest(bot, "trades", *batch(5, "warm"))
    with django_assert_max_num_queries(20) as few:
        ingest(bot, "trades", *batch(5, "few"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        result = ingest(bot, "trades", *batch(2000, "many"))
    assert result.accepted == 2000
