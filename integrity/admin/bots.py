"""The bot's page as integrity adds to it: its heartbeat, its config drift or silence, the
integrity gate, and the checks and cleanup dry run as actions."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from integrity.cleanup import plan_cleanup
from integrity.loop import LOOP_KINDS, drift
from integrity.models import IntegrityIncident
from integrity.selectors import integrity_gates
from integrity.services import run_all_integrity_checks
from tradeops.admin import bots as core_admin
from tradeops.models import BotPulse
from tradeops.roles import HANDLE_INCIDENTS, PLAN_CLEANUP


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
