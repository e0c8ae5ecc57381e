"""Integrity's admin, a package as Django's own admin is: the options of each model group
(incidents: incidents and check runs; alerts: channels and deliveries; cleanup: cleanup plans),
the bot's page as integrity adds to it (bots) and the delivery attempts table it shares with the
release push (helpers). Each model is registered here, once; the Bot is registered by
experiments.admin, whose BotAdmin adds to bots.BotAdmin."""

from django.contrib import admin

from integrity.admin.alerts import AlertChannelAdmin, AlertDeliveryAdmin
from integrity.admin.cleanup import CleanupPlanAdmin
from integrity.admin.incidents import IntegrityCheckRunAdmin, IntegrityIncidentAdmin
from integrity.models import (
    AlertChannel,
    AlertDelivery,
    CleanupPlan,
    IntegrityCheckRun,
    IntegrityIncident,
)

admin.site.register(IntegrityIncident, IntegrityIncidentAdmin)
admin.site.register(IntegrityCheckRun, IntegrityCheckRunAdmin)
admin.site.register(AlertChannel, AlertChannelAdmin)
admin.site.register(AlertDelivery, AlertDeliveryAdmin)
admin.site.register(CleanupPlan, CleanupPlanAdmin)
