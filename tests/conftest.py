import socket
import sqlite3

import django_rq
import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from ingestion.freqtrade_db import ORDER_COLUMNS, TRADE_COLUMNS
from integrity.schedules import sweeper
from tests import servers
from tests.browser import browse, chromium, demo, demo_snapshot  # noqa: F401 (browser fixtures)
from tests.factories import FREQTRADE_DATABASE, PARAMS, log_in_as
from tradeops.models import ConfigRelease, ParamSpec
from tradeops.roles import OPERATOR, TEAM_LEAD
from tradeops.services import create_bot


@pytest.fixture
def bot_and_token(db):
    return create_bot(slug="alpha", name="Alpha perps")


@pytest.fixture
def bot(bot_and_token):
    return bot_and_token[0]


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Tests render admin pages without running collectstatic (no manifest)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def no_sweep_from_ingestion(settings):
    """The sweep a batch starts runs on a thread with its own database connection, which would
    not see a test's uncommitted rows and could outlive the test: off unless a test asks for it
    (`sweep_from_ingestion`)."""
    settings.SWEEP_FROM_INGESTION = False


@pytest.fixture
def sweep_from_ingestion(settings, transactional_db):
    """The ingestion API's sweep, as in production; `sweep_from_ingestion()` waits for the one
    running, and the test ends only once it is done."""
    settings.SWEEP_FROM_INGESTION = True
    yield sweeper.wait
    sweeper.wait()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Tests create many users; production hashing strength is not what they test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(db):
    return {
        "lead": log_in_as(Client(), "lena", TEAM_LEAD),
        "lead2": log_in_as(Client(), "leo", TEAM_LEAD),
        "operator": log_in_as(Client(), "otto", OPERATOR),
    }


@pytest.fixture
def baseline(bot, people):
    for key, category, value_type, low, high in [
        ("fib_proximity_bps", "strategy", "int", 1, 200),
        ("entry_zone_tolerance_pct", "strategy", "decimal", "0.05", "2"),
        ("side_balance_pressure", "strategy", "decimal", "0", "1"),
        ("risk_per_trade_pct", "risk", "decimal", "0.1", "3"),
        ("order_type", "execution", "str", None, None),
    ]:
        ParamSpec.objects.create(
            key=key, category=category, value_type=value_type, min_value=low, max_value=high
        )
    release = ConfigRelease.objects.create(
        bot=bot,
        version=1,
        tag="v1.4.0",
        params=PARAMS,
        created_by=people["operator"],
        approved_by=people["lead"],
        approved_at=timezone.now(),
        is_baseline=True,
    )
    return release


# -- real servers: gunicorn on the test database, and nginx in front of it --------------------


@pytest.fixture(scope="module")
def gunicorn_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """A gunicorn (2 sync workers) serving the app on the test database, as in production.

    Tests using it need `transactional_db`, so what they create is committed and visible to it.
    """
    run_dir = tmp_path_factory.mktemp("gunicorn")
    with servers.gunicorn(run_dir, "--workers", "2", "--timeout", "120") as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def production_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """The production set-up of deploy/: nginx in front of gunicorn (its config, 2 sync workers),
    which trusts nginx's X-Forwarded-For. Tests using it need `transactional_db`."""
    run_dir = tmp_path_factory.mktemp("production")
    config = ["-c", str(servers.DEPLOY / "gunicorn.conf.py"), "--workers", "2"]
    with (
        servers.gunicorn(run_dir, *config, TRUSTED_PROXIES="127.0.0.1") as app,
        servers.nginx(run_dir, app) as port,
    ):
        yield f"http://127.0.0.1:{port}"


FREQTRADE_TYPES = {
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
FREQTRADE_TIMES = {
    "open_date",
    "close_date",
    "order_date",
    "order_filled_date",
    "order_update_date",
}


@pytest.fixture
def freqtrade_url(db):
    """A freqtrade database on PostgreSQL: the fixture's rows with freqtrade's PostgreSQL column
    types, in a database of their own (dropped afterwards); its URL as freqtrade names it."""
    database = connection.settings_dict
    name = f"{database['NAME']}_freqtrade"
    server = {"host": database["HOST"], "port": database["PORT"], "user": database["USER"]}
    with psycopg.connect(**server, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    source = sqlite3.connect(FREQTRADE_DATABASE)
    with psycopg.connect(**server, dbname=name) as target:
        for table, columns in (("trades", TRADE_COLUMNS), ("orders", ORDER_COLUMNS)):
            kinds = [
                FREQTRADE_TYPES.get(c, "timestamp" if c in FREQTRADE_TIMES else "double precision")
                for c in columns
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


@pytest.fixture
def embedded(settings):
    """The embedded default: no Redis, so jobs (and each unit of a fanned-out run) run
    in-process, right away."""
    settings.REDIS_URL = ""


@pytest.fixture
def redis_queue():
    """The real default RQ queue, empty before and after (and the other queues too), with no
    job of an earlier run left: a fanned-out unit's job id names its unit and period and is kept
    a whole period, so a test of the same day in another session would find it there."""

    def forget_every_job():
        connection = django_rq.get_connection("default")
        keys = connection.keys("rq:job:*")
        for queue in (django_rq.get_queue(name) for name in settings.RQ_QUEUES):
            queue.empty()
            for registry in (queue.finished_job_registry, queue.failed_job_registry):
                keys += [registry.key]
        if keys:
            connection.delete(*keys)

    forget_every_job()
    yield django_rq.get_queue("default")
    forget_every_job()


@pytest.fixture
def httpserver(httpserver, settings, monkeypatch):
    """pytest-httpserver's local receiver (127.0.0.1), which TradeOps may send to only because
    the test names its address in OUTBOUND_ALLOWED_NETWORKS (integrity.outbound); the
    environment too, for the workers a test starts."""
    addresses = {info[4][0] for info in socket.getaddrinfo(httpserver.host, httpserver.port)}
    settings.OUTBOUND_ALLOWED_NETWORKS = [*settings.OUTBOUND_ALLOWED_NETWORKS, *addresses]
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", ",".join(settings.OUTBOUND_ALLOWED_NETWORKS))
    return httpserver
