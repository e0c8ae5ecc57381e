"""Relations that must stay within one bot: the services' check (`check_same_bot`), and the
database's triggers that hold them whoever writes.

Django cannot express a CHECK across tables, so each rule is a trigger, written here once for
both vendors (PostgreSQL in production, SQLite in the embedded default) and installed by
migrations (experiments 0009 for the rules below, cadence 0002 for cadence.models.SAME_BOT).
A rule `SameBot` says: the row's `column` points at a `parent` row whose `parent_key` equals the
row's own bot (`own`, an SQL expression of the row). A rule `KeepsBot` says: a row's bot never
changes once written, so a relation checked when it was made stays true (the parent side needs
no trigger of its own, and no race between the two).

A shadow bot (Bot.shadow_of) runs its live bot's releases: a rule with `live` (an SQL
expression of the row's live bot, NULL for a live bot) also lets the row point at the live bot's
parent rows: a shadow's trades, KPI snapshots, release changes and current release name the live
bot's releases (experiments 0011 installs those rules; 0009 the ones before shadows).

Installing is idempotent. On SQLite the triggers live outside the migrations: SQLite rebuilds a
table to alter it and cannot drop a table another table's trigger names, so every trigger is
dropped before a migrate and the current rules installed after it (`sqlite_around_migrate`)."""

from typing import NamedTuple

from django.core.exceptions import ValidationError


def check_same_bot(bot, **related):
    """Refuse, keyed by the field, any of `related` (a release, an experiment, a release change;
    None is skipped) that belongs to another bot than `bot`: every service writing a relation
    between bot-owned rows calls it, so admin, commands and jobs are held to it alike. The one
    exception: a shadow runs (`release=`) its live bot's releases."""

    def allowed(field, obj):
        return obj.bot_id == bot.pk or (field == "release" and obj.bot_id == bot.shadow_of_id)

    errors = {
        field: f"{obj} belongs to {obj.bot}, not {bot}: it stays within its bot"
        for field, obj in related.items()
        if obj is not None and not allowed(field, obj)
    }
    if errors:
        raise ValidationError(errors)


class SameBot(NamedTuple):
    table: str
    column: str
    parent: str
    parent_key: str = "bot_id"
    own: str = "{row}.bot_id"  # the row's bot; `{row}` is NEW (or the transition table's row)
    own_columns: tuple = ("bot_id",)  # the row's columns `own` reads: an update of them rechecks
    # "parent": a parent with no bot serves every bot (an alert channel for all bots);
    # "own": a row with no bot of its own is for every bot (an alert to an all-bots channel).
    null_means_any: str = ""
    # The row's live bot if the row's bot is a shadow (NULL otherwise), whose parents the row may
    # point at too; "" for no such exception.
    live: str = ""
    refusal: str = ""  # the message, when not "of another bot"

    @property
    def name(self):
        return f"{self.table}.{self.column}"

    @property
    def message(self):
        return self.refusal or (
            f"{self.name} points at a {self.parent} row of another bot: it stays within its bot"
        )

    def crossing(self, row, differs):
        """SQL that is true when `row` points at a parent of another bot; `differs` is the
        vendor's null-safe inequality (IS DISTINCT FROM, SQLite's IS NOT)."""
        own = self.own.format(row=row)
        theirs = f"p.{self.parent_key}"
        guard = {"parent": f" AND {theirs} IS NOT NULL", "own": f" AND {own} IS NOT NULL"}
        # Compared last: the lookup of the live bot runs only for a row that would cross.
        live = f" AND {theirs} {differs} {self.live.format(row=row)}" if self.live else ""
        return (
            f"EXISTS (SELECT 1 FROM {self.parent} p WHERE p.id = {row}.{self.column} "
            f"AND {theirs} {differs} {own}{guard.get(self.null_means_any, '')}{live})"
        )


class KeepsBot(NamedTuple):
    table: str
    columns: tuple = ("bot_id",)

    @property
    def message(self):
        return f"{self.table}.{', '.join(self.columns)} never changes: a row stays with its bot"


PG_REFUSE = """
CREATE OR REPLACE FUNCTION tradeops_refuse_bot_move() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END
$$ LANGUAGE plpgsql;
"""


def _name(rule, what):
    return f"{rule.table}_{what}"


def postgresql(rules, keeps, per_statement=()):
    """Statements that install `rules` and `keeps` on PostgreSQL: a row trigger per table, or for
    the tables in `per_statement` (trades, fills: the ingest's hot path) one check per statement
    over the rows it wrote (a join, not a lookup per row)."""
    statements = [PG_REFUSE] if keeps else []
    for table in dict.fromkeys(rule.table for rule in rules):
        mine = [rule for rule in rules if rule.table == table]
        function = f"{table}_same_bot"
        if table in per_statement:
            checks = "".join(
                f"    IF EXISTS (SELECT 1 FROM written_rows w WHERE "
                f"{rule.crossing('w', 'IS DISTINCT FROM')}) THEN\n"
                f"        RAISE EXCEPTION '{rule.message}'"
                f" USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n"
                for rule in mine
            )
            statements.append(
                f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$\nBEGIN\n{checks}"
                "    RETURN NULL;\nEND\n$$ LANGUAGE plpgsql;"
            )
            statements += [
                f"DROP TRIGGER IF EXISTS {function}_{event.lower()} ON {table};\n"
                f"CREATE TRIGGER {function}_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING NEW TABLE AS written_rows FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {function}();"
                for event in ("INSERT", "UPDATE")
            ]
            continue
        checks = "".join(
            f"    IF {rule.crossing('NEW', 'IS DISTINCT FROM')} THEN\n"
            f"        RAISE EXCEPTION '{rule.message}'"
            f" USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n"
            for rule in mine
        )
        columns = dict.fromkeys(c for rule in mine for c in (rule.column, *rule.own_columns))
        statements += [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$\nBEGIN\n{checks}"
            "    RETURN NEW;\nEND\n$$ LANGUAGE plpgsql;",
            f"DROP TRIGGER IF EXISTS {function} ON {table};\n"
            f"CREATE TRIGGER {function} BEFORE INSERT OR UPDATE OF {', '.join(columns)} "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();",
        ]
    for keep in keeps:
        moved = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in keep.columns)
        statements.append(
            f"DROP TRIGGER IF EXISTS {_name(keep, 'keeps_bot')} ON {keep.table};\n"
            f"CREATE TRIGGER {_name(keep, 'keeps_bot')} BEFORE UPDATE OF "
            f"{', '.join(keep.columns)} ON {keep.table} FOR EACH ROW WHEN ({moved}) "
            f"EXECUTE FUNCTION tradeops_refuse_bot_move('{keep.message}');"
        )
    return statements


def postgresql_drop(rules, keeps, per_statement=()):
    statements = []
    for table in dict.fromkeys(rule.table for rule in rules):
        function = f"{table}_same_bot"
        triggers = (
            [f"{function}_insert", f"{function}_update"] if table in per_statement else [function]
        )
        statements += [f"DROP TRIGGER IF EXISTS {t} ON {table};" for t in triggers]
        statements.append(f"DROP FUNCTION IF EXISTS {function}();")
    statements += [
        f"DROP TRIGGER IF EXISTS {_name(keep, 'keeps_bot')} ON {keep.table};" for keep in keeps
    ]
    if keeps:
        statements.append("DROP FUNCTION IF EXISTS tradeops_refuse_bot_move();")
    return statements


def sqlite(rules, keeps):
    """The same rules as SQLite triggers (one per rule and event: SQLite has row triggers only),
    installed after every migrate (`sqlite_around_migrate`); tests/test_bot_boundaries.py checks
    them on a database migrated to the end, and back and forth."""
    statements = []
    for index, rule in enumerate(rules):
        columns = ", ".join(dict.fromkeys((rule.column, *rule.own_columns)))
        for event, when in (("insert", "INSERT"), ("update", f"UPDATE OF {columns}")):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {_name(rule, f'same_bot_{index}_{event}')} "
                f"BEFORE {when} "
                f"ON {rule.table} WHEN {rule.crossing('NEW', 'IS NOT')} "
                f"BEGIN SELECT RAISE(ABORT, '{rule.message}'); END;"
            )
    for keep in keeps:
        moved = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in keep.columns)
        statements.append(
            f"CREATE TRIGGER IF NOT EXISTS {_name(keep, 'keeps_bot')} BEFORE UPDATE OF "
            f"{', '.join(keep.columns)} ON {keep.table} WHEN {moved} "
            f"BEGIN SELECT RAISE(ABORT, '{keep.message}'); END;"
        )
    return statements


def _statements(vendor, rules, keeps, per_statement):
    """(install, drop) statements a migration runs on `vendor`: PostgreSQL's. On SQLite the
    migrations install nothing: SQLite rebuilds a table to alter it, and cannot drop a table that
    another table's trigger names, so the triggers live outside the migrations there (dropped
    before a migrate, installed after it: `sqlite_around_migrate`)."""
    if vendor == "postgresql":
        return (
            postgresql(rules, keeps, per_statement),
            postgresql_drop(rules, keeps, per_statement),
        )
    return (), ()


def installer(rules, keeps, per_statement=()):
    """RunPython (forward, backward) functions for the vendor the migration runs on."""

    def run(direction):
        def apply(apps, schema_editor):
            vendor = schema_editor.connection.vendor
            for statement in _statements(vendor, rules, keeps, per_statement)[direction]:
                schema_editor.execute(statement, params=None)

        return apply

    return run(0), run(1)


def reinstaller(before, after, per_statement=()):
    """RunPython (forward, backward) functions that replace the rules and keeps `before` (each a
    (rules, keeps) pair) by those `after`, and back. SQLite's CREATE TRIGGER IF NOT EXISTS keeps a
    trigger of the same name: the old ones are dropped first."""

    def run(old, new):
        def apply(apps, schema_editor):
            vendor = schema_editor.connection.vendor
            drop = _statements(vendor, *old, per_statement)[1]
            install = _statements(vendor, *new, per_statement)[0]
            for statement in [*drop, *install]:
                schema_editor.execute(statement, params=None)

        return apply

    return run(before, after), run(after, before)


# The names every SQLite trigger of these rules has (sqlite()), whatever the rule set that
# installed it.
_SQLITE_TRIGGER_NAMES = ("%\\_same\\_bot\\_%", "%\\_keeps\\_bot")


def sqlite_around_migrate(rules, keeps, installed_by):
    """(pre_migrate, post_migrate) receivers keeping the rules' triggers on SQLite: every one of
    them is dropped before a migrate (any table may be rebuilt), and the current rules are
    installed after it once `installed_by` (app label, migration name), the migration that brings
    them on PostgreSQL, is applied."""

    def connection_of(using):
        from django.db import connections

        connection = connections[using]
        return connection if connection.vendor == "sqlite" else None

    def drop(using, **kwargs):
        connection = connection_of(using)
        if connection is None:
            return
        with connection.cursor() as cursor:
            like = " OR ".join("name LIKE %s ESCAPE '\\'" for _ in _SQLITE_TRIGGER_NAMES)
            cursor.execute(
                f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND ({like})",
                _SQLITE_TRIGGER_NAMES,
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')

    def install(using, **kwargs):
        from django.db.migrations.recorder import MigrationRecorder

        connection = connection_of(using)
        if connection is None:
            return
        app, name = installed_by
        recorder = MigrationRecorder(connection)
        if not recorder.has_table() or not recorder.migration_qs.filter(app=app, name=name):
            return
        with connection.cursor() as cursor:
            for statement in sqlite(rules, keeps):
                cursor.execute(statement)

    return drop, install


RELEASE = "tradeops_configrelease"
EXPERIMENT = "experiments_experiment"
# The relations of the decision framework and the layers below it (cadence: cadence.models), as
# experiments 0009 installed them, before shadow bots.
RULES_0009 = [
    SameBot(EXPERIMENT, "baseline_release_id", RELEASE),
    SameBot(EXPERIMENT, "candidate_release_id", RELEASE),
    SameBot(EXPERIMENT, "prerequisite_id", EXPERIMENT),
    SameBot(EXPERIMENT, "iterated_from_id", EXPERIMENT),
    SameBot("experiments_scalingstep", "from_release_id", RELEASE),
    SameBot("experiments_scalingstep", "to_release_id", RELEASE),
    SameBot("tradeops_releasechange", "release_id", RELEASE),
    SameBot("tradeops_bot", "current_release_id", RELEASE, own="{row}.id", own_columns=("id",)),
    SameBot(
        "tradeops_bot",
        "current_change_id",
        "tradeops_releasechange",
        own="{row}.id",
        own_columns=("id",),
    ),
    SameBot("tradeops_trade", "release_id", RELEASE),
    SameBot("tradeops_fill", "trade_id", "tradeops_trade"),
    SameBot("kpis_kpisnapshot", "release_id", RELEASE),
    # A baseline report's snapshots are of its own release (so of its bot).
    SameBot(
        "kpis_baselinereport",
        "snapshot_7d_id",
        "kpis_kpisnapshot",
        parent_key="release_id",
        own="{row}.release_id",
        own_columns=("release_id",),
    ),
    SameBot(
        "kpis_baselinereport",
        "snapshot_30d_id",
        "kpis_kpisnapshot",
        parent_key="release_id",
        own="{row}.release_id",
        own_columns=("release_id",),
    ),
    # A bot's change is pushed to that bot's webhook only.
    SameBot(
        "integrity_releasepush",
        "change_id",
        "tradeops_releasechange",
        own="(SELECT bot_id FROM integrity_releasewebhook WHERE id = {row}.webhook_id)",
        own_columns=("webhook_id",),
    ),
    # A bot's channel hears of that bot's incidents only; a channel of no bot hears of all.
    SameBot(
        "integrity_alertdelivery",
        "incident_id",
        "integrity_integrityincident",
        own="(SELECT bot_id FROM integrity_alertchannel WHERE id = {row}.channel_id)",
        own_columns=("channel_id",),
        null_means_any="own",
    ),
]
# The rows pointed at never change bot, so each relation is checked once, when it is written.
KEEPS_0009 = [
    KeepsBot(RELEASE),
    KeepsBot(EXPERIMENT),
    KeepsBot("tradeops_releasechange", ("bot_id", "release_id")),
    KeepsBot("tradeops_trade"),
    KeepsBot("kpis_kpisnapshot", ("bot_id", "release_id")),
    KeepsBot("integrity_integrityincident"),
    KeepsBot("integrity_releasewebhook"),
]
# The ingest's hot path: one check per statement over the rows it wrote.
PER_STATEMENT = ("tradeops_trade", "tradeops_fill")

# A shadow's rows may name its live bot's releases (a bot's shadow_of never changes: KEEPS).
LIVE_OF_ROW_BOT = "(SELECT s.shadow_of_id FROM tradeops_bot s WHERE s.id = {row}.bot_id)"
SHADOW_RUNS_LIVE = {
    "tradeops_trade.release_id": LIVE_OF_ROW_BOT,
    "tradeops_releasechange.release_id": LIVE_OF_ROW_BOT,
    "kpis_kpisnapshot.release_id": LIVE_OF_ROW_BOT,
    "tradeops_bot.current_release_id": "{row}.shadow_of_id",
}
# Since experiments 0011: the rules above with the shadow exceptions, the bot's shadow_of never
# changes, and a shadow has no shadow (nor is it its own: a CHECK on the bot).
RULES = [
    *(
        rule._replace(
            live=SHADOW_RUNS_LIVE.get(rule.name, ""),
            own_columns=(*rule.own_columns, "shadow_of_id")
            if rule.table == "tradeops_bot"
            else rule.own_columns,
        )
        for rule in RULES_0009
    ),
    SameBot(
        "tradeops_bot",
        "shadow_of_id",
        "tradeops_bot",
        parent_key="shadow_of_id",
        own="NULL",
        own_columns=(),
        null_means_any="parent",
        refusal="tradeops_bot.shadow_of_id points at a shadow: a shadow has no shadow",
    ),
]
KEEPS = [*KEEPS_0009, KeepsBot("tradeops_bot", ("shadow_of_id",))]
