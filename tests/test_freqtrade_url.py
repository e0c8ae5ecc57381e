"""A freqtrade database URL (issue 20, item 9): its query string may set only what a read-only
connection needs, anything else is a form error naming it (never a 500, in the admin form or in
a sync of a URL kept before), and a database that cannot be read is one message, whatever the
cause, so the setting cannot probe the network or the disk."""

import socket
import sqlite3

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from ingestion.freqtrade import configure_source, sync_source
from ingestion.freqtrade_db import (
    FreqtradeDatabaseError,
    check_freqtrade_database,
    parse_db_url,
)
from ingestion.models import FreqtradeSource
from tests.factories import FREQTRADE_NOW as NOW
from tests.factories import log_in_as
from tradeops.roles import TEAM_LEAD

ADD = reverse("admin:ingestion_freqtradesource_add")
CHANGES = reverse("admin:ingestion_freqtradesource_changelist")


@pytest.fixture
def lead(db):
    client = Client()
    log_in_as(client, "lena", TEAM_LEAD)
    return client


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "query, named",
    [
        ("options=-c%20statement_timeout%3D1", "options"),
        ("host=/var/run/postgresql", "host"),
        ("passfile=/etc/passwd", "passfile"),
        ("sslrootcert=/etc/ssl/private/key.pem", "sslrootcert"),
        ("service=prod", "service"),
        ("sslmode=bogus", "sslmode"),
        ("connect_timeout=0", "connect_timeout"),
        ("connect_timeout=3600", "connect_timeout"),
        ("connect_timeout=1e9", "connect_timeout"),
        ("application_name=%0Aevil", "application_name"),
    ],
)
def test_a_parameter_a_read_only_connection_does_not_need_is_refused_by_name(query, named):
    with pytest.raises(ValueError, match=named):
        parse_db_url(f"postgresql://ft@db.local:5432/freqtrade?{query}")


def test_the_parameters_a_read_only_connection_needs_are_read_and_used(freqtrade_url):
    query = "sslmode=disable&connect_timeout=3&application_name=tradeops-sync"
    assert parse_db_url(f"{freqtrade_url}?{query}").conninfo["connect_timeout"] == 3
    # Before: connect_timeout=… went to psycopg.connect twice (TypeError, a 500).
    check_freqtrade_database(f"{freqtrade_url}?{query}")


def test_the_admin_form_names_the_parameter_and_never_fails(lead, bot, freqtrade_url):
    for query, named in (("options=-c%20x%3D1", "options"), ("connect_timeout=1x", "connect")):
        response = lead.post(ADD, {"bot": bot.pk, "db_url": f"{freqtrade_url}?{query}"})
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors["db_url"]
        assert named in errors[0]
    assert not FreqtradeSource.objects.exists()

    response = lead.post(ADD, {"bot": bot.pk, "db_url": f"{freqtrade_url}?connect_timeout=2"})
    assert response.status_code == 302
    assert FreqtradeSource.objects.get().db_url.endswith("connect_timeout=2")


def test_a_sync_of_a_url_kept_before_fails_with_the_reason_not_a_500(lead, bot, freqtrade_url):
    # Kept before these rules: ?options= made every sync raise TypeError.
    source = configure_source(bot, f"{freqtrade_url}?options=-c%20x%3D1", now=NOW)
    with pytest.raises(FreqtradeDatabaseError, match="may not set 'options'"):
        sync_source(source, now=NOW)
    source.refresh_from_db()
    assert "may not set 'options'" in source.last_outcome["error"]

    response = lead.post(CHANGES, {"action": "sync_now", "_selected_action": [source.pk]})
    assert response.status_code == 302
    [message] = get_messages(response.wsgi_request)
    assert "may not set 'options'" in str(message)


def test_no_password_is_taken_from_the_tradeops_environment(freqtrade_url, monkeypatch):
    """The URL's password or none: libpq would otherwise send PGPASSWORD, TradeOps's own, to
    whatever host the URL names."""
    seen = {}

    import psycopg

    real_connect = psycopg.connect

    def connect(**kwargs):
        seen.update(kwargs)
        return real_connect(**kwargs)

    monkeypatch.setenv("PGPASSWORD", "tradeops-own-secret")
    monkeypatch.setattr(psycopg, "connect", connect)
    check_freqtrade_database(freqtrade_url)
    assert seen["password"] == "" and seen["passfile"].endswith("null")


def test_every_failure_to_read_a_sqlite_database_says_the_same(tmp_path):
    missing = tmp_path / "missing.sqlite"
    not_a_database = tmp_path / "passwd"
    not_a_database.write_text("root:x:0:0:root:/root:/bin/bash\n")
    other_database = tmp_path / "other.sqlite"
    sqlite3.connect(other_database).execute("CREATE TABLE secrets (x)").connection.commit()
    messages = set()
    for path in (missing, not_a_database, other_database):
        with pytest.raises(FreqtradeDatabaseError) as failed:
            check_freqtrade_database(f"sqlite:///{path}")
        messages.add(str(failed.value).replace(str(path), "PATH"))
    assert len(messages) == 1, messages
    assert "root:x" not in messages.pop()


@pytest.mark.django_db
def test_every_failure_to_reach_a_postgresql_database_says_the_same(freqtrade_url):
    """A closed port, Redis (another protocol), PostgreSQL refusing the database: one message
    (but the address), so the setting is no port scanner."""
    targets = {
        "closed port": f"postgresql://postgres@127.0.0.1:{closed_port()}/freqtrade",
        "redis": "postgresql://postgres@127.0.0.1:6379/freqtrade",
        "no such database": "postgresql://postgres@127.0.0.1:5432/no_such_database",
        "not freqtrade's": "postgresql://postgres@127.0.0.1:5432/postgres",
    }
    messages = {}
    for name, url in targets.items():
        with pytest.raises(FreqtradeDatabaseError) as failed:
            check_freqtrade_database(f"{url}?connect_timeout=2")
        redacted = parse_db_url(url).redacted()
        messages[name] = str(failed.value).replace(redacted, "URL")
    assert len(set(messages.values())) == 1, messages
