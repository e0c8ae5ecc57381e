"""The daily rollup of closes (issue 11: KPI windows and equity at a moment read a few rows a day,
not every close), in place of the daily P&L rollup of 0016: per bot, UTC day of the close, release
and exit reason, the counts and sums every trade KPI is made of. PostgreSQL keeps it with
statement triggers on the trade table that add each statement's closes and take back what an
UPDATE or DELETE replaced, so COPY, the ORM and raw SQL alike keep it exact. Filled from the trades
stored so far. SQLite, the first-look default, has no rollup: the KPIs aggregate the closes there.
The per-trade expressions are those of kpis.queries.closes_by_day, which a test holds it to."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

DAILY_PNL = importlib.import_module("tradeops.migrations.0016_daily_pnl_d")

SUMS = {
    "trades": "count(*)",
    "net_pnl": "coalesce(sum(net_pnl), 0)",
    "wins": "count(*) FILTER (WHERE net_pnl > 0)",
    "win_pnl": "coalesce(sum(net_pnl) FILTER (WHERE net_pnl > 0), 0)",
    "losses": "count(*) FILTER (WHERE net_pnl < 0)",
    "loss_pnl": "coalesce(sum(net_pnl) FILTER (WHERE net_pnl < 0), 0)",
    "longs": "count(*) FILTER (WHERE side = 'long')",
}
COSTS = {
    "fees": ("est_fees IS NOT NULL", "fees - est_fees"),
    "funding": ("est_funding IS NOT NULL", "funding - est_funding"),
    "slippage": (
        "est_slippage_bps IS NOT NULL AND realized_slippage IS NOT NULL",
        "realized_slippage - est_slippage_bps / 10000 * qty * (entry_price + exit_price)",
    ),
}
for part, (has, drift) in COSTS.items():
    SUMS[f"{part}_n"] = f"count(*) FILTER (WHERE {has})"
    SUMS[f"{part}_drift"] = f"coalesce(sum({drift}) FILTER (WHERE {has}), 0)"
    SUMS[f"{part}_abs"] = f"coalesce(sum(abs({drift})) FILTER (WHERE {has}), 0)"

APPLY = f"""
INSERT INTO tradeops_dailycloses AS rollup (bot_id, day, release_id, exit_reason, {", ".join(SUMS)})
SELECT bot_id, (closed_at AT TIME ZONE 'UTC')::date, release_id, exit_reason,
    {", ".join("{sign}" + expression for expression in SUMS.values())}
FROM {{rows}} WHERE status = 'closed' AND closed_at IS NOT NULL
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
ON CONFLICT ON CONSTRAINT daily_closes_unique DO UPDATE SET
    {", ".join(f"{column} = rollup.{column} + EXCLUDED.{column}" for column in SUMS)};
"""
CREATE = f"""
CREATE FUNCTION tradeops_daily_closes() RETURNS trigger AS $$
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
CREATE TRIGGER trade_daily_closes_insert AFTER INSERT ON tradeops_trade
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tradeops_daily_closes();
CREATE TRIGGER trade_daily_closes_update AFTER UPDATE ON tradeops_trade
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tradeops_daily_closes();
CREATE TRIGGER trade_daily_closes_delete AFTER DELETE ON tradeops_trade
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tradeops_daily_closes();
{APPLY.format(sign="", rows="tradeops_trade")}
"""
DROP = """
DROP TRIGGER IF EXISTS trade_daily_closes_insert ON tradeops_trade;
DROP TRIGGER IF EXISTS trade_daily_closes_update ON tradeops_trade;
DROP TRIGGER IF EXISTS trade_daily_closes_delete ON tradeops_trade;
DROP FUNCTION IF EXISTS tradeops_daily_closes();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('tradeops', '0016_daily_pnl_d'),
    ]

    operations = [
        migrations.CreateModel(
            name='DailyCloses',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('exit_reason', models.CharField(blank=True, max_length=100)),
                ('trades', models.IntegerField()),
                ('net_pnl', models.DecimalField(decimal_places=12, max_digits=30)),
                ('wins', models.IntegerField()),
                ('win_pnl', models.DecimalField(decimal_places=12, max_digits=30)),
                ('losses', models.IntegerField()),
                ('loss_pnl', models.DecimalField(decimal_places=12, max_digits=30)),
                ('longs', models.IntegerField()),
                ('fees_n', models.IntegerField()),
                ('fees_drift', models.DecimalField(decimal_places=12, max_digits=30)),
                ('fees_abs', models.DecimalField(decimal_places=12, max_digits=30)),
                ('funding_n', models.IntegerField()),
                ('funding_drift', models.DecimalField(decimal_places=12, max_digits=30)),
                ('funding_abs', models.DecimalField(decimal_places=12, max_digits=30)),
                ('slippage_n', models.IntegerField()),
                ('slippage_drift', models.DecimalField(decimal_places=12, max_digits=30)),
                ('slippage_abs', models.DecimalField(decimal_places=12, max_digits=30)),
                ('bot', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tradeops.bot')),
                ('release', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tradeops.configrelease')),
            ],
        ),
        migrations.RunPython(
            DAILY_PNL.on_postgresql(DAILY_PNL.DROP), DAILY_PNL.on_postgresql(DAILY_PNL.CREATE)
        ),
        migrations.DeleteModel(
            name='DailyPnl',
        ),
        migrations.AddConstraint(
            model_name='dailycloses',
            constraint=models.UniqueConstraint(fields=('bot', 'day', 'release', 'exit_reason'), name='daily_closes_unique', nulls_distinct=False),
        ),
        migrations.RunPython(DAILY_PNL.on_postgresql(CREATE), DAILY_PNL.on_postgresql(DROP)),
    ]
