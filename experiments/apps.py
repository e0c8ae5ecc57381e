from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class ExperimentsConfig(AppConfig):
    name = "experiments"
    verbose_name = "Experiments"

    def ready(self):
        from experiments import checks, shadows  # noqa: F401 (checks registers the lifecycle's)
        from experiments.releases import push
        from experiments.same_bot import KEEPS, RULES, sqlite_around_migrate
        from tradeops import signals

        drop, install = sqlite_around_migrate(
            RULES, KEEPS, ("experiments", "0009_relations_stay_within_a_bot")
        )
        # Dropping every rule's trigger (the cadence's too) before any app migrates.
        pre_migrate.connect(drop, weak=False, dispatch_uid="experiments.same_bot.drop")
        post_migrate.connect(install, sender=self, weak=False)
        signals.shadow_created.connect(shadows.shadow_created, dispatch_uid="experiments.shadow")
        signals.trading_mode_changed.connect(
            push.trading_mode_changed, dispatch_uid="experiments.trading_push"
        )
