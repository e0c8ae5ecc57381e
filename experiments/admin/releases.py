"""Admin for config releases and stabilization freezes.

A release is added as a copy of another with edits (create_release merges and validates them;
its refusal shows on the form); approving it, making it the baseline and freezing are actions
with a note, calling the same services as the commands and jobs. Saving the change form edits
through edit_release, which audits every edit with its old and new values.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from experiments import services as experiment_services
from experiments.admin.history import HistoryMixin
from experiments.params import compare_params
from experiments.releases import (
    approve_release,
    baseline_of,
    create_release,
    edit_release,
    end_freeze,
    freeze_config,
)
from experiments.releases.freqtrade import ExportRefused, file_name, parameter_file_text
from ingestion.models import FreqtradeSource
from integrity.selectors import stabilization_exit_criteria
from kpis.services import capture_baseline
from tradeops.admin_actions import ServiceFormMixin, note_action
from tradeops.admin_links import LinksTheViewerMayOpen
from tradeops.models import Bot, ConfigRelease, StabilizationWindow
from tradeops.roles import APPROVE_RELEASE, CAPTURE_BASELINE


def _shown(value, other):
    """A param's value as people read it, text unquoted: 1.5, limit, 18. A value that reads the
    same as the other side's but differs by type (a whole number stored as text) says so."""
    if value is None:
        return None
    shown = value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, str) and other is not None and not isinstance(other, str):
        return f"{shown} (as text)" if shown == json.dumps(other) else shown
    return shown


class ReleaseCopyForm(forms.ModelForm):
    """A new release: another release's params with edits (create_release validates them), or a
    bot's first release, whose edits are all its params."""

    refusal_field = "changes"  # a param's refusal shows on the edits

    # A shadow runs its live bot's releases: none of its own are drafted.
    based_on = forms.ModelChoiceField(
        ConfigRelease.objects.filter(bot__shadow_of__isnull=True).select_related("bot"),
        required=False,
    )
    first_release_of = forms.ModelChoiceField(
        Bot.objects.live(),
        required=False,
        help_text="Only for a bot without any release yet (leave 'based on' empty): its first "
        "release, with all its params as the edits.",
    )
    changes = forms.JSONField(
        initial=dict,
        help_text='{"param": new value}; null removes a param. Whole numbers bare, decimals as '
        'strings: {"fib_proximity_bps": 20, "entry_zone_tolerance_pct": "0.3"}.',
    )

    class Meta:
        model = ConfigRelease
        fields = ["tag", "git_commit", "notes"]

    def clean_changes(self):
        changes = self.cleaned_data["changes"]
        if not isinstance(changes, dict):
            raise forms.ValidationError("an object of param: new value")
        return changes

    def clean(self):
        data = super().clean()
        based_on, bot = data.get("based_on"), data.get("first_release_of")
        if based_on is None and bot is None:
            self.add_error("based_on", "a new release is a copy of one of the bot's releases")
        elif based_on is not None and bot is not None:
            self.add_error("first_release_of", "either a copy, or a bot's first release")
        elif bot is not None and ConfigRelease.objects.filter(bot=bot).exists():
            # Its history stays a chain of copies: the change from the last release is the diff.
            self.add_error(
                "first_release_of", f"{bot} has releases already: copy one of them (based on)"
            )
        return data


class DraftReleaseForm(forms.ModelForm):
    """A draft's edits (edit_release validates them)."""

    refusal_field = "params"

    class Meta:
        model = ConfigRelease
        fields = ["tag", "git_commit", "params", "notes"]


class ConfigReleaseAdmin(LinksTheViewerMayOpen, ServiceFormMixin, HistoryMixin, admin.ModelAdmin):
    list_display = [
        "tag",
        "bot",
        "version",
        "is_baseline",
        "git_commit",
        "created_by",
        "approved_at",
        "approved_by",
        "baseline_captured",
        "copy_link",
    ]
    list_filter = ["bot", "is_baseline", ("approved_at", admin.EmptyFieldListFilter)]
    search_fields = ["tag", "git_commit", "notes"]
    list_select_related = ["bot", "created_by", "approved_by"]
    form = DraftReleaseForm
    add_form = ReleaseCopyForm
    add_fields = ["based_on", "first_release_of", "changes", "tag", "git_commit", "notes"]
    add_fieldsets = [(None, {"fields": add_fields})]
    readonly_fields = [
        "bot",
        "version",
        "created_at",
        "created_by",
        "last_edited_by",
        "approved_at",
        "approved_by",
        "is_baseline",
        "diff_vs_baseline",
        "history",
    ]
    actions = ["approve", "make_baseline", "compare", "capture_baseline", "export_freqtrade"]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_approved:
            return [*self.readonly_fields, "tag", "git_commit", "params_display"]
        return self.readonly_fields

    def get_exclude(self, request, obj=None):
        return ["params"] if obj is not None and obj.is_approved else []

    def create(self, request, form):
        data = form.cleaned_data
        return create_release(
            based_on=data["based_on"],
            bot=data["first_release_of"],
            changes=data["changes"],
            tag=data["tag"],
            git_commit=data["git_commit"],
            notes=data["notes"],
            by=request.user,
        )

    def edit(self, request, obj, form):
        """Through the service that audits the edit and records its editor."""
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        return edit_release(obj, changes=changes, by=request.user)

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # An approved release is what bots run and experiments compare: its config is read-only;
        # only its notes (what the team learned running it) change, audited.
        release = self.get_object(request, object_id)
        if release is not None and release.is_approved:
            title = f"Approved release {release.tag}: its config is read-only, notes may be added"
            extra_context = {**(extra_context or {}), "title": title}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="params")
    def params_display(self, obj):
        # As the compare page shows them: a value as written, text unquoted.
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            ((key, _shown(value, None)) for key, value in sorted(obj.params.items())),
        )
        return format_html('<table class="release-params">{}</table>', rows)

    @admin.display(description="diff vs the baseline")
    def diff_vs_baseline(self, obj):
        baseline = baseline_of(obj.bot)
        if baseline is None or baseline == obj:
            return "-"
        changed = [row for row in compare_params(baseline.params, obj.params) if row[4]]
        return format_html_join(
            "", "<div>{} ({}): {} → {}</div>", ((k, c, a, b) for k, c, a, b, _ in changed)
        ) or format_html("same params as {}", baseline.tag)

    @admin.display(description="copy")
    def copy_link(self, obj):
        url = reverse("admin:tradeops_configrelease_add") + f"?based_on={obj.pk}"
        return format_html('<a href="{}">copy with edits</a>', url)

    @admin.display(description="baseline report")
    def baseline_captured(self, obj):
        report = obj.baseline_reports.order_by("-as_of").first()
        if report is None:
            return "-"
        url = reverse("admin:kpis_baselinereport_change", args=[report.pk])
        return format_html('<a href="{}">{}</a>', url, f"{report.as_of:%Y-%m-%d}")

    @note_action("Approve (Team lead, not the author)", "approve")
    def approve(self, request, release, note):
        approve_release(release, by=request.user, note=note)

    @note_action("Make the bot's baseline (the config it runs)", "approve")
    def make_baseline(self, request, release, note):
        experiment_services.make_baseline(release, by=request.user, note=note)

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE_RELEASE)

    @admin.action(description="Compare two releases")
    def compare(self, request, queryset):
        if queryset.count() != 2:
            self.message_user(request, "Select exactly two releases to compare.", messages.ERROR)
            return None
        old, new = queryset.order_by("version")
        url = reverse("admin:tradeops_configrelease_compare", args=[old.pk, new.pk])
        return HttpResponseRedirect(url)

    def get_urls(self):
        compare = path(
            "compare/<int:old>/<int:new>/",
            self.admin_site.admin_view(self.compare_view),
            name="tradeops_configrelease_compare",
        )
        return [compare, *super().get_urls()]

    def compare_view(self, request, old, new):
        old, new = (
            get_object_or_404(ConfigRelease, pk=old),
            get_object_or_404(ConfigRelease, pk=new),
        )
        if not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{old.tag} → {new.tag}",
            "old": old,
            "new": new,
            # Each value as written, unquoted; `changed` compares by value for the type.
            "rows": [
                (key, category, _shown(before, after), _shown(after, before), changed)
                for key, category, before, after, changed in compare_params(old.params, new.params)
            ],
        }
        return TemplateResponse(request, "admin/experiments/configrelease/compare.html", context)

    @admin.action(description="Capture baseline report (7d + 30d)", permissions=["capture"])
    def capture_baseline(self, request, queryset):
        for release in queryset.select_related("bot"):
            try:
                report = capture_baseline(release, captured_by=request.user)
            except ValueError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            url = reverse("admin:kpis_baselinereport_change", args=[report.pk])
            self.message_user(
                request,
                format_html('Baseline captured for {}: <a href="{}">open report</a>', release, url),
                messages.SUCCESS,
            )

    def has_capture_permission(self, request):
        return request.user.has_perm(CAPTURE_BASELINE)

    @admin.action(description="Download as freqtrade parameter file")
    def export_freqtrade(self, request, queryset):
        """The file a freqtrade bot loads beside its strategy (experiments.releases.freqtrade), as
        its deploy step gets it from GET /api/v1/config?format=freqtrade. Approved releases
        only: a draft is not what a bot runs."""
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one release to export.", messages.ERROR)
            return None
        release = queryset.select_related("bot").get()
        source = FreqtradeSource.objects.filter(bot=release.bot).first()
        try:
            if not release.is_approved:
                raise ExportRefused(f"release {release.tag} is not approved")
            text = parameter_file_text(release, source)
        except ExportRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        response = HttpResponse(text, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{file_name(source)}"'
        return response


class FreezeForm(forms.ModelForm):
    days = forms.IntegerField(min_value=1, max_value=90, initial=7)

    class Meta:
        model = StabilizationWindow
        fields = ["bot", "days", "reason"]


class StabilizationWindowAdmin(
    LinksTheViewerMayOpen, ServiceFormMixin, HistoryMixin, admin.ModelAdmin
):
    list_display = ["bot", "starts_at", "ends_at", "in_force", "exit_criteria", "created_by"]
    list_filter = ["bot"]
    list_select_related = ["bot", "created_by"]
    add_form = FreezeForm
    readonly_fields = [
        "bot",
        "starts_at",
        "ends_at",
        "ended_early_at",
        "reason",
        "created_by",
        "exit_criteria_table",
        "history",
    ]
    actions = ["end_early"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ["bot", "days", "reason"]

    def create(self, request, form):
        data = form.cleaned_data
        return freeze_config(data["bot"], days=data["days"], reason=data["reason"], by=request.user)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="in force", boolean=True)
    def in_force(self, obj):
        return obj.is_active(timezone.now())

    @admin.display(description="exit criteria (plan section 1)")
    def exit_criteria(self, obj):
        criteria = stabilization_exit_criteria(obj)
        met = sum(c["passed"] for c in criteria)
        return f"{met} of {len(criteria)} met"

    @admin.display(description="exit criteria")
    def exit_criteria_table(self, obj):
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (c["criterion"], "met" if c["passed"] else "NOT met", c["evidence"])
                    for c in stabilization_exit_criteria(obj)
                ),
            ),
        )

    @note_action("End the freeze early", "approve")
    def end_early(self, request, window, note):
        end_freeze(window, by=request.user, note=note)

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE_RELEASE)

    def has_add_permission(self, request):
        return request.user.has_perm(APPROVE_RELEASE)
