"""The trails, read-only: each change of what a bot runs, each job run, and the audit trail
with its export."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from tradeops.admin.helpers import pretty_json
from tradeops.admin.options import ReadOnlyAdmin
from tradeops.audit import EXPORT_FORMATS, export_audit
from tradeops.exports import attachment
from tradeops.models import Bot
from tradeops.roles import EXPORT_AUDIT


class ReleaseChangeAdmin(ReadOnlyAdmin):
    """Each change of what a bot runs and why, as GET /api/v1/config tells the bot."""

    list_display = ["at", "bot", "release", "reason", "reference", "by"]
    list_filter = ["bot", "reason"]
    list_select_related = ["bot", "release__bot"]


class JobRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "name", "key", "outcome", "duration", "rq_job_id"]
    list_filter = ["name", "outcome"]
    search_fields = ["name", "key", "rq_job_id", "error"]
    date_hierarchy = "started_at"
    exclude = ["detail"]
    readonly_fields = ["detail_display"]

    @admin.display(description="duration")
    def duration(self, obj):
        if obj.finished_at is None:
            return "-"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.1f} s"

    @admin.display(description="detail")
    def detail_display(self, obj):
        return pretty_json(obj.detail)


class AuditExportForm(forms.Form):
    bot = forms.ModelChoiceField(Bot.objects.order_by("slug"), required=False, empty_label="all")
    since = forms.DateField(required=False, help_text="UTC day, included (YYYY-MM-DD)")
    until = forms.DateField(required=False, help_text="UTC day, included (YYYY-MM-DD)")
    format = forms.ChoiceField(choices=[(f, f.upper()) for f in EXPORT_FORMATS], initial="csv")

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("since is after until")
        return data


class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail: read-only for everyone (on PostgreSQL the table refuses UPDATE and
    DELETE too); a Team lead exports it, with each row's hash, to keep or check elsewhere."""

    list_display = [
        "seq",
        "at",
        "actor_name",
        "subject_type",
        "subject",
        "action",
        "transition",
        "note",
    ]
    list_filter = ["subject_type", "action"]
    search_fields = ["subject", "note", "actor_name"]
    date_hierarchy = "at"
    exclude = ["data"]
    readonly_fields = ["data_display"]
    change_list_template = "admin/tradeops/auditevent/change_list.html"

    @admin.display(description="from → to")
    def transition(self, obj):
        return f"{obj.from_state} → {obj.to_state}" if obj.from_state or obj.to_state else ""

    @admin.display(description="data")
    def data_display(self, obj):
        return pretty_json(obj.data)

    def get_urls(self):
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_view),
            name="tradeops_auditevent_export",
        )
        return [export, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_export": self.may_export(request)}
        return super().changelist_view(request, extra_context)

    def may_export(self, request):
        return request.user.has_perm(EXPORT_AUDIT)

    def export_view(self, request):
        """A form (GET) naming the bot, the period and the format; submitted, the file."""
        if not self.may_export(request):
            raise PermissionDenied
        form = AuditExportForm(request.GET if "format" in request.GET else None)
        if form.is_valid():
            fmt, bot = form.cleaned_data["format"], form.cleaned_data["bot"]
            since, until = form.cleaned_data["since"], form.cleaned_data["until"]
            text = export_audit(fmt, bot=bot, since=since, until=until)
            content_type = "text/csv" if fmt == "csv" else "application/json"
            response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
            period = [str(day) for day in (since, until) if day]
            name = "-".join(["audit", bot.slug if bot else "all", *period])
            return attachment(response, f"{name}.{fmt}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Export the audit trail",
            "form": form,
        }
        return TemplateResponse(request, "admin/tradeops/auditevent/export.html", context)
