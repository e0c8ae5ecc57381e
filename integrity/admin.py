from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path as url_path
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from integrity.admin_runbook import cleanup_runbook_view
from integrity.admin_words import detail_in_words, reason_shown
from integrity.alerts import (
    CRITICAL_PATHS,
    confirm_test_alert,
    send_test_alerts,
    test_alert_confirmed_by,
)
from integrity.cleanup import CleanupRefused, apply_cleanup, plan_cleanup, restore_cleanup
from integrity.loop import LOOP_KINDS, drift
from integrity.models import (
    AlertChannel,
    AlertDelivery,
    CleanupPlan,
    IntegrityCheckRun,
    IntegrityIncident,
)
from integrity.selectors import integrity_gates, with_confirmations
from integrity.services import (
    acknowledge_incident,
    acknowledge_refusal,
    acknowledgement,
    resolve_incident,
    run_all_integrity_checks,
)
from tradeops.admin import bots as core_admin
from tradeops.admin.helpers import pretty_json
from tradeops.admin.options import ReadOnlyAdmin
from tradeops.admin_actions import note_action
from tradeops.models import BotPulse, Fill, Trade
from tradeops.roles import APPLY_CLEANUP, CHANGE_ALERT_CHANNELS, HANDLE_INCIDENTS, PLAN_CLEANUP


def attempts_table(row):
    """Every attempt of a delivery (an alert or a push): when, response, error, how long."""
    if not row.attempt_log:
        return "no attempt yet"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
        (
            (entry["at"], entry["response_code"] or "-", entry["duration_ms"], entry["error"])
            for entry in row.attempt_log
        ),
    )
    return format_html(
        "<table><tr><th>at</th><th>response</th><th>took</th><th>error</th></tr>{}</table>", rows
    )


def drift_in_words(bot, now, incidents):
    """The bot's config drift as the watch sees it (integrity.loop.drift), with its state: in its
    grace (when the incident opens), or an incident (linked below), or due at the watch's next
    run."""
    found = drift(bot)
    if found is None:
        return None
    said = (
        f"drift: reports {found.running}, should run {found.expected} "
        f"since {found.since:%Y-%m-%d %H:%M} UTC"
    )
    if not found.is_incident(now):
        return f"{said}; an incident opens after {found.incident_after:%H:%M} UTC if it persists"
    if any(incident.kind == IntegrityIncident.Kind.CONFIG_DRIFT for incident in incidents):
        return f"{said}; past its grace: incident open"
    return (
        f"{said}; past its grace since {found.incident_after:%H:%M} UTC: the watch opens an "
        "incident at its next run"
    )


# The core's BotAdmin with the integrity gate and the integrity actions (the core admin knows
# nothing of integrity). Not registered here: experiments.admin registers the Bot once, with
# this and the release push (experiments.admin.release_push.BotAdmin).
class BotAdmin(core_admin.BotAdmin):
    list_display = ["slug", "name", "exchange", "is_active", "integrity_gate", "created_at"]
    actions = [*core_admin.BotAdmin.actions, "run_integrity_checks", "cleanup_dry_run"]
    readonly_fields = [*core_admin.BotAdmin.readonly_fields, "heartbeat", "loop_incidents"]

    @admin.display(description="last heartbeat")
    def heartbeat(self, bot):
        pulse = BotPulse.objects.filter(bot=bot).first()
        if pulse is None:
            return "never"
        return (
            f"{pulse.last_heartbeat_at:%Y-%m-%d %H:%M:%S} UTC, runs {pulse.running_release} "
            f"since {pulse.running_since:%Y-%m-%d %H:%M} UTC"
        )

    @admin.display(description="config drift / silent")
    def loop_incidents(self, bot):
        incidents = list(
            IntegrityIncident.objects.filter(bot=bot, kind__in=LOOP_KINDS).exclude(
                status=IntegrityIncident.Status.RESOLVED
            )
        )
        links = [
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:integrity_integrityincident_change", args=[incident.pk]),
                incident.title,
            )
            for incident in incidents
        ]
        drifting = drift_in_words(bot, timezone.now(), incidents)
        lines = [*([drifting] if drifting else []), *links]
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)) or "none"

    @admin.action(description="Cleanup dry run (plan, changes nothing)", permissions=["plan"])
    def cleanup_dry_run(self, request, queryset):
        for bot in queryset:
            plan = plan_cleanup(bot, by=f"admin:{request.user}")
            url = reverse("admin:integrity_cleanupplan_change", args=[plan.pk])
            self.message_user(
                request,
                format_html(
                    '{}: <a href="{}">plan {}</a> with {} row(s)', bot, url, plan.pk, len(plan.rows)
                ),
                messages.SUCCESS,
            )

    def has_plan_permission(self, request):
        return request.user.has_perm(PLAN_CLEANUP)

    def get_changelist_instance(self, request):
        # The gate column's reads, done once for the page's bots rather than once per row.
        changelist = super().get_changelist_instance(request)
        gates = integrity_gates(changelist.result_list)
        for bot in changelist.result_list:
            bot.gate = gates[bot.pk]
        return changelist

    @admin.display(description="integrity gate (plan section 2)")
    def integrity_gate(self, bot):
        return str(bot.gate)

    @admin.action(description="Run integrity checks now", permissions=["run_checks"])
    def run_integrity_checks(self, request, queryset):
        runs = run_all_integrity_checks(triggered_by=f"admin:{request.user}", bots=queryset)
        for run in runs:
            level = messages.WARNING if run.violations else messages.SUCCESS
            self.message_user(request, f"{run.bot}: {run.violations} violation(s)", level)

    def has_run_checks_permission(self, request):
        return request.user.has_perm(HANDLE_INCIDENTS)


def path_tested_column(path):
    """When a test alert down `path` was last confirmed as received on this channel, or that one
    sent is still waiting for its confirmation (see with_confirmations)."""

    @admin.display(description=f"confirmed: {path.label}")
    def column(channel):
        confirmed, sent = getattr(channel, f"confirmed_{path}"), getattr(channel, f"sent_{path}")
        if confirmed:
            return f"{confirmed:%Y-%m-%d %H:%M} UTC"
        return f"not confirmed (sent {sent:%Y-%m-%d %H:%M} UTC)" if sent else "never"

    return column


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


@admin.register(AlertChannel)
class AlertChannelAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "masked_target",
        "bot",
        "min_severity",
        "repeat_minutes",
        "is_active",
        *[path_tested_column(path) for path in CRITICAL_PATHS],
    ]
    list_filter = ["kind", "is_active", "bot"]
    search_fields = ["name"]
    actions = ["send_test_alert"]

    def get_queryset(self, request):
        return with_confirmations(super().get_queryset(request))

    # Who may change a channel (a Team lead) sees its full target in the form; everyone else
    # sees it masked. Lists show it masked to all.
    def sees_secrets(self, request):
        return request.user.has_perm(CHANGE_ALERT_CHANNELS)

    def get_exclude(self, request, obj=None):
        return [] if self.sees_secrets(request) else ["target"]

    def get_readonly_fields(self, request, obj=None):
        return [] if self.sees_secrets(request) else ["masked_target"]

    @admin.display(description="target")
    def masked_target(self, channel):
        return channel.masked_target

    @admin.action(description="Send test alert (each critical path)", permissions=["test"])
    def send_test_alert(self, request, queryset):
        for channel in queryset:
            try:
                results = send_test_alerts(channel, user=request.user)
            except ValueError as exc:
                self.message_user(request, f"{exc}: no test sent.", messages.ERROR)
                continue
            failed = [d for d in results if d.status != AlertDelivery.Status.SENT]
            if failed:
                self.message_user(
                    request,
                    f"{channel}: {len(failed)} of {len(results)} test alerts failed "
                    f"(will retry): {failed[0].error[:200]}",
                    messages.ERROR,
                )
            elif all(d.confirmed_at for d in results):
                self.message_user(
                    request,
                    f"{channel}: {len(results)} test alerts delivered, confirmed by the "
                    "receiver's answer.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    f"{channel}: {len(results)} test alerts sent. Each path counts as tested once "
                    "its recipient opens the confirmation link in the message.",
                    messages.SUCCESS,
                )

    def has_test_permission(self, request):
        return request.user.has_perm(HANDLE_INCIDENTS)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "channel",
        "event",
        "path",
        "incident",
        "status",
        "attempts",
        "response_code",
        "sent_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "event", "path", "channel"]
    search_fields = ["title", "error"]
    date_hierarchy = "created_at"
    list_select_related = ["channel", "incident__bot"]
    exclude = ["attempt_log"]

    # Where it went, as the channel's page shows it: in full to who may change channels (a Team
    # lead), masked to everyone else.
    def get_readonly_fields(self, request, obj=None):
        target = "target" if request.user.has_perm(CHANGE_ALERT_CHANNELS) else "masked_target"
        return [target, "attempts_display"]

    @admin.display(description="sent to")
    def target(self, delivery):
        return delivery.channel.target

    @admin.display(description="sent to")
    def masked_target(self, delivery):
        return delivery.channel.masked_target

    @admin.display(description="attempts")
    def attempts_display(self, delivery):
        return attempts_table(delivery)

    def get_urls(self):
        confirm = self.admin_site.admin_view(self.confirm_view)
        return [
            url_path("confirm/<str:token>/", confirm, name="integrity_alertdelivery_confirm"),
            *super().get_urls(),
        ]

    def confirm_view(self, request, token):
        """The link in a test alert. Opening it (GET) only shows the alert and a button: mail
        scanners that open links confirm nothing. The button (POST) records who and when."""
        try:
            alert = test_alert_confirmed_by(token)
        except ValueError as exc:
            alert, problem = None, str(exc)
        else:
            problem = ""
            if request.method == "POST" and not confirm_test_alert(alert, by=request.user):
                problem = "This test alert was already confirmed; nothing more was recorded."
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Confirm a test alert arrived",
            "alert": alert,
            "problem": problem,
            "confirmed_now": request.method == "POST" and not problem,
        }
        response = TemplateResponse(request, "admin/integrity/alertdelivery/confirm.html", context)
        add_never_cache_headers(response)
        return response


def plan_rows_html(plan):
    """A plan's rows as a table: each trade, what happens to it and why."""
    currency = plan.bot.quote_currency
    rows = [
        {**row, "reasons": [reason_shown(reason, currency) for reason in row["reasons"]]}
        for row in plan.rows
    ]
    return render_to_string("admin/integrity/cleanupplan/rows.html", {"rows": rows})


# What each step of the SOP does, as its confirmation page says it: (title, what, button).
CLEANUP_STEPS = {
    "apply_plan": (
        "Apply cleanup plans",
        "moves each trade below, whole with its fills, into quarantine (a full copy of every "
        "row is kept there, and Restore puts them back with their ids). It refuses, applying "
        "nothing, if any row changed since the dry run.",
        "Yes, move them to quarantine",
    ),
    "restore_plan": (
        "Restore cleanup plans",
        "puts each trade below back, with its fills and its original ids, and takes them out of "
        "quarantine.",
        "Yes, put them back",
    ),
}


@admin.register(CleanupPlan)
class CleanupPlanAdmin(ReadOnlyAdmin):
    list_display = ["pk", "bot", "status", "row_count", "planned_at", "planned_by", "applied_by"]
    list_filter = ["status", "bot"]
    date_hierarchy = "planned_at"
    exclude = ["rows"]
    readonly_fields = ["rows_display"]
    actions = ["apply_plan", "restore_plan"]
    change_form_template = "admin/integrity/cleanupplan/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        plan = self.get_object(request, object_id)
        steps = {
            CleanupPlan.Status.PLANNED: "apply_plan",
            CleanupPlan.Status.APPLIED: "restore_plan",
        }
        step = steps.get(plan.status) if plan and self.has_apply_permission(request) else None
        buttons = [(step, "Apply…" if step == "apply_plan" else "Restore…")] if step else []
        extra_context = {**(extra_context or {}), "action_buttons": buttons}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="rows")
    def row_count(self, obj):
        return len(obj.rows)

    @admin.display(description="rows")
    def rows_display(self, obj):
        return plan_rows_html(obj)

    @admin.action(
        description="Apply selected plans (move rows to quarantine)", permissions=["apply"]
    )
    def apply_plan(self, request, queryset):
        return self._confirm_then_run(request, queryset, "apply_plan", apply_cleanup, "applied")

    @admin.action(description="Restore selected plans", permissions=["apply"])
    def restore_plan(self, request, queryset):
        return self._confirm_then_run(
            request, queryset, "restore_plan", restore_cleanup, "restored"
        )

    def _confirm_then_run(self, request, queryset, step, action, done):
        """The confirmation page first (what moves, the dry run's rows); the step on confirm."""
        if "confirm" not in request.POST:
            title, what, button = CLEANUP_STEPS[step]
            plans = list(queryset.select_related("bot"))
            trade_ids = [row["trade_id"] for plan in plans for row in plan.rows]
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                "what": what,
                "button": button,
                "action": step,
                "plans": [(plan, plan_rows_html(plan)) for plan in plans],
                "rows": len(trade_ids),
                "trades": Trade.objects.filter(pk__in=trade_ids).count(),
                "fills": Fill.objects.filter(trade_id__in=trade_ids).count(),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/integrity/cleanupplan/confirm.html", context)
        for plan in queryset:
            try:
                action(plan.pk, by=f"admin:{request.user}")
                self.message_user(request, f"Plan {plan.pk} {done}.", messages.SUCCESS)
            except CleanupRefused as exc:
                self.message_user(request, f"Refused: {exc}", messages.ERROR)
        return None

    def has_apply_permission(self, request):
        return request.user.has_perm(APPLY_CLEANUP)
