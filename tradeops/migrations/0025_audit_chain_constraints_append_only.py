"""Every audit row has its place in the chain, and no two share one (the unique seq backs the
serialized appends of tradeops.audit). On PostgreSQL the table is append-only: an UPDATE or
DELETE is refused whoever issues it (ORM, raw SQL, psql), short of a superuser disabling the
trigger, which is what the chain is for: verify_audit names the row so changed or removed.
TRUNCATE is left alone (the test runner empties tables with it). SQLite, the first-look default,
has the chain alone."""

from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION tradeops_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % of audit row #% refused', TG_OP, OLD.seq
        USING ERRCODE = 'integrity_constraint_violation';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER auditevent_append_only BEFORE UPDATE OR DELETE ON tradeops_auditevent
    FOR EACH ROW EXECUTE FUNCTION tradeops_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS auditevent_append_only ON tradeops_auditevent;
DROP FUNCTION IF EXISTS tradeops_audit_append_only();
"""


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("tradeops", "0024_audit_chain_hash_existing_rows")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(help_text="place in the audit chain, from 1"),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(fields=("seq",), name="audit_seq_unique"),
        ),
        migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP)),
    ]
