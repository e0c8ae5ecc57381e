from django.contrib import admin, messages

from integrity.models import IntegrityCheckRun, IntegrityIncident
from integrity.services import acknowledge_incident, resolve_incident
from tradeops.admin import ReadOnlyAdmin, pretty_json


@admin.register(IntegrityIncident)
class IntegrityIncidentAdmin(ReadOnlyAdmin):
    list_display = [
        "last_seen_at",
        "bot",
        "severity",
        "status",
        "title",
        "occurrences",
        "opened_at",
        "acknowledged_by",
        "resolved_at",
    ]
    list_filter = ["status", "severity", "bot", "kind"]
    search_fields = ["title", "key"]
    date_hierarchy = "opened_at"
    list_select_related = ["bot", "acknowledged_by"]
    exclude = ["detail"]
    readonly_fields = ["detail_display"]
    actions = ["acknowledge", "resolve"]

    @admin.display(description="detail")
    def detail_display(self, obj):
        return pretty_json(obj.detail)

    @admin.action(description="Acknowledge selected incidents", permissions=["handle"])
    def acknowledge(self, request, queryset):
        done = sum(acknowledge_incident(incident, user=request.user) for incident in queryset)
        self.message_user(request, f"Acknowledged {done} incident(s).", messages.SUCCESS)

    @admin.action(description="Resolve selected incidents", permissions=["handle"])
    def resolve(self, request, queryset):
        done = sum(resolve_incident(incident, user=request.user) for incident in queryset)
        self.message_user(request, f"Resolved {done} incident(s).", messages.SUCCESS)

    def has_handle_permission(self, request):
        return request.user.has_perm("integrity.change_integrityincident")


@admin.register(IntegrityCheckRun)
class IntegrityCheckRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "bot", "violations", "triggered_by", "since"]
    list_filter = ["bot", "triggered_by"]
    date_hierarchy = "started_at"
    list_select_related = ["bot"]
    exclude = ["results"]
    readonly_fields = ["results_display"]

    @admin.display(description="results")
    def results_display(self, obj):
        return pretty_json(obj.results)
