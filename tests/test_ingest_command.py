"""`manage.py ingest <kind> <path> --bot <slug>` and the bot/token commands."""

import pytest
from django.core.management import CommandError, call_command

from tradeops.models import ApiToken, Bot, QuarantinedRecord, Trade
from tradeops.services import authenticate_bot_token

HEADER = (
    "external_id,symbol,side,status,opened_at,closed_at,qty,entry_price,exit_price,leverage,"
    "gross_pnl,fees,funding,net_pnl,exit_reason,release"
)
CSV = f"""{HEADER}
C-1,BTCUSDT,short,closed,2026-11-02T10:00:00Z,2026-11-02T11:00:00Z,0.5,50000,49800,5,100,5.5,0.25,94.25,take_profit,v1
C-2,ETHUSDT,long,closed,2026-11-02T10:00:00Z,2026-11-02T09:00:00Z,2,3000,3010,3,20,1,0,19,stop_loss,v1
C-3,ETHUSDT,long,open,2026-11-02T10:00:00Z,,2,3000,,3,,,,,,v1
C-4,SOLUSDT,up,closed,2026-11-02T10:00:00Z,2026-11-02T11:00:00Z,10,150,151,2,10,0.5,0,9.5,time_exit,v1
"""


def test_mixed_csv_lands_good_rows_and_quarantines_bad_ones(bot, tmp_path, capsys):
    path = tmp_path / "trades.csv"
    path.write_text(CSV)

    call_command("ingest", "trades", str(path), "--bot", bot.slug)

    out = capsys.readouterr().out
    assert "accepted=2 updated=0 unchanged=0 quarantined=2" in out
    assert '"external_id": "C-2"' in out and "before opened_at" in out
    assert '"external_id": "C-4"' in out and "must be one of long, short" in out
    assert set(Trade.objects.values_list("external_id", flat=True)) == {"C-1", "C-3"}
    assert Trade.objects.get(external_id="C-3").status == "open"
    kept = QuarantinedRecord.objects.get(external_id="C-4")
    assert '"side": "up"' in kept.raw and kept.source == f"file:{path}"


def test_csv_row_with_too_few_columns_is_quarantined(bot, tmp_path, capsys):
    path = tmp_path / "trades.csv"
    path.write_text(HEADER + "\nC-9,BTCUSDT\n")
    call_command("ingest", "trades", str(path), "--bot", bot.slug)
    assert "fewer values than header columns" in capsys.readouterr().out
    assert QuarantinedRecord.objects.count() == 1


def test_ndjson_file_and_unknown_bot(bot, tmp_path, capsys):
    path = tmp_path / "equity.jsonl"
    path.write_text('{"ts": "2026-11-02T00:00:00Z", "equity": 1000}\n')
    call_command("ingest", "equity", str(path), "--bot", bot.slug)
    assert "accepted=1" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no bot 'nope'"):
        call_command("ingest", "equity", str(path), "--bot", "nope")


def test_unparseable_file_is_quarantined_and_reported(bot, tmp_path):
    path = tmp_path / "trades.json"
    path.write_text("[{oops")
    with pytest.raises(CommandError, match="kept in quarantine"):
        call_command("ingest", "trades", str(path), "--bot", bot.slug)
    assert QuarantinedRecord.objects.get().raw == "[{oops"


def test_create_bot_prints_a_token_stored_only_as_a_hash(db, capsys):
    call_command("create_bot", "gamma", "--name", "Gamma")
    token = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]

    assert Bot.objects.get(slug="gamma").name == "Gamma"
    assert authenticate_bot_token(token).slug == "gamma"
    assert not ApiToken.objects.filter(token_hash=token).exists()
    assert token not in str(list(ApiToken.objects.values()))

    call_command("create_token", "gamma")
    second = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    assert second != token and authenticate_bot_token(second).slug == "gamma"
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_bot", "gamma")
