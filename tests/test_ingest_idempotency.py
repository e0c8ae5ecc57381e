"""Re-sends change nothing, open trades may close, and a closed trade is final."""

from integrity.models import IntegrityIncident
from tests.factories import closed_trade, ingest, open_trade
from tradeops.models import ConfigRelease, IngestBatch, QuarantinedRecord, Trade


def test_resending_the_same_trade_changes_nothing(bot):
    first = ingest(bot, "trades", closed_trade())
    second = ingest(bot, "trades", closed_trade())

    assert (first.accepted, first.unchanged) == (1, 0)
    assert (second.accepted, second.unchanged, second.quarantined) == (0, 1, 0)
    assert Trade.objects.count() == 1


def test_same_values_written_differently_are_unchanged(bot):
    ingest(bot, "trades", closed_trade(qty="0.5"))
    again = ingest(bot, "trades", closed_trade(qty=0.50, opened_at="2026-11-02T11:00:00+01:00"))
    assert again.unchanged == 1


def test_open_trade_later_arrives_closed(bot):
    ingest(bot, "trades", open_trade())
    assert Trade.objects.get().status == Trade.Status.OPEN

    result = ingest(bot, "trades", closed_trade())

    assert (result.accepted, result.updated) == (0, 1)
    trade = Trade.objects.get()
    assert trade.status == Trade.Status.CLOSED
    assert trade.net_pnl == 94.25


def test_open_trade_cannot_change_identity(bot):
    ingest(bot, "trades", open_trade())
    result = ingest(bot, "trades", closed_trade(side="long", gross_pnl="-100", net_pnl="-105.75"))

    assert result.quarantined == 1
    assert "different identity" in result.errors[0]["errors"]["_conflict"]
    assert Trade.objects.get().status == Trade.Status.OPEN


def test_closed_trade_resent_with_different_economics_is_a_conflict(bot):
    ingest(bot, "trades", closed_trade())
    result = ingest(bot, "trades", closed_trade(gross_pnl="200", net_pnl="194.25"))

    assert (result.updated, result.quarantined) == (0, 1)
    errors = result.errors[0]["errors"]
    assert "already stored closed" in errors["_conflict"]
    assert "stored 100" in errors["gross_pnl"] and "received 200" in errors["gross_pnl"]
    trade = Trade.objects.get()
    assert trade.gross_pnl == 100 and trade.net_pnl == 94.25
    conflict = QuarantinedRecord.objects.get()
    assert conflict.reason == QuarantinedRecord.Reason.CONFLICT
    assert '"gross_pnl": "200"' in conflict.raw
    incident = IntegrityIncident.objects.get()
    assert incident.kind == IntegrityIncident.Kind.TRADE_CONFLICT
    assert incident.severity == IntegrityIncident.Severity.CRITICAL


def test_closed_trade_cannot_be_reopened(bot):
    ingest(bot, "trades", closed_trade())
    result = ingest(bot, "trades", open_trade())
    assert result.quarantined == 1
    assert Trade.objects.get().status == Trade.Status.CLOSED


def test_same_bad_record_twice_is_one_quarantine_row_seen_twice(bot):
    ingest(bot, "trades", closed_trade(qty="0"))
    ingest(bot, "trades", closed_trade(qty="0"), closed_trade(qty="0"))

    record = QuarantinedRecord.objects.get()
    assert record.times_seen == 3
    assert record.first_seen_at <= record.last_seen_at
    assert record.external_id == "T-1"


def test_good_records_land_when_others_in_the_batch_are_refused(bot):
    result = ingest(
        bot,
        "trades",
        closed_trade(external_id="good-1"),
        closed_trade(external_id="bad-1", qty="0"),
        closed_trade(external_id="good-2"),
    )

    assert (result.accepted, result.quarantined) == (2, 1)
    assert result.errors[0]["index"] == 1
    assert result.errors[0]["external_id"] == "bad-1"
    assert set(Trade.objects.values_list("external_id", flat=True)) == {"good-1", "good-2"}


def test_counts_always_add_up_to_the_records_received(bot):
    ingest(bot, "trades", open_trade(external_id="a"), closed_trade(external_id="b"))
    batch = [
        closed_trade(external_id="a"),  # updated
        closed_trade(external_id="b"),  # unchanged
        closed_trade(external_id="b", fees="1", net_pnl="98.75"),  # conflict
        closed_trade(external_id="c"),  # accepted
        closed_trade(external_id="d", side="flat"),  # malformed
        closed_trade(external_id="c"),  # unchanged (same batch)
    ]
    result = ingest(bot, "trades", *batch)

    assert (result.accepted, result.updated, result.unchanged, result.quarantined) == (1, 1, 2, 2)
    assert result.records == len(batch)
    stored = IngestBatch.objects.latest("received_at")
    counted = stored.accepted + stored.updated + stored.unchanged + stored.quarantined
    assert stored.records == counted == 6


def test_open_then_closed_in_one_batch_counts_as_accepted_then_updated(bot):
    result = ingest(bot, "trades", open_trade(), closed_trade())
    assert (result.accepted, result.updated) == (1, 1)
    assert Trade.objects.get().status == Trade.Status.CLOSED


def test_release_tag_links_to_a_known_release_and_is_kept_when_unknown(bot):
    release = ConfigRelease.objects.create(bot=bot, version=1, tag="v1.4.0")
    ingest(bot, "trades", closed_trade(external_id="known"))
    ingest(bot, "trades", closed_trade(external_id="unknown", release="v9.9.9"))

    assert Trade.objects.get(external_id="known").release == release
    orphan = Trade.objects.get(external_id="unknown")
    assert orphan.release is None and orphan.release_tag == "v9.9.9"
