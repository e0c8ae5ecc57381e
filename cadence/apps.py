from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate, post_save


class CadenceConfig(AppConfig):
    name = "cadence"
    verbose_name = "Operating cadence"

    def ready(self):
        from cadence.models import SAME_BOT
        from experiments.same_bot import sqlite_around_migrate

        # Dropped before a migrate with every rule's trigger (experiments.apps).
        _, install = sqlite_around_migrate(
            SAME_BOT, [], ("cadence", "0002_weekly_review_and_digest_stay_within_a_bot")
        )
        post_migrate.connect(install, sender=self, weak=False)
        post_save.connect(_refresh_headroom, sender="tradeops.AuditEvent", weak=False)


def _refresh_headroom(sender, instance, created, **kwargs):
    """A state change of an experiment or a scaling step recomputes its bot's headroom."""
    from cadence.services import refresh_headroom_after

    if created:
        refresh_headroom_after(instance)


class TradeOpsAdminConfig(AdminConfig):
    """Django's admin, opening on the command center instead of the list of models."""

    default_site = "cadence.site.CommandCenterSite"
