"""Shadow bots (tradeops.Bot.shadow_of): a shadow's trades, KPI snapshots, release changes and
current release may name its live bot's releases; a bot's shadow_of never changes, and a shadow
has no shadow. Reinstalls the triggers of experiments.same_bot (0009's rules, with these)."""

from django.db import migrations

from experiments.same_bot import (
    KEEPS,
    KEEPS_0009,
    PER_STATEMENT,
    RULES,
    RULES_0009,
    reinstaller,
)


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0010_keep_without_better"),
        ("tradeops", "0026_bot_shadow_of"),
    ]

    operations = [
        migrations.RunPython(*reinstaller((RULES_0009, KEEPS_0009), (RULES, KEEPS), PER_STATEMENT))
    ]
