"""The database itself refuses broken rows, even from code that skips the ingestion service."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from tradeops.models import ConfigRelease, DecisionCount, IngestBatch, Trade

OPENED = datetime.datetime(2026, 11, 2, 10, tzinfo=datetime.UTC)


def trade_row(bot, **overrides):
    values = {
        "bot": bot,
        "external_id": "DB-1",
        "symbol": "BTCUSDT",
        "side": "long",
        "status": "closed",
        "opened_at": OPENED,
        "closed_at": OPENED + datetime.timedelta(hours=1),
        "qty": Decimal("1"),
        "entry_price": Decimal("100"),
        "exit_price": Decimal("101"),
        "gross_pnl": Decimal("1"),
        "fees": Decimal("0.1"),
        "funding": Decimal("0"),
        "net_pnl": Decimal("0.9"),
    }
    values.update(overrides)
    return values


BROKEN = {
    "zero qty": {"qty": Decimal("0")},
    "negative entry price": {"entry_price": Decimal("-1")},
    "unknown side": {"side": "buy"},
    "unknown status": {"status": "failed"},
    "closed before opened": {"closed_at": OPENED - datetime.timedelta(seconds=1)},
    "closed without exit price": {"exit_price": None},
    "closed without closed_at": {"closed_at": None},
    "closed without net_pnl": {"net_pnl": None},
    "open with an exit": {"status": "open"},
    "zero leverage": {"leverage": Decimal("0")},
}


@pytest.mark.parametrize("overrides", BROKEN.values(), ids=BROKEN.keys())
def test_database_refuses_broken_trade(bot, overrides):
    with pytest.raises(IntegrityError), transaction.atomic():
        Trade.objects.create(**trade_row(bot, **overrides))


def test_external_id_is_unique_per_bot_not_globally(bot):
    from tradeops.services import create_bot

    other, _ = create_bot(slug="other")
    Trade.objects.create(**trade_row(bot))
    Trade.objects.create(**trade_row(other))
    with pytest.raises(IntegrityError), transaction.atomic():
        Trade.objects.create(**trade_row(bot))


def test_rejected_decision_count_needs_a_reason(bot):
    with pytest.raises(IntegrityError), transaction.atomic():
        DecisionCount.objects.create(
            bot=bot, day=OPENED.date(), outcome="rejected", reason="", count=1
        )


def test_batch_counts_must_add_up(bot):
    with pytest.raises(IntegrityError), transaction.atomic():
        IngestBatch.objects.create(bot=bot, kind="trades", source="x", records=3, accepted=1)


def test_one_baseline_per_bot_and_only_approved(bot):
    approved = {"approved_at": OPENED}
    ConfigRelease.objects.create(bot=bot, version=1, tag="a", is_baseline=True, **approved)
    with pytest.raises(IntegrityError), transaction.atomic():
        ConfigRelease.objects.create(bot=bot, version=2, tag="b", is_baseline=True, **approved)
    with pytest.raises(IntegrityError), transaction.atomic():
        ConfigRelease.objects.create(bot=bot, version=3, tag="c", is_baseline=True)


def test_approved_release_is_immutable(bot):
    from django.core.exceptions import ValidationError

    release = ConfigRelease.objects.create(bot=bot, version=1, tag="v1", params={"x": 1})
    release.params = {"x": 2}
    release.save()  # still a draft: editable
    release.approved_at = OPENED
    release.save()

    release.params = {"x": 3}
    with pytest.raises(ValidationError, match="immutable"):
        release.save()
    release.refresh_from_db()
    release.notes = "notes stay editable"
    release.save()


def test_approved_release_is_immutable_below_the_orm_too(bot):
    release = ConfigRelease.objects.create(
        bot=bot, version=1, tag="v1", params={"x": 1}, approved_at=OPENED
    )
    approved = ConfigRelease.objects.filter(pk=release.pk)
    immutable = pytest.raises(IntegrityError, match="release v1 is approved and immutable")
    with immutable, transaction.atomic():
        approved.update(params={"x": 2})  # a bulk update skips save()
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        approved.delete()
    approved.update(notes="still editable", is_baseline=True)
    assert approved.get().params == {"x": 1}
    draft = ConfigRelease.objects.create(bot=bot, version=2, tag="v2", params={"x": 1})
    ConfigRelease.objects.filter(pk=draft.pk).update(params={"x": 5})  # drafts change freely
