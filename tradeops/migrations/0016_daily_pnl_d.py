"""The daily P&L rollup (issue 11: equity at a moment without summing a bot's whole history),
kept by PostgreSQL: statement triggers on the trade table add each statement's closes per
(bot, day) and take back what an UPDATE or DELETE replaced, so COPY, the ORM and raw SQL alike
keep it exact. Filled from the trades stored so far. SQLite, the first-look default, has no
rollup: equity_at sums the trades there."""

from django.db import migrations, models

import tradeops.models.base

APPLY = """
INSERT INTO tradeops_dailypnl AS rollup (bot_id, day, net_pnl)
SELECT bot_id, (closed_at AT TIME ZONE 'UTC')::date, {sign} sum(net_pnl) FROM {rows}
WHERE closed_at IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (bot_id, day) DO UPDATE SET net_pnl = rollup.net_pnl + EXCLUDED.net_pnl;
"""
CREATE = f"""
CREATE FUNCTION tradeops_daily_pnl() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {APPLY.format(sign="-", rows="old_rows")}
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {APPLY.format(sign="", rows="new_rows")}
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER trade_daily_pnl_insert AFTER INSERT ON tradeops_trade
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tradeops_daily_pnl();
CREATE TRIGGER trade_daily_pnl_update AFTER UPDATE ON tradeops_trade
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tradeops_daily_pnl();
CREATE TRIGGER trade_daily_pnl_delete AFTER DELETE ON tradeops_trade
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tradeops_daily_pnl();
{APPLY.format(sign="", rows="tradeops_trade")}
"""
DROP = """
DROP TRIGGER IF EXISTS trade_daily_pnl_insert ON tradeops_trade;
DROP TRIGGER IF EXISTS trade_daily_pnl_update ON tradeops_trade;
DROP TRIGGER IF EXISTS trade_daily_pnl_delete ON tradeops_trade;
DROP FUNCTION IF EXISTS tradeops_daily_pnl();
"""


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("tradeops", "0015_incremental_integrity_checks_d")]

    operations = [
        migrations.CreateModel(
            name="DailyPnl",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                (
                    "net_pnl",
                    models.DecimalField(
                        decimal_places=tradeops.models.base.DECIMAL_PLACES,
                        max_digits=tradeops.models.base.MAX_DIGITS,
                    ),
                ),
                (
                    "bot",
                    models.ForeignKey(
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to="tradeops.bot",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("bot", "day"), name="daily_pnl_unique")
                ],
            },
        ),
        migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP)),
    ]
