"""The freqtrade connector against a database freqtrade itself wrote
(tests/fixtures/freqtrade, scripts/make_freqtrade_fixture.py): the KPIs of the synced trades
equal freqtrade's own figures for them, partial exits included, and a sync is incremental,
idempotent, read-only and never bypasses validation."""

import datetime
import json
import shutil
import sqlite3
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from ingestion.freqtrade import FREQTRADE_EXIT_REASONS, configure_source, sync_source
from ingestion.freqtrade_db import FreqtradeDatabaseError, parse_db_url
from kpis.calculations import INFINITY, MONEY_PLACES, RATE_PLACES
from kpis.services import compute_kpis
from tests.factories import FREQTRADE_DATABASE
from tests.factories import FREQTRADE_FIGURES as FIGURES
from tests.factories import FREQTRADE_NOW as NOW
from tradeops.models import Fill, IngestBatch, QuarantinedRecord, Trade

# Every close of the fixture is in this window (2026-11-02 .. 11-06).
AS_OF, DAYS = datetime.date(2026, 11, 7), 7


@pytest.fixture
def freqtrade_db(tmp_path):
    """A copy of the fixture, so a test may change it as the bot would."""
    path = tmp_path / "tradesv3.sqlite"
    shutil.copy(FREQTRADE_DATABASE, path)
    return path


def url(path):
    return f"sqlite:///{path}"


@pytest.fixture
def source(bot, freqtrade_db):
    bot.starting_equity = Decimal(str(FIGURES["starting_balance"]))
    bot.save(update_fields=["starting_equity"])
    return configure_source(bot, url(freqtrade_db), now=NOW)


def close_to(ours, theirs, places=8):
    return abs(float(ours) - float(theirs)) < 10**-places


def same_money(ours, theirs):
    """Equal at the places our KPIs report money with (theirs is a float)."""
    half_unit = Decimal(1).scaleb(-MONEY_PLACES) / 2
    return abs(Decimal(ours) - Decimal(repr(float(theirs)))) <= half_unit + Decimal("1e-12")


def same_rate(ours, theirs):
    """Equal at the places our KPIs report rates with."""
    return ours == round(theirs, RATE_PLACES)


@pytest.mark.django_db
def test_the_synced_trades_kpis_equal_freqtrades_own_figures(bot, source):
    sync_source(source, now=NOW)

    figures = compute_kpis(bot, DAYS, AS_OF).figures
    assert figures["trades"] == FIGURES["closed_trades"] == 10
    assert same_money(figures["net_pnl"], FIGURES["profit_total_abs"])
    # freqtrade's expectancy is ours: winrate x avg win - loserate x avg loss = net / trades.
    assert same_money(figures["avg_pnl_per_trade"], FIGURES["expectancy"])
    assert same_rate(figures["win_rate"], FIGURES["winrate"])
    assert FIGURES["draws"] == 0  # freqtrade's wins are profit > 0, as ours
    assert same_rate(figures["profit_factor"], FIGURES["profit_factor"])
    assert same_money(figures["max_drawdown_abs"], FIGURES["max_drawdown_abs"])
    # With the same starting balance: ours is the largest relative fall anywhere; freqtrade's
    # summary row gives the relative fall at its largest absolute fall. Here they coincide, and
    # ours equals its relative=True figure by definition.
    assert same_rate(figures["max_drawdown_pct"], FIGURES["max_drawdown_account_relative"])
    assert same_rate(figures["max_drawdown_pct"], FIGURES["max_drawdown_account"])
    losses = [
        t["close_profit_abs"] for t in FIGURES["per_trade"].values() if t["close_profit_abs"] < 0
    ]
    assert same_money(figures["avg_loss_per_trade"], sum(losses) / len(losses))
    # One close of ten has an exit reason that is no ExitType: the strategy's custom "unclog".
    assert figures["unknown_exit_pct"] == pytest.approx(0.1)
    shorts = sum(t["is_short"] for t in FIGURES["per_trade"].values())
    assert figures["side_mix"]["short"] == pytest.approx(shorts / 10)


@pytest.mark.django_db
def test_each_trade_is_freqtrades_trade_with_its_parts_explicit(bot, source):
    sync_source(source, now=NOW)

    stored = {t.external_id: t for t in Trade.objects.filter(bot=bot)}
    assert len(stored) == 11  # ten closed, one still open
    for number, theirs in FIGURES["per_trade"].items():
        trade = stored[f"ft-{number}"]
        assert trade.status == Trade.Status.CLOSED
        assert close_to(trade.net_pnl, theirs["close_profit_abs"])
        assert trade.net_pnl == trade.gross_pnl - trade.fees - trade.funding
        # freqtrade's funding_fees is positive when received; ours is positive when paid.
        assert close_to(trade.funding, -theirs["funding_fees"])
        assert trade.side == ("short" if theirs["is_short"] else "long")
        assert trade.leverage == Decimal(str(theirs["leverage"]))
        assert trade.exit_reason == theirs["exit_reason"]
        assert trade.fills.count() == theirs["filled_orders"]


@pytest.mark.django_db
def test_partial_exits_are_one_trade_with_every_exit_a_fill(bot, source):
    sync_source(source, now=NOW)

    # ETH short, 0.6 entered at 3200, out in thirds at 3150, 3120 and 3180 (force_exit).
    trade = Trade.objects.get(bot=bot, external_id="ft-9")
    assert (trade.qty, trade.entry_price, trade.exit_price) == (
        Decimal("0.6"),
        Decimal("3200"),
        Decimal("3150"),
    )
    exits = trade.fills.filter(side=Fill.Side.BUY).order_by("ts")
    assert [f.qty for f in exits] == [Decimal("0.2")] * 3
    assert [f.price for f in exits] == [Decimal("3150"), Decimal("3120"), Decimal("3180")]
    # Price P&L of the three exits: (3200 - price) x 0.2 each.
    assert trade.gross_pnl == Decimal("10") + Decimal("16") + Decimal("4")
    # Fees: 0.05% of every leg's value, as freqtrade's profit charged them.
    assert trade.fees == Decimal("0.0005") * (Decimal("1920") + 630 + 624 + 636)
    assert trade.exit_reason == "force_exit"
    # Still open after a partial exit: open, all it entered, both fills.
    running = Trade.objects.get(bot=bot, external_id="ft-11")
    assert (running.status, running.qty, running.net_pnl) == ("open", Decimal("6"), None)
    assert running.fills.count() == 2


@pytest.mark.django_db
def test_a_sync_is_incremental_and_idempotent(bot, source, freqtrade_db):
    first = sync_source(source, now=NOW, limit=4)
    assert first["trades"]["accepted"] == 4 and first["last_trade_id"] == 4
    source.refresh_from_db()
    rest = sync_source(source, now=NOW)
    assert rest["trades"]["accepted"] == 7
    source.refresh_from_db()
    assert list(source.open_trades) == ["11"]

    # Nothing new: only the open trade is read again; as it was, it is not sent again (no batch).
    batches = IngestBatch.objects.filter(bot=bot).count()
    again = sync_source(source, now=NOW)
    assert (again["trades_read"], again["open_as_before"]) == (1, 1)
    assert (
        again["trades"]
        == again["fills"]
        == {
            "accepted": 0,
            "updated": 0,
            "unchanged": 0,
            "quarantined": 0,
        }
    )
    assert IngestBatch.objects.filter(bot=bot).count() == batches

    # Read again from the first trade (another database of the same trades), all is unchanged.
    source.last_trade_id, source.open_trades = 0, {}
    source.save()
    reread = sync_source(source, now=NOW)
    assert reread["trades"]["unchanged"] == 11 and reread["fills"]["unchanged"] == 27
    assert Trade.objects.filter(bot=bot).count() == 11

    # The bot closes the open trade: the next sync updates it and stops watching it.
    with sqlite3.connect(freqtrade_db) as db:
        db.execute(
            "INSERT INTO orders (ft_trade_id, ft_order_side, ft_pair, ft_is_open, ft_amount, "
            "ft_price, order_id, status, symbol, order_type, side, price, average, amount, "
            "filled, remaining, cost, order_date, order_filled_date) VALUES (11, 'sell', "
            "'SOL/USDT:USDT', 0, 3, 165, 'ex-11-9', 'closed', 'SOL/USDT:USDT', 'market', "
            "'sell', 165, 165, 3, 3, 0, 495, '2026-11-06 22:00:00', '2026-11-06 22:00:00')"
        )
        db.execute(
            "UPDATE trades SET is_open = 0, close_date = '2026-11-06 22:00:00', close_rate = 165,"
            " close_profit_abs = 26.2395, funding_fees = -0.02, exit_reason = 'roi' WHERE id = 11"
        )
    db.close()
    source.refresh_from_db()
    closing = sync_source(source, now=NOW)
    assert closing["trades"]["updated"] == 1 and closing["fills"]["accepted"] == 1
    trade = Trade.objects.get(bot=bot, external_id="ft-11")
    assert (trade.status, trade.exit_price, trade.net_pnl) == (
        "closed",
        Decimal("164.5"),
        Decimal("26.2395"),
    )
    source.refresh_from_db()
    assert source.open_trades == {}


@pytest.mark.django_db
def test_a_bad_freqtrade_row_is_quarantined_naming_the_trade_and_field(bot, source, freqtrade_db):
    with sqlite3.connect(freqtrade_db) as db:
        db.execute("UPDATE trades SET close_profit_abs = NULL WHERE id = 2")
        db.execute("UPDATE trades SET exit_reason = ? WHERE id = 3", ("x" * 150,))
    db.close()

    outcome = sync_source(source, now=NOW)

    assert outcome["trades"]["quarantined"] == 2
    refused = {
        json.loads(q.raw)["external_id"]: q.errors
        for q in QuarantinedRecord.objects.filter(bot=bot, kind="trades")
    }
    assert set(refused) == {"ft-2", "ft-3"}
    assert "net_pnl" in refused["ft-2"] and "exit_reason" in refused["ft-3"]
    assert not Trade.objects.filter(external_id__in=["ft-2", "ft-3"]).exists()


@pytest.mark.django_db
def test_the_database_is_opened_read_only(bot, source, freqtrade_db):
    freqtrade_db.chmod(0o444)
    try:
        assert sync_source(source, now=NOW)["trades"]["accepted"] == 11
    finally:
        freqtrade_db.chmod(0o644)


@pytest.mark.django_db
def test_a_missing_database_is_a_clear_error_kept_on_the_source(bot, tmp_path):
    source = configure_source(bot, url(tmp_path / "nope.sqlite"), now=NOW)
    with pytest.raises(FreqtradeDatabaseError, match="no freqtrade database at"):
        sync_source(source, now=NOW)
    source.refresh_from_db()
    assert "no freqtrade database" in source.last_outcome["error"]


def test_freqtrade_urls_are_read_as_sqlalchemy_writes_them():
    assert str(parse_db_url("sqlite:////abs/tradesv3.sqlite").path) == "/abs/tradesv3.sqlite"
    assert str(parse_db_url("sqlite:///tradesv3.sqlite").path) == "tradesv3.sqlite"
    pg = parse_db_url("postgresql+psycopg2://ft:s%40cret@db.local:5433/freqtrade")
    assert pg.conninfo == {
        "host": "db.local",
        "port": 5433,
        "dbname": "freqtrade",
        "user": "ft",
        "password": "s@cret",
    }
    assert "cret" not in pg.redacted()
    for bad in ("sqlite://", "mysql://x/y", "postgresql:///nohost"):
        with pytest.raises(ValueError):
            parse_db_url(bad)


@pytest.mark.django_db
def test_configuring_a_source_makes_freqtrades_exit_reasons_known(bot, freqtrade_db):
    bot.known_exit_reasons = ["unclog"]
    bot.save()
    source = configure_source(bot, url(freqtrade_db), now=NOW)
    bot.refresh_from_db()
    assert bot.known_exit_reasons == ["unclog", *FREQTRADE_EXIT_REASONS]
    assert set(FREQTRADE_EXIT_REASONS) == set(FIGURES["exit_types"])
    # A new database starts the position over; the reasons, edited since, stay as they are.
    source.last_trade_id = 5
    source.save()
    bot.known_exit_reasons = ["roi"]
    bot.save()
    configure_source(bot, url(freqtrade_db.with_name("other.sqlite")), now=NOW)
    source.refresh_from_db()
    bot.refresh_from_db()
    assert (source.last_trade_id, bot.known_exit_reasons) == (0, ["roi"])


@pytest.mark.django_db
def test_the_command_configures_and_syncs(bot, freqtrade_db, capsys):
    call_command("sync_freqtrade", "--bot", bot.slug, "--db-url", url(freqtrade_db))
    assert "11 trades read" in capsys.readouterr().out
    call_command("sync_freqtrade", "--bot", bot.slug)
    assert Trade.objects.filter(bot=bot).count() == 11


@pytest.mark.django_db
def test_no_losing_trade_is_an_infinite_profit_factor_where_freqtrades_report_says_0(bot, source):
    """docs/design.md, "The KPIs": freqtrade's backtest report (_generate_result_line) gives 0
    without a losing trade (its RPC /profit gives inf); ours is infinity, explicitly."""
    sync_source(source, now=NOW, limit=1)  # trade 1 only: a win

    assert compute_kpis(bot, DAYS, AS_OF).figures["profit_factor"] == INFINITY


@pytest.mark.django_db
def test_the_command_keeps_a_working_database_when_given_one_it_cannot_open(bot, source, tmp_path):
    with pytest.raises(CommandError, match="no freqtrade database at"):
        call_command("sync_freqtrade", "--bot", bot.slug, "--db-url", url(tmp_path / "typo"))
    with pytest.raises(CommandError, match="unsupported freqtrade database"):
        call_command("sync_freqtrade", "--bot", bot.slug, "--db-url", "mysql://x/y")
    source.refresh_from_db()
    assert source.db_url.endswith("tradesv3.sqlite")
