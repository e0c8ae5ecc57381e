from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TradeOpsConfig(AppConfig):
    name = "tradeops"
    verbose_name = "Trading data"

    def ready(self):
        from tradeops import checks  # noqa: F401 (registers the schedule's system checks)
        from tradeops.roles import ensure_roles_after_migrate

        # Not limited to this app: the roles also grant permissions of apps migrated after it.
        post_migrate.connect(ensure_roles_after_migrate, dispatch_uid="tradeops.ensure_roles")
