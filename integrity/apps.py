from django.apps import AppConfig


class IntegrityConfig(AppConfig):
    name = "integrity"
    verbose_name = "Integrity"

    def ready(self):
        from integrity import receivers
        from tradeops import signals

        signals.records_refused.connect(receivers.records_refused, dispatch_uid="integrity.refused")
        signals.body_refused.connect(receivers.body_refused, dispatch_uid="integrity.body")
        signals.batch_received.connect(receivers.batch_received, dispatch_uid="integrity.watch")
