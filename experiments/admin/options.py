"""The decision framework in the admin: an experiment's pages (its fields, the decision it leads
with, its moves as buttons, the plan's queue that drafts A/B/C) and its decisions. The moves
themselves are the actions module's. Registered in experiments.admin."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join

from experiments import plan, services
from experiments.admin.actions import TRANSITION_ACTIONS, ExperimentActions
from experiments.admin.forms import ExperimentForm, PlanDraftForm
from experiments.admin.helpers import decision_context, kpi_list, scorecard_html, triggers_html
from experiments.admin.history import WatchedChangeMixin
from experiments.lifecycle import blocked_moves, open_moves
from experiments.models import Experiment
from experiments.params import diff_params
from experiments.scorecard import SCORED
from tradeops.admin.options import ReadOnlyAdmin
from tradeops.admin_actions import ServiceFormMixin, refusal
from tradeops.admin_columns import moment_column, release_column
from tradeops.admin_links import LinksTheViewerMayOpen
from tradeops.models import Bot

# The JSON fields shown as readable text once the experiment is past draft.
READABLE = {"primary_kpis": "primary_kpis_display", "secondary_kpis": "secondary_kpis_display"}


class ExperimentAdmin(
    ExperimentActions, LinksTheViewerMayOpen, ServiceFormMixin, WatchedChangeMixin, admin.ModelAdmin
):
    list_display = [
        "name",
        "bot",
        "plan",
        "lever",
        "status",
        "decision",
        release_column("baseline_release", "baseline"),
        release_column("candidate_release", "candidate"),
        "queued_after",
        moment_column("started_at", "started"),
        moment_column("ended_at", "ended"),
    ]
    list_filter = ["bot", "status", "decision", "plan_key"]
    search_fields = ["name", "lever", "rationale"]
    list_select_related = ["bot", "baseline_release", "candidate_release", "prerequisite"]
    form = ExperimentForm
    change_form_template = "admin/experiments/experiment/change_form.html"
    change_list_template = "admin/experiments/experiment/change_list.html"
    status_fields = [
        "status",
        "decision",
        "baseline_release",
        "plan_key",
        "created_by",
        "submitted_by",
        "approved_by",
        "approved_at",
        "started_at",
        "keep_logged_by",
        "keep_confirmed_by",
        "keep_confirmed_at",
        "ended_at",
        "triggers_display",
        "trigger_evidence_display",
        "decisions_display",
        "history",
    ]
    actions = [
        "submit",
        "approve",
        "start",
        "send_to_review",
        "decide",
        "confirm_keep",
        "roll_back_keep",
        "withdraw",
        "evaluate_triggers",
        "refresh_scorecard",
    ]

    def get_queryset(self, request):
        # What the page leads with (decision_context) comes with the experiment, in one query.
        return (
            super()
            .get_queryset(request)
            .select_related("bot__trigger_headroom", "baseline_release", "candidate_release")
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.status == Experiment.Status.DRAFT:
            # A draft stays on the bot it was drafted for (services.edit_draft says why).
            return ["bot", "lever_change", *self.status_fields]
        return [
            *ExperimentForm.Meta.fields,
            *READABLE.values(),
            "lever_change",
            *self.status_fields,
        ]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None:  # a draft's candidate and prerequisite are offered from its bot only
            offered = {
                "candidate_release": obj.bot.releases.all(),
                "prerequisite": obj.bot.experiments.exclude(pk=obj.pk),
            }
            for name, queryset in offered.items():
                if name in form.base_fields:
                    form.base_fields[name].queryset = queryset
        return form

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ExperimentForm.Meta.fields})]
        # The lever's change on the lever's line; past draft the KPI lists read as labels.
        fields = [
            ("lever", "lever_change") if f == "lever" else f for f in ExperimentForm.Meta.fields
        ]
        if obj.status == Experiment.Status.DRAFT:
            definition = (None, {"fields": fields})
        else:  # the page leads with the decision (decision_context): the fields follow, folded
            fields = [READABLE.get(f, f) for f in fields]
            definition = ("The experiment's fields", {"fields": fields, "classes": ["collapse"]})
        audit = ("Audit and raw fields", {"fields": self.status_fields, "classes": ["collapse"]})
        return [definition, audit]

    def create(self, request, form):
        data = form.cleaned_data
        return services.create_experiment(
            bot=data["bot"],
            name=data["name"],
            lever=data["lever"],
            candidate=data["candidate_release"],
            success_criteria=data["success_criteria"],
            rationale=data["rationale"],
            prerequisite=data["prerequisite"],
            min_horizon_days=data["min_horizon_days"],
            primary_kpis=data["primary_kpis"],
            secondary_kpis=data["secondary_kpis"],
            by=request.user,
        )

    def edit(self, request, obj, form):
        return services.edit_draft(obj, by=request.user, changed=form.changed_data)

    def has_change_permission(self, request, obj=None):
        # Past draft an experiment changes only by its transitions: the page is read-only.
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.status == Experiment.Status.DRAFT)

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        experiment = self.get_object(request, object_id)
        moves = open_moves(experiment, request.user) if experiment else []
        buttons = list(dict.fromkeys(TRANSITION_ACTIONS[move] for move in moves))
        if experiment and experiment.status in SCORED and self.has_operate_permission(request):
            buttons.append(("refresh_scorecard", "Recompute scorecard"))
        # The moves this person may make from here that would be refused now: shown disabled,
        # with why, before anyone types a note ("Start" for B while A is not decided).
        offered = {label for _, label in buttons}
        blocked = blocked_moves(experiment, request.user) if experiment else []
        disabled = {
            TRANSITION_ACTIONS[move][1]: reason
            for move, reason in blocked
            if move in TRANSITION_ACTIONS and TRANSITION_ACTIONS[move][1] not in offered
        }
        extra_context = {
            **(extra_context or {}),
            "action_buttons": buttons,
            "disabled_buttons": list(disabled.items()),
        }
        if experiment is not None:  # its state in words, in the heading and the window's title
            extra_context["subtitle"] = (
                f"{experiment.bot.slug}: {experiment.name} ({experiment.get_status_display()})"
            )
            extra_context["decision"] = decision_context(experiment)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="baseline → candidate")
    def lever_change(self, obj):
        if obj.status != Experiment.Status.DRAFT:  # submitted: the one-change rule held
            return obj.lever_change()
        changed = diff_params(obj.baseline_release.params, obj.candidate_release.params)
        others = sorted(set(changed) - {obj.lever})
        if others:  # not ready yet: submitting refuses it
            return f"{obj.lever_change()}; the candidate also changes {', '.join(others)}"
        return obj.lever_change()

    @admin.display(description="rollback triggers")
    def triggers_display(self, obj):
        return triggers_html(obj.triggers, obj.bot.quote_currency)

    @admin.display(description="primary KPIs")
    def primary_kpis_display(self, obj):
        return kpi_list(obj.primary_kpis)

    @admin.display(description="secondary KPIs")
    def secondary_kpis_display(self, obj):
        return kpi_list(obj.secondary_kpis)

    @admin.display(description="plan", ordering="plan_key")
    def plan(self, obj):
        return obj.plan_key

    @admin.display(description="after")
    def queued_after(self, obj):
        prerequisite = obj.prerequisite
        return (prerequisite.plan_key or prerequisite.name) if prerequisite else ""

    @admin.display(description="decisions")
    def decisions_display(self, obj):
        return (
            format_html_join(
                "",
                # Dates formatted first: format_html_join escapes each value to text.
                "<p><strong>{}</strong> by {} at {} UTC: {}</p>",
                (
                    (d.decision, d.decided_by, f"{d.decided_at:%Y-%m-%d %H:%M}", d.rationale)
                    for d in obj.decisions.select_related("decided_by")
                ),
            )
            or "-"
        )

    def get_urls(self):
        queue = path(
            "plan/",
            self.admin_site.admin_view(self.plan_view),
            name="experiments_experiment_plan",
        )
        return [queue, *super().get_urls()]

    def plan_view(self, request):
        """The plan's queue: A, B, C with rationale and success criteria; draft one."""
        form = PlanDraftForm(request.POST or None)
        if request.method == "POST" and self.has_add_permission(request) and form.is_valid():
            data = form.cleaned_data
            try:
                experiment = plan.draft_from_plan(
                    bot=data["bot"],
                    key=data["experiment"],
                    lever=data["lever"],
                    value=data["value"],
                    tag=data["tag"],
                    by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, refusal(exc))
            else:
                self.message_user(request, f"Drafted {experiment}", messages.SUCCESS)
                url = reverse("admin:experiments_experiment_change", args=[experiment.pk])
                return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "The plan's experiment queue",
            "templates": plan.PLAN.values(),
            "queue": [
                (bot, [(key, plan.latest_of(bot, key)) for key in plan.PLAN])
                for bot in Bot.objects.filter(is_active=True)
            ],
            "form": form,
            "can_add": self.has_add_permission(request),
        }
        return TemplateResponse(request, "admin/experiments/experiment/plan.html", context)


class ExperimentDecisionAdmin(ReadOnlyAdmin):
    list_display = ["experiment", "decision", "decided_by", "decided_at", "verdict"]
    list_filter = ["decision"]
    exclude = ["scorecard"]
    readonly_fields = ["scorecard_display"]

    @admin.display(description="scorecard verdict")
    def verdict(self, obj):
        return obj.scorecard.get("verdict", "-")

    @admin.display(description="scorecard as it was at the decision")
    def scorecard_display(self, obj):
        if not obj.scorecard.get("kpis"):
            return "-"
        return scorecard_html(obj.scorecard, obj.decided_at, obj.experiment.bot.quote_currency)
