from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate


class CadenceConfig(AppConfig):
    name = "cadence"
    verbose_name = "Operating cadence"

    def ready(self):
        from cadence.models import SAME_BOT
        from experiments.same_bot import heal_after_migrate

        post_migrate.connect(heal_after_migrate(SAME_BOT, []), sender=self, weak=False)


class TradeOpsAdminConfig(AdminConfig):
    """Django's admin, opening on the command center instead of the list of models."""

    default_site = "cadence.site.CommandCenterSite"
