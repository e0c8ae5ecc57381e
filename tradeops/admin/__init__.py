"""The core's admin, a package as Django's own admin is: the read-only base of what the bot
reports (options) and how its values read (helpers); the options of each model group (bots: the
bot's page, its tokens and the parameter catalogue; reports: what the bot reports; audit: the
trails and the audit export); and the queue dashboard (queues). Each model is registered here,
once, and nowhere else; the Bot is registered by experiments.admin, whose BotAdmin adds to
bots.BotAdmin."""

from django.contrib import admin
from django_rq.models import Dashboard

from tradeops.admin.audit import AuditEventAdmin, JobRunAdmin, ReleaseChangeAdmin
from tradeops.admin.bots import ApiTokenAdmin, ParamSpecAdmin
from tradeops.admin.queues import QueueDashboardAdmin
from tradeops.admin.reports import (
    DecisionCountAdmin,
    EquitySnapshotAdmin,
    FillAdmin,
    HealthEventAdmin,
    IngestBatchAdmin,
    QuarantinedRecordAdmin,
    TradeAdmin,
)
from tradeops.models import (
    ApiToken,
    AuditEvent,
    DecisionCount,
    EquitySnapshot,
    Fill,
    HealthEvent,
    IngestBatch,
    JobRun,
    ParamSpec,
    QuarantinedRecord,
    ReleaseChange,
    Trade,
)

admin.site.register(Dashboard, QueueDashboardAdmin)
admin.site.register(ApiToken, ApiTokenAdmin)
admin.site.register(ParamSpec, ParamSpecAdmin)
admin.site.register(Trade, TradeAdmin)
admin.site.register(Fill, FillAdmin)
admin.site.register(DecisionCount, DecisionCountAdmin)
admin.site.register(HealthEvent, HealthEventAdmin)
admin.site.register(EquitySnapshot, EquitySnapshotAdmin)
admin.site.register(QuarantinedRecord, QuarantinedRecordAdmin)
admin.site.register(IngestBatch, IngestBatchAdmin)
admin.site.register(ReleaseChange, ReleaseChangeAdmin)
admin.site.register(JobRun, JobRunAdmin)
admin.site.register(AuditEvent, AuditEventAdmin)
