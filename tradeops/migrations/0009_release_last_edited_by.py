"""Four-eyes covers edits: a release records who last edited the draft, and the database refuses
an approval by them as it does by the release's creator."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tradeops", "0008_release_immutable_trigger"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="configrelease",
            name="release_four_eyes",
        ),
        migrations.AddField(
            model_name="configrelease",
            name="last_edited_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Who last changed the draft (tradeops.releases.edit_release).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="configrelease",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("approved_by__isnull", True),
                    models.Q(
                        models.Q(
                            ("created_by__isnull", True),
                            models.Q(("approved_by", models.F("created_by")), _negated=True),
                            _connector="OR",
                        ),
                        models.Q(
                            ("last_edited_by__isnull", True),
                            models.Q(("approved_by", models.F("last_edited_by")), _negated=True),
                            _connector="OR",
                        ),
                    ),
                    _connector="OR",
                ),
                name="release_four_eyes",
            ),
        ),
    ]
