"""A weekly review's next experiment and confirmed keep are experiments of its bot, and a daily
digest goes to a channel of its bot (or of every bot), in the database too (PostgreSQL and
SQLite): cadence.models.SAME_BOT. cadence.services.sign_off_weekly_review refuses the same with
the reason. Experiments never change bot (experiments 0009), so each is checked once."""

from django.db import migrations

from cadence.models import SAME_BOT
from experiments.same_bot import installer


class Migration(migrations.Migration):
    dependencies = [
        ("cadence", "0001_initial"),
        ("experiments", "0009_relations_stay_within_a_bot"),
    ]

    operations = [migrations.RunPython(*installer(SAME_BOT, []))]
