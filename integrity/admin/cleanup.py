"""Cleanup plans: their rows in words, and applying or restoring them after a confirmation page
that shows what moves."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.loader import render_to_string
from django.template.response import TemplateResponse

from integrity.admin_words import reason_shown
from integrity.cleanup import CleanupRefused, apply_cleanup, restore_cleanup
from integrity.models import CleanupPlan
from tradeops.admin.options import ReadOnlyAdmin
from tradeops.models import Fill, Trade
from tradeops.roles import APPLY_CLEANUP


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
