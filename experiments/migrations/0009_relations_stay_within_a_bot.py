"""Every relation between two bot-owned rows stays within one bot, in the database too (PostgreSQL
and SQLite): an experiment's baseline and candidate, its prerequisite and the experiment it
iterates; a scaling step's releases; a release change's release, a bot's current release and
current change; a trade's release, a fill's trade; a KPI snapshot's release and a baseline
report's snapshots; an alert to a bot's own channel, a push to a bot's own webhook. The rows
pointed at never change bot, so each relation is checked once, when it is written. Triggers,
not composite foreign keys: see experiments.same_bot, which holds the rules."""

from django.db import migrations

from experiments.same_bot import KEEPS_0009, PER_STATEMENT, RULES_0009, installer


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0008_keep_awaiting_confirmation"),
        ("tradeops", "0022_bot_cadence_hours"),
        ("kpis", "0001_initial"),
        ("integrity", "0008_release_push"),
    ]

    operations = [migrations.RunPython(*installer(RULES_0009, KEEPS_0009, PER_STATEMENT))]
