"""An approved release is immutable in the database too (PostgreSQL): an UPDATE that changes
what was approved, or a DELETE, is refused whoever issues it (ORM bulk update, raw SQL, psql).
ConfigRelease.save() gives the friendly message; this is the guarantee. SQLite, the first-look
default, relies on save() alone."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION tradeops_release_immutable() RETURNS trigger AS $$
BEGIN
    IF OLD.approved_at IS NOT NULL AND (
        TG_OP = 'DELETE'
        OR NEW.params IS DISTINCT FROM OLD.params
        OR NEW.tag IS DISTINCT FROM OLD.tag
        OR NEW.git_commit IS DISTINCT FROM OLD.git_commit
        OR NEW.version IS DISTINCT FROM OLD.version
        OR NEW.bot_id IS DISTINCT FROM OLD.bot_id
        OR NEW.approved_at IS DISTINCT FROM OLD.approved_at
        OR NEW.approved_by_id IS DISTINCT FROM OLD.approved_by_id
    ) THEN
        RAISE EXCEPTION 'release % is approved and immutable: create a new release', OLD.tag
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER configrelease_immutable BEFORE UPDATE OR DELETE ON tradeops_configrelease
    FOR EACH ROW EXECUTE FUNCTION tradeops_release_immutable();
"""
DROP = """
DROP TRIGGER IF EXISTS configrelease_immutable ON tradeops_configrelease;
DROP FUNCTION IF EXISTS tradeops_release_immutable();
"""


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("tradeops", "0007_bot_current_release")]

    operations = [migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP))]
