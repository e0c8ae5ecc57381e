from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ExperimentsConfig(AppConfig):
    name = "experiments"
    verbose_name = "Experiments"

    def ready(self):
        from experiments import shadows
        from experiments.same_bot import KEEPS, RULES, heal_after_migrate
        from tradeops import signals

        post_migrate.connect(heal_after_migrate(RULES, KEEPS), sender=self, weak=False)
        signals.shadow_created.connect(shadows.shadow_created, dispatch_uid="experiments.shadow")
