import json
from functools import wraps

from csp.decorators import csp_update
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard

from tradeops.admin_bot_fields import BotFieldsForReading
from tradeops.admin_columns import moment_column, release_column
from tradeops.admin_links import LinksTheViewerMayOpen
from tradeops.admin_lists import ExitReasonFilter, LongListAdmin, ReleaseFilter, date_filter
from tradeops.audit import EXPORT_FORMATS, export_audit
from tradeops.exports import attachment
from tradeops.models import (
    ApiToken,
    AuditEvent,
    Bot,
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
from tradeops.roles import EXPORT_AUDIT, ISSUE_TOKENS, QUEUE_DASHBOARD, REVOKE_TOKENS
from tradeops.services import (
    issue_api_token,
    revoke_api_tokens,
    set_circuit_breaker,
    set_trading_mode,
    shadow_created,
    stop_fleet_entries,
)


def pretty_json(value):
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


def plain_decimal(value):
    """A stored decimal without its trailing zeros (0.500000000000 -> 0.5), never in E-notation."""
    return None if value is None else f"{value.normalize():f}"


def money(value):
    """Money rounded for reading; the stored value keeps every digit."""
    return None if value is None else f"{value:,.2f}"


def decimal_column(field, description=None, formatter=plain_decimal):
    """A sortable list column showing a decimal field for reading."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def column(obj):
        return formatter(getattr(obj, field))

    column.__name__ = field  # the column's CSS class names the field
    return column


def readable_decimal(field):
    """A decimal field on a read-only page as `plain_decimal` reads it (0.5, not the column's
    0.500000000000), labelled as the field."""

    @admin.display(description=field.verbose_name)
    def value(obj):
        return plain_decimal(getattr(obj, field.name))

    return value


class ReadOnlyAdmin(LinksTheViewerMayOpen, admin.ModelAdmin):
    """What the bot reports is evidence: nobody edits or deletes it from the admin."""

    def get_fields(self, request, obj=None):
        decimals = {
            f.name: f for f in self.model._meta.fields if isinstance(f, models.DecimalField)
        }
        return [
            readable_decimal(decimals[name]) if name in decimals else name
            for name in super().get_fields(request, obj)
        ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BotAdmin(BotFieldsForReading, admin.ModelAdmin):
    """The bot and its tokens. Registered once, by the highest layer adding to it
    (experiments.admin: integrity.admin's BotAdmin, with the integrity gate column and actions,
    and the release push); the core knows nothing of either."""

    list_display = ["slug", "name", "exchange", "shadow_of", "is_active", "created_at"]
    list_filter = ["is_active", "exchange", ("shadow_of", admin.EmptyFieldListFilter)]
    search_fields = ["slug", "name"]
    # What the bot runs changes only through the audited services (baseline, experiment start
    # and decision, rollback trigger, scaling step), never by editing the bot; so does its
    # trading mode and its circuit breaker (the panel under the form, and the command center).
    readonly_fields = [
        "current_release",
        "current_change",
        "shadow_relation",
        "trading",
        "circuit_breaker",
    ]
    exclude = [
        "trading_mode",
        "trading_version",
        "trading_changed_at",
        "trading_changed_by",
        "trading_note",
        "breaker_pct",
        "breaker_reading_pct",
        "breaker_read_at",
    ]
    actions = ["issue_token"]
    change_form_template = "admin/tradeops/bot/change_form.html"

    @admin.display(description="Trading mode")
    def trading(self, bot):
        if bot.pk is None:
            return "-"
        if not bot.is_stopped:
            return "Trade"
        return format_html(
            "{} since {} UTC by {}: {}",
            bot.get_trading_mode_display(),
            f"{bot.trading_changed_at:%Y-%m-%d %H:%M}",
            bot.trading_changed_by,
            bot.trading_note,
        )

    @admin.display(description="Circuit breaker")
    def circuit_breaker(self, bot):
        if bot.pk is None or bot.is_shadow:
            return "-" if bot.pk is None else "none: a shadow follows its live bot's mode"
        if bot.breaker_read_at is None:
            return f"{bot.breaker_pct}% today: not read yet"
        if bot.breaker_reading_pct is None:
            return f"{bot.breaker_pct}% today: no equity known (set the starting equity)"
        return (
            f"{bot.breaker_pct}% today; today {bot.breaker_reading_pct:.2f}%, headroom "
            f"{bot.breaker_headroom:.2f} pts (as of {bot.breaker_read_at:%H:%M} UTC)"
        )

    def get_urls(self):
        pages = [
            ("<int:object_id>/trading/", self.trading_view, "tradeops_bot_trading"),
            ("<int:object_id>/breaker/", self.breaker_view, "tradeops_bot_breaker"),
            ("trading/stop-fleet/", self.stop_fleet_view, "tradeops_bot_stop_fleet"),
        ]
        return [
            path(route, self.admin_site.admin_view(view), name=name) for route, view, name in pages
        ] + super().get_urls()

    def _back(self, request, bot=None):
        """Where the form came from (the command center's card or the bot's page)."""
        back = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            return redirect(back)
        if bot is None:
            return redirect("admin:index")
        return redirect("admin:tradeops_bot_change", bot.pk)

    def _refused(self, request, exc):
        self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def trading_view(self, request, object_id):
        """Stop entries, exit all or resume, with a note: the service checks who may."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        bot = get_object_or_404(Bot, pk=object_id)
        mode, note = request.POST.get("mode", ""), request.POST.get("note", "")
        try:
            bot = set_trading_mode(bot, mode, by=request.user, note=note)
        except ValidationError as exc:
            self._refused(request, exc)
        else:
            self.message_user(
                request,
                f"Trading mode of {bot}: {bot.get_trading_mode_display().lower()}.",
                messages.SUCCESS,
            )
        return self._back(request, bot)

    def breaker_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        bot = get_object_or_404(Bot, pk=object_id)
        try:
            bot = set_circuit_breaker(
                bot,
                request.POST.get("breaker_pct", ""),
                by=request.user,
                note=request.POST.get("note", ""),
            )
        except ValidationError as exc:
            self._refused(request, exc)
        else:
            self.message_user(
                request, f"{bot}: circuit breaker at {bot.breaker_pct}% today.", messages.SUCCESS
            )
        return self._back(request, bot)

    def stop_fleet_view(self, request):
        """A Team lead stops the entries of every live bot at once, with one note."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            stopped = stop_fleet_entries(by=request.user, note=request.POST.get("note", ""))
        except ValidationError as exc:
            self._refused(request, exc)
        else:
            names = ", ".join(bot.slug for bot in stopped) or "none was trading"
            self.message_user(
                request, f"Stopped entries on {len(stopped)} bot(s): {names}.", messages.SUCCESS
            )
        return self._back(request)

    def get_readonly_fields(self, request, obj=None):
        # A shadow is one from its creation on: its trades name the live bot's releases.
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "shadow_of"] if obj is not None else fields

    @admin.display(description="Shadow relation")
    def shadow_relation(self, bot):
        if bot.pk is None:
            return "-"
        if bot.shadow_of_id:
            live = bot.shadow_of
            return format_html(
                'Shadow of <a href="{}">{}</a>: dry-run, runs its releases (the baseline while '
                "an experiment runs on it); never counted as money.",
                reverse("admin:tradeops_bot_change", args=[live.pk]),
                live.slug,
            )
        shadow = getattr(bot, "shadow", None)
        if shadow is None:
            return "Live bot, no shadow."
        return format_html(
            'Live bot; its shadow is <a href="{}">{}</a> (dry-run, the concurrent control of its '
            "experiments).",
            reverse("admin:tradeops_bot_change", args=[shadow.pk]),
            shadow.slug,
        )

    def save_model(self, request, obj, form, change):
        if change or obj.shadow_of_id is None:
            return super().save_model(request, obj, form, change)
        obj.exchange = obj.exchange or obj.shadow_of.exchange
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            shadow_created(obj, by=request.user)

    @admin.action(description="Issue a new API token (shown once)", permissions=["add_token"])
    def issue_token(self, request, queryset):
        """The tokens go in this page only: a message would carry them in a signed (readable)
        cookie or the session."""
        issued = [
            (bot, issue_api_token(bot, label=f"admin:{request.user}", created_by=request.user))
            for bot in queryset
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "New API tokens",
            "issued": issued,
        }
        response = TemplateResponse(request, "admin/tradeops/issued_tokens.html", context)
        add_never_cache_headers(response)
        return response

    def has_add_token_permission(self, request):
        return request.user.has_perm(ISSUE_TOKENS)


def queue_dashboard_refused(request):
    """403 in the admin's own page (its navigation, its favicon), saying who may open it."""
    context = {
        **admin.site.each_context(request),
        "title": "Queue dashboard",
        "who_may": "The queue dashboard is for superusers and users granted django_rq.admin: "
        "it empties queues and deletes or requeues jobs outside every service and audit "
        "trail, so no role has it. The jobs' outcomes are under Job runs.",
    }
    return TemplateResponse(request, "admin/403.html", context, status=403)


class QueueDashboardAdmin(QueueAdmin):
    """django-rq's queue dashboard empties queues and deletes or requeues jobs outside every
    service and audit trail, so it is for superusers and users granted `django_rq.admin` (no
    role has it). Its views only ask for staff: every one of its URLs checks the grant first."""

    def may_drive(self, request):
        return request.user.has_perm(QUEUE_DASHBOARD)

    def has_module_permission(self, request):
        return self.may_drive(request)

    def has_view_permission(self, request, obj=None):
        return self.may_drive(request)

    def has_change_permission(self, request, obj=None):
        return self.may_drive(request)

    def get_urls(self):
        return [
            URLPattern(url.pattern, self._guard(url.callback), url.default_args, url.name)
            for url in super().get_urls()
        ]

    def _guard(self, view):
        # django-rq's own templates carry inline scripts; only on these superuser pages.
        @csp_update({"script-src": ["'unsafe-inline'"]})
        @wraps(view)
        def guarded(request, *args, **kwargs):
            # Anonymous requests go on: to the login page, or to the stats' own token check.
            if request.user.is_authenticated and not self.may_drive(request):
                return queue_dashboard_refused(request)
            return view(request, *args, **kwargs)

        return guarded


admin.site.register(Dashboard, QueueDashboardAdmin)


@admin.site.admin_view
def queue_app_index(request):
    """The dashboard's app page (/admin/django_rq/): refused (403) like its other pages, where the
    admin would answer a user who may not see the app "not found"."""
    if not request.user.has_perm(QUEUE_DASHBOARD):
        return queue_dashboard_refused(request)
    return admin.site.app_index(request, "django_rq")


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = [
        "prefix",
        "bot",
        "label",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["bot", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "label", "bot__slug"]
    exclude = ["token_hash"]
    actions = ["revoke"]

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = revoke_api_tokens(queryset, revoked_by=request.user)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)

    def has_revoke_permission(self, request):
        return request.user.has_perm(REVOKE_TOKENS)


@admin.register(ParamSpec)
class ParamSpecAdmin(admin.ModelAdmin):
    list_display = ["key", "category", "value_type", "min_value", "max_value"]
    list_filter = ["category", "value_type"]
    search_fields = ["key", "description"]


# Listed and sortable: `sortable_by` matches list_display's entries, here the column itself.
TRADE_NET_PNL = decimal_column("net_pnl", "net P&L", money)
TRADE_OPENED = moment_column("opened_at", "opened")
FILL_AT = moment_column("ts", "at")
QUARANTINE_LAST_SEEN = moment_column("last_seen_at", "last seen")


@admin.register(Trade)
class TradeAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = [
        "external_id",
        "bot",
        "symbol",
        "side",
        TRADE_OPENED,
        moment_column("closed_at", "closed", empty="open"),
        decimal_column("entry_price", "entry"),
        decimal_column("exit_price", "exit"),
        TRADE_NET_PNL,
        "exit_reason",
        release_column("release", "release"),
    ]
    list_filter = [
        "bot",
        "status",
        "side",
        ExitReasonFilter,
        ("release", ReleaseFilter),
        date_filter("opened_at"),
        date_filter("closed_at"),
    ]
    # An exact trade id, or the start of a symbol: both read an index (migration 0014).
    search_fields = ["external_id__exact", "^symbol"]
    search_help_text = "A trade's exact id, or the start of a symbol."
    # The columns with an index to sort by; the others would sort the whole history.
    sortable_by = [TRADE_OPENED, TRADE_NET_PNL]
    list_select_related = ["bot", "release__bot"]


@admin.register(Fill)
class FillAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = [
        "external_id",
        "bot",
        "trade_id",
        FILL_AT,
        "side",
        decimal_column("price"),
        decimal_column("qty"),
        decimal_column("fee"),
        "liquidity",
    ]
    list_filter = [
        "bot",
        "side",
        "liquidity",
        ("trade", admin.EmptyFieldListFilter),
        date_filter("ts"),
    ]
    search_fields = ["external_id__exact", "trade_external_id__exact"]
    search_help_text = "A fill's or its trade's exact id."
    sortable_by = [FILL_AT]
    list_select_related = ["bot"]

    @admin.display(description="trade")
    def trade_id(self, fill):
        return fill.trade_external_id


@admin.register(DecisionCount)
class DecisionCountAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = ["day", "bot", "symbol", "outcome", "reason", "count"]
    list_filter = ["bot", "outcome", date_filter("day")]
    search_fields = ["symbol__exact", "reason__exact"]
    search_help_text = "An exact symbol or rejection reason."
    sortable_by = ["day"]
    list_select_related = ["bot"]


@admin.register(HealthEvent)
class HealthEventAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = ["ts", "bot", "kind", "state", "detail"]
    list_filter = ["bot", "kind", "state", date_filter("ts")]
    search_fields = ["detail"]
    sortable_by = ["ts"]
    list_select_related = ["bot"]


@admin.register(EquitySnapshot)
class EquitySnapshotAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = ["ts", "bot", decimal_column("equity", formatter=money)]
    list_filter = ["bot", date_filter("ts")]
    sortable_by = ["ts"]
    list_select_related = ["bot"]


@admin.register(QuarantinedRecord)
class QuarantinedRecordAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = [
        QUARANTINE_LAST_SEEN,
        "bot",
        "kind",
        "reason",
        "external_id",
        "error_summary",
        "seen",
        moment_column("first_seen_at", "first seen"),
    ]
    list_filter = ["bot", "kind", "reason", date_filter("last_seen_at")]
    search_fields = ["external_id__exact"]
    search_help_text = "A record's exact id as the bot sent it."
    sortable_by = [QUARANTINE_LAST_SEEN]
    list_select_related = ["bot"]
    exclude = ["raw", "errors"]
    readonly_fields = ["errors_display", "payload_display"]

    @admin.display(description="seen")
    def seen(self, record):
        return f"{record.times_seen}×"

    @admin.display(description="errors")
    def error_summary(self, obj):
        return "; ".join(f"{name}: {message}" for name, message in obj.errors.items())

    @admin.display(description="errors")
    def errors_display(self, obj):
        return pretty_json(obj.errors)

    @admin.display(description="payload as received")
    def payload_display(self, obj):
        try:
            return pretty_json(json.loads(obj.raw))
        except ValueError:
            return format_html("<pre>{}</pre>", obj.raw)


@admin.register(IngestBatch)
class IngestBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "received_at",
        "bot",
        "kind",
        "source",
        "records",
        "accepted",
        "updated",
        "unchanged",
        "quarantined",
    ]
    list_filter = ["bot", "kind"]
    search_fields = ["source"]
    date_hierarchy = "received_at"
    list_select_related = ["bot"]


@admin.register(ReleaseChange)
class ReleaseChangeAdmin(ReadOnlyAdmin):
    """Each change of what a bot runs and why, as GET /api/v1/config tells the bot."""

    list_display = ["at", "bot", "release", "reason", "reference", "by"]
    list_filter = ["bot", "reason"]
    list_select_related = ["bot", "release__bot"]


@admin.register(JobRun)
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


@admin.register(AuditEvent)
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
