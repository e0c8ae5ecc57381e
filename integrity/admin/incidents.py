"""Incidents (acknowledged with a note, resolved; the cleanup runbook beside them) and the
integrity check runs."""

from django.contrib import admin, messages
from django.urls import path as url_path

from integrity.admin_runbook import cleanup_runbook_view
from integrity.admin_words import detail_in_words
from integrity.services import (
    acknowledge_incident,
    acknowledge_refusal,
    acknowledgement,
    resolve_incident,
)
from tradeops.admin.helpers import pretty_json
from tradeops.admin.options import ReadOnlyAdmin
from tradeops.admin_actions import note_action
from tradeops.roles import HANDLE_INCIDENTS


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
    readonly_fields = ["acknowledgement_display", "detail_display"]
    actions = ["acknowledge", "resolve"]
    change_form_template = "admin/integrity/integrityincident/change_form.html"

    def get_urls(self):
        runbook = self.admin_site.admin_view(cleanup_runbook_view(self.admin_site))
        return [
            url_path("runbook/cleanup/", runbook, name="integrity_cleanup_runbook"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        incident = self.get_object(request, object_id)
        refused = acknowledge_refusal(incident, request.user) if incident else "no incident"
        extra_context = {
            **(extra_context or {}),
            "may_acknowledge": refused is None,
            # A handler sees the button disabled with the reason; a viewer sees none.
            "acknowledge_refused": refused if self.has_handle_permission(request) else None,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="detail")
    def detail_display(self, obj):
        return detail_in_words(obj)

    @admin.display(description="acknowledgement")
    def acknowledgement_display(self, obj):
        row = acknowledgement(obj)
        if row is None:
            return "-"
        return f"by {row.actor_name} at {row.at:%Y-%m-%d %H:%M} UTC: {row.note}"

    @note_action(
        "Acknowledge (the repeats stop; say what you do about it)",
        "handle",
        check=acknowledge_refusal,
    )
    def acknowledge(self, request, incident, note):
        acknowledge_incident(incident, user=request.user, note=note)

    @admin.action(description="Resolve selected incidents", permissions=["handle"])
    def resolve(self, request, queryset):
        done = sum(resolve_incident(incident, user=request.user) for incident in queryset)
        self.message_user(request, f"Resolved {done} incident(s).", messages.SUCCESS)

    def has_handle_permission(self, request):
        return request.user.has_perm(HANDLE_INCIDENTS)


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
