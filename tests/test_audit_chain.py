"""The audit trail can be proven: each row is hash-chained to the one before, appends never fork
the chain, the table refuses UPDATE and DELETE (PostgreSQL), verify_audit names the first row
changed or removed, and a Team lead exports it with its hashes (admin and command line)."""

import csv
import datetime
import io
import json
import threading
import time

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from tests.factories import log_in_as
from tradeops import audit
from tradeops.audit import export_audit, record_audit, verify_chain
from tradeops.models import AuditEvent, ConfigRelease
from tradeops.models.audit import GENESIS, chain_hash, chained_fields
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER
from tradeops.services import create_bot

UTC = datetime.UTC


def rows(bot, n, **extra):
    return [record_audit(bot, "noted", actor="test", note=f"note {i}", **extra) for i in range(n)]


def tamper(sql, params=()):
    """What a superuser can do despite the append-only trigger: skip it for one statement."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def verify(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, err.getvalue()
    return 0, out.getvalue()


def test_each_row_is_chained_to_the_one_before(bot):
    first, second, third = rows(bot, 3)
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.row_hash and third.prev_hash == second.row_hash
    stored = AuditEvent.objects.get(pk=second.pk)
    assert stored.row_hash == chain_hash(chained_fields(stored))
    assert len({first.row_hash, second.row_hash, third.row_hash}) == 3


def test_a_rows_hash_survives_the_database_round_trip(bot):
    """jsonb gives 1e16 back as 10000000000000000 and drops key order: the hash is of values."""
    data = {"z": [1e16, 0.1, 1.5, -0.0, 10**20], "a": {"ok": True, "none": None, "s": "é\n"}}
    event = record_audit(bot, "noted", data=data, note="x\r\ny")
    event.refresh_from_db()
    assert event.data["z"][0] == 10**16 and isinstance(event.data["z"][0], int)
    assert event.is_unchanged()


def test_verify_audit_says_the_chain_is_intact_with_its_count(bot):
    events = rows(bot, 4)
    code, out = verify()
    assert code == 0
    assert out == f"audit chain intact: 4 row(s), head #4 {events[-1].row_hash}\n"


def test_verify_audit_names_a_row_changed_by_raw_sql(bot):
    events = rows(bot, 5)
    tamper("UPDATE tradeops_auditevent SET note = 'all fine' WHERE id = %s", [events[2].pk])
    code, err = verify()
    assert code == 1
    assert f"row #3 (id {events[2].pk}," in err and "was changed" in err
    assert "after 2 good row(s)" in err


def test_verify_audit_names_a_removed_row(bot):
    events = rows(bot, 5)
    tamper("DELETE FROM tradeops_auditevent WHERE id = %s", [events[1].pk])
    code, err = verify()
    assert code == 1
    assert "row #2 was removed: the chain goes from #1 to #3" in err


def test_verify_audit_names_the_first_row_removed_too(bot):
    events = rows(bot, 3)
    tamper("DELETE FROM tradeops_auditevent WHERE id = %s", [events[0].pk])
    assert "row #1 was removed" in verify()[1]


def test_a_changed_row_rehashed_is_caught_by_the_next_row(bot):
    events = rows(bot, 4)
    changed = AuditEvent.objects.get(pk=events[1].pk)
    changed.note = "approved by nobody"
    tamper(
        "UPDATE tradeops_auditevent SET note = %s, row_hash = %s WHERE id = %s",
        [changed.note, changed.computed_hash(), changed.pk],
    )
    code, err = verify()
    assert code == 1
    assert f"row #3 (id {events[2].pk}) does not follow row #2" in err


def test_the_table_refuses_update_and_delete(bot):
    (event,) = rows(bot, 1)
    for sql in (
        "UPDATE tradeops_auditevent SET note = 'x' WHERE id = %s",
        "DELETE FROM tradeops_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(note="x")
    assert AuditEvent.objects.get(pk=event.pk).note == "note 0"


def test_appending_reads_one_row_however_long_the_history(bot, django_assert_max_num_queries):
    rows(bot, 30)
    with django_assert_max_num_queries(5) as queries:  # savepoint, lock, head, insert, release
        record_audit(bot, "noted")
    head = next(q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"])
    assert "LIMIT 1" in head


# -- concurrency: appends are serialized -----------------------------------------------------


def append_concurrently(threads, appends, hold=0.02):
    """`threads` transactions at once, each appending `appends` rows and holding its
    transaction open a moment after each, so they overlap. Returns the errors raised."""
    bot = create_bot(slug="race", name="race")[0]
    start, errors = threading.Barrier(threads), []

    def work(n):
        try:
            start.wait()
            for i in range(appends):
                with transaction.atomic():
                    record_audit(bot, "noted", actor=f"thread {n}", note=str(i))
                    time.sleep(hold)
        except Exception as exc:  # noqa: BLE001 (collected for the assertion)
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_never_fork_the_chain():
    errors = append_concurrently(threads=6, appends=5)
    assert errors == []
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 31)
    )
    check = verify_chain()
    assert check.intact and check.rows == 30


@pytest.mark.django_db(transaction=True)
def test_without_the_lock_the_unique_sequence_refuses_a_fork(monkeypatch):
    """What the lock prevents: two transactions read the same head; the second insert of the
    same seq is refused, so the chain never forks, but the change would fail."""
    monkeypatch.setattr(audit, "_lock_chain", lambda: None)
    errors = append_concurrently(threads=4, appends=3, hold=0.05)
    assert errors and all(isinstance(e, IntegrityError) for e in errors)
    assert verify_chain().intact


# -- exporting it ---------------------------------------------------------------------------


@pytest.fixture
def two_bots(bot, people):
    other = create_bot(slug="beta", name="Beta perps")[0]
    ours = ConfigRelease.objects.create(bot=bot, version=1, tag="v1")
    theirs = ConfigRelease.objects.create(bot=other, version=1, tag="w1")
    day = lambda d: datetime.datetime(2026, 11, d, 12, tzinfo=UTC)  # noqa: E731
    record_audit(ours, "created", actor=people["operator"], at=day(1), note="=1+1")
    record_audit(theirs, "created", actor=people["operator"], at=day(2))
    record_audit(ours, "approved", actor=people["lead"], at=day(3), data={"x": "<b>"})
    record_audit(bot, "frozen", actor="job", at=day(5))
    return bot, other


def test_a_team_lead_exports_a_bots_rows_of_a_period_as_csv_and_json(client, two_bots):
    bot, _ = two_bots
    log_in_as(client, "lara", TEAM_LEAD)
    url = reverse("admin:tradeops_auditevent_export")
    query = {"bot": bot.pk, "since": "2026-11-01", "until": "2026-11-03"}

    response = client.get(url, {**query, "format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="audit-alpha-2026-11-01-2026-11-03.csv"' in response["Content-Disposition"]
    exported = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["seq"], r["action"], r["note"]) for r in exported] == [
        ("1", "created", "'=1+1"),
        ("3", "approved", ""),
    ]
    assert exported[1]["row_hash"] == AuditEvent.objects.get(seq=3).row_hash

    document = json.loads(client.get(url, {**query, "format": "json"}).content)
    assert [e["seq"] for e in document["events"]] == [1, 3]
    assert document["events"][1]["data"] == {"x": "<b>"}
    assert document["chain_head"]["seq"] == 4
    assert (document["bot"], document["since"], document["until"]) == (
        "alpha",
        "2026-11-01",
        "2026-11-03",
    )


@pytest.mark.parametrize("role", [OPERATOR, VIEWER])
def test_only_a_team_lead_exports(client, two_bots, role):
    log_in_as(client, "someone", role)
    url = reverse("admin:tradeops_auditevent_export")
    assert client.get(url).status_code == 403
    assert client.get(url, {"format": "json"}).status_code == 403
    listing = client.get(reverse("admin:tradeops_auditevent_changelist"))
    assert listing.status_code == 200 and url not in listing.content.decode()


def test_the_audit_list_is_read_only_with_an_export_link_for_a_lead(admin_client, client, two_bots):
    log_in_as(client, "lara", TEAM_LEAD)
    listing = client.get(reverse("admin:tradeops_auditevent_changelist")).content.decode()
    assert reverse("admin:tradeops_auditevent_export") in listing
    event = AuditEvent.objects.get(seq=1)
    for who in (client, admin_client):
        assert who.get(reverse("admin:tradeops_auditevent_add")).status_code == 403
        delete = reverse("admin:tradeops_auditevent_delete", args=[event.pk])
        assert who.post(delete, {"post": "yes"}).status_code == 403
        change = reverse("admin:tradeops_auditevent_change", args=[event.pk])
        assert who.post(change, {"note": "edited"}).status_code == 403
    assert AuditEvent.objects.get(seq=1).note == "=1+1"


def test_the_command_exports_through_the_same_service(two_bots):
    out = io.StringIO()
    args = ["--bot", "alpha", "--since", "2026-11-02", "--until", "2026-11-05"]
    call_command("export_audit", *args, "--format", "csv", stdout=out)
    expected = export_audit(
        "csv", bot=two_bots[0], since=datetime.date(2026, 11, 2), until=datetime.date(2026, 11, 5)
    )
    assert out.getvalue() == expected
    assert [r["seq"] for r in csv.DictReader(io.StringIO(expected))] == ["3", "4"]


def test_an_exported_file_verifies_later(two_bots, tmp_path):
    path = tmp_path / "audit.json"
    call_command("export_audit", "--format", "json", "--output", str(path), stdout=io.StringIO())
    assert verify("--file", str(path)) == (0, f"{path}: 4 row(s) intact and as stored\n")

    document = json.loads(path.read_text())
    document["events"][1]["actor_name"] = "someone else"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(document))
    assert verify("--file", str(edited)) == (
        1,
        f"{edited}: row #2 of the file was changed: its hash does not match\n",
    )

    tamper("UPDATE tradeops_auditevent SET note = 'x' WHERE seq = 3")
    assert verify("--file", str(path)) == (
        1,
        f"{path}: row #3 was changed in the database since the export\n",
    )


def test_the_export_page_asks_for_bot_period_and_format(client, two_bots):
    log_in_as(client, "lara", TEAM_LEAD)
    url = reverse("admin:tradeops_auditevent_export")
    page = client.get(url).content.decode()
    for field in ('name="bot"', 'name="since"', 'name="until"', 'name="format"'):
        assert field in page
    wrong = client.get(url, {"since": "2026-11-05", "until": "2026-11-01", "format": "csv"})
    assert wrong["Content-Type"].startswith("text/html")
    assert "since is after until" in wrong.content.decode()
