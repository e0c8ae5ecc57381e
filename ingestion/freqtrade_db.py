"""Reading a freqtrade bot's database, read-only, without SQLAlchemy.

freqtrade names its database with an SQLAlchemy URL (`db_url` in its config): a SQLite file
(`sqlite:///tradesv3.sqlite`, relative; `sqlite:////abs/path/tradesv3.sqlite`, absolute) or
PostgreSQL (`postgresql+psycopg2://user:password@host:5432/db`; the driver after `+` is
ignored: TradeOps reads it with psycopg). The file is opened with SQLite's `mode=ro` and the
PostgreSQL session is read-only, so a sync can never write to the bot's database. Only the
columns the mapping needs are read (freqtrade's `trades` and `orders` tables, as freqtrade's own
migrations leave them); freqtrade stores its times as naive UTC, read here as aware UTC.

A PostgreSQL URL's query string may set only what a read-only connection needs (QUERY_PARAMETERS);
anything else (host=, passfile=, options=, ssl files...) is refused, naming it. The password
comes from the URL alone: never from the TradeOps process's environment or password file, which
hold TradeOps's own credentials. The host is not held to the outbound policy of webhooks
(integrity.outbound): a bot's database sits on an inside network by nature, and only a Team
lead names it. So that this cannot probe the network or the disk, every failure to open or read
a database says the same thing: whether a port is closed, answers another protocol or refuses
the login, and whether a file is missing, unreadable or not freqtrade's, are not told apart.
"""

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg

TRADE_COLUMNS = (
    "id",
    "pair",
    "is_open",
    "is_short",
    "leverage",
    "open_date",
    "close_date",
    "close_rate",
    "close_profit_abs",
    "funding_fees",
    "fee_open",
    "fee_close",
    "exit_reason",
    "strategy",
)
ORDER_COLUMNS = (
    "id",
    "ft_trade_id",
    "ft_order_side",
    "ft_is_open",
    "side",
    "order_type",
    "price",
    "average",
    "stop_price",
    "amount",
    "filled",
    "ft_price",
    "ft_amount",
    "ft_fee_base",
    "order_date",
    "order_filled_date",
    "order_update_date",
)
# The query parameters a freqtrade PostgreSQL URL may carry, each with its check.
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
CONNECT_TIMEOUT = 10  # seconds, unless the URL sets connect_timeout (1 to MAX_CONNECT_TIMEOUT)
MAX_CONNECT_TIMEOUT = 30


def _ssl_mode(value):
    if value not in SSL_MODES:
        raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}")
    return value


def _connect_timeout(value):
    if not value.isdigit() or not 1 <= int(value) <= MAX_CONNECT_TIMEOUT:
        raise ValueError(f"connect_timeout must be whole seconds from 1 to {MAX_CONNECT_TIMEOUT}")
    return int(value)


def _application_name(value):
    if len(value) > 63 or not value.isprintable() or not value.isascii():
        raise ValueError("application_name must be at most 63 printable ASCII characters")
    return value


QUERY_PARAMETERS = {
    "sslmode": _ssl_mode,
    "connect_timeout": _connect_timeout,
    "application_name": _application_name,
}

_TIMES = ("open_date", "close_date", "order_date", "order_filled_date", "order_update_date")
_FLAGS = ("is_open", "is_short", "ft_is_open")


class FreqtradeDatabaseError(Exception):
    """The database cannot be opened or read; the message never holds the URL's password."""


def _cannot_read(url):
    """The one error of a database that cannot be opened or read, whatever the cause."""
    if url.dialect == "sqlite":
        return FreqtradeDatabaseError(
            f"no freqtrade database at {url.path} (the file must exist, be readable by TradeOps "
            "and hold freqtrade's trades and orders tables)"
        )
    return FreqtradeDatabaseError(
        f"could not read a freqtrade database at {url.redacted()} (check the host, port, "
        "database name and credentials, and that it holds freqtrade's trades and orders tables)"
    )


@dataclass(frozen=True)
class FreqtradeURL:
    dialect: str  # "sqlite" or "postgresql"
    path: Path | None = None
    conninfo: dict | None = None

    def redacted(self):
        if self.dialect == "sqlite":
            return f"sqlite:///{self.path}"
        info = self.conninfo
        # Everything but the password: two sources on one host differ by port or database.
        port = f":{info['port']}" if info.get("port") else ""
        host = f"{info.get('host', '')}{port}"
        return f"postgresql://{info.get('user', '')}@{host}/{info.get('dbname')}"


def parse_db_url(url):
    """A freqtrade db_url, understood; ValueError (naming what is wrong, not the password)."""
    parts = urlsplit(url.strip())
    dialect = parts.scheme.split("+", 1)[0]
    if dialect == "sqlite":
        # SQLAlchemy's form: sqlite:///relative/path or sqlite:////absolute/path.
        raw = url.strip()[len(parts.scheme) + 3 :].split("?", 1)[0]
        if not raw.startswith("/") or raw == "/":
            raise ValueError(
                "a freqtrade SQLite URL names its file: sqlite:///relative/path.sqlite or "
                "sqlite:////absolute/path.sqlite (an in-memory database holds no bot's trades)"
            )
        return FreqtradeURL("sqlite", path=Path(unquote(raw[1:])))
    if dialect in ("postgresql", "postgres"):
        if not parts.hostname or not parts.path.strip("/"):
            raise ValueError("a freqtrade PostgreSQL URL needs a host and a database name")
        info = {"host": parts.hostname, "dbname": unquote(parts.path.lstrip("/"))}
        if parts.port:
            info["port"] = parts.port
        if parts.username:
            info["user"] = unquote(parts.username)
        if parts.password:
            info["password"] = unquote(parts.password)
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name not in QUERY_PARAMETERS:
                raise ValueError(
                    f"a freqtrade PostgreSQL URL may not set {name!r} (it may set only "
                    f"{', '.join(QUERY_PARAMETERS)})"
                )
            try:
                info[name] = QUERY_PARAMETERS[name](value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return FreqtradeURL("postgresql", conninfo=info)
    raise ValueError(
        f"unsupported freqtrade database {dialect or '(none)'!r}: use sqlite:/// or postgresql://"
    )


class FreqtradeDatabase:
    """An open, read-only connection to one freqtrade database; use it in a `with`."""

    def __init__(self, url):
        try:
            self.url = parse_db_url(url)
        except ValueError as exc:
            # A URL kept before today's rules: the sync fails with the reason, not a crash.
            raise FreqtradeDatabaseError(f"not a usable freqtrade database URL: {exc}") from None
        self._connection = None

    def __enter__(self):
        try:
            if self.url.dialect == "sqlite":
                if not self.url.path.is_file():
                    raise _cannot_read(self.url)
                uri = f"{self.url.path.resolve().as_uri()}?mode=ro"
                self._connection = sqlite3.connect(uri, uri=True)
                self._placeholder = "?"
            else:
                self._connection = psycopg.connect(
                    **{
                        "connect_timeout": CONNECT_TIMEOUT,
                        # The URL's password or none: not PGPASSWORD nor ~/.pgpass of TradeOps.
                        "password": "",
                        "passfile": os.devnull,
                        **self.url.conninfo,
                        "options": "-c default_transaction_read_only=on",
                    }
                )
                self._connection.read_only = True
                self._placeholder = "%s"
        except (sqlite3.Error, psycopg.Error, OSError):
            raise _cannot_read(self.url) from None
        return self

    def __exit__(self, *exc_info):
        self._connection.close()

    def _rows(self, table, columns, where, params, limit=None):
        sql = f"SELECT {', '.join(columns)} FROM {table} WHERE {where} ORDER BY id"
        if limit is not None:
            sql, params = f"{sql} LIMIT ?", (*params, limit)
        try:
            cursor = self._connection.cursor()
            cursor.execute(sql.replace("?", self._placeholder), params)
            rows = cursor.fetchall()
        except (sqlite3.Error, psycopg.Error):
            raise _cannot_read(self.url) from None
        return [_typed(dict(zip(columns, row, strict=True))) for row in rows]

    def check(self):
        """Refuse a database that is not freqtrade's: its trades and orders tables, with the
        columns a sync reads, are there (read, not a row)."""
        for table, columns in (("trades", TRADE_COLUMNS), ("orders", ORDER_COLUMNS)):
            self._rows(table, columns, "1 = 0", ())

    def trades(self, *, after_id, also_ids, limit):
        """Trades with an id above `after_id` (at most `limit`, by id), and those in `also_ids`
        (the ones still open at the last sync)."""
        found = self._rows("trades", TRADE_COLUMNS, "id > ?", (after_id,), limit)
        known = {trade["id"] for trade in found}
        wanted = sorted(set(also_ids) - known)
        if wanted:
            marks = ", ".join("?" * len(wanted))
            found += self._rows("trades", TRADE_COLUMNS, f"id IN ({marks})", tuple(wanted))
        return found

    def orders(self, trade_ids):
        if not trade_ids:
            return []
        marks = ", ".join("?" * len(trade_ids))
        return self._rows("orders", ORDER_COLUMNS, f"ft_trade_id IN ({marks})", tuple(trade_ids))


def _typed(row):
    """SQLite keeps booleans as 0/1 and times as text; both dialects' times are naive UTC."""
    for name in _FLAGS:
        if name in row and row[name] is not None:
            row[name] = bool(row[name])
    for name in _TIMES:
        value = row.get(name)
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            row[name] = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return row


def check_freqtrade_database(url):
    """Open `url` read-only and check it is a freqtrade database, before it is kept: a mistyped
    URL, or one naming another database, is refused with the reason (ValueError for a URL that
    is not one, FreqtradeDatabaseError for the database)."""
    with FreqtradeDatabase(url) as database:
        database.check()
