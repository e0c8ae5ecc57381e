from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class CadenceConfig(AppConfig):
    name = "cadence"
    verbose_name = "Operating cadence"


class TradeOpsAdminConfig(AdminConfig):
    """Django's admin, opening on the command center instead of the list of models."""

    default_site = "cadence.site.CommandCenterSite"
