from django.contrib import admin

from integrity.models import IntegrityIncident
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
    ]
    list_filter = ["bot", "severity", "status", "kind"]
    search_fields = ["title", "key"]
    date_hierarchy = "opened_at"
    list_select_related = ["bot"]
    exclude = ["detail"]
    readonly_fields = ["detail_display"]

    @admin.display(description="detail")
    def detail_display(self, obj):
        return pretty_json(obj.detail)
