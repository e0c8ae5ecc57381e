"""Risk scaling steps in the admin: proposed with their evidence (the service judges it once;
its refusal shows on the form), approved by a Team lead who did not propose them, rolled back
by a person or a trigger."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html_join

from experiments import scaling
from experiments.admin.history import WatchedChangeMixin
from experiments.models import ScalingStep
from tradeops.admin_actions import ServiceFormMixin, note_action
from tradeops.admin_links import LinksTheViewerMayOpen
from tradeops.models import ParamSpec
from tradeops.roles import APPROVE_SCALING, ROLL_BACK_SCALING


class ScalingProposalForm(forms.ModelForm):
    refusal_field = "param"  # a refusal keyed by the param (its raised value out of bounds)

    param = forms.ModelChoiceField(
        ParamSpec.objects.filter(category=ParamSpec.Category.RISK), to_field_name="key"
    )
    step_pct = forms.DecimalField(
        decimal_places=2, initial=10, help_text="+10% to +20% of the current value."
    )
    tag = forms.CharField(max_length=100, help_text="The raised release's git tag.")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    class Meta:
        model = ScalingStep
        fields = ["bot"]


class ScalingStepAdmin(
    LinksTheViewerMayOpen, ServiceFormMixin, WatchedChangeMixin, admin.ModelAdmin
):
    list_display = [
        "bot",
        "param",
        "step_pct",
        "status",
        "from_release",
        "to_release",
        "proposed_by",
        "approved_by",
        "started_at",
        "hold_until",
    ]
    list_filter = ["bot", "status", "param"]
    list_select_related = ["bot", "from_release", "to_release", "proposed_by", "approved_by"]
    form = ScalingProposalForm
    readonly_fields = [
        "bot",
        "param",
        "step_pct",
        "status",
        "from_release",
        "to_release",
        "proposed_by",
        "proposed_at",
        "approved_by",
        "started_at",
        "hold_until",
        "ended_at",
        "evidence_display",
        "triggers_display",
        "trigger_evidence_display",
        "history",
    ]
    actions = ["approve", "roll_back"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return (
            self.readonly_fields if obj is not None else ["bot", "param", "step_pct", "tag", "note"]
        )

    def create(self, request, form):
        data = form.cleaned_data
        return scaling.propose_scaling_step(
            bot=data["bot"],
            param=data["param"].key,
            step_pct=data["step_pct"],
            tag=data["tag"],
            note=data["note"],
            by=request.user,
        )

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="evidence (why it was allowed)")
    def evidence_display(self, obj):
        return format_html_join(
            "",
            "<div>{} {}</div>",
            (("✔" if c["passed"] else "✘", c["check"]) for c in obj.evidence.get("checks", [])),
        )

    @note_action("Approve (Team lead, not the proposer): the raised release goes live", "approve")
    def approve(self, request, step, note):
        scaling.approve_scaling_step(step, by=request.user, note=note)

    @note_action("Roll back to the release before the step", "roll_back")
    def roll_back(self, request, step, note):
        scaling.roll_back_scaling_step(step, by=request.user, note=note)

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE_SCALING)

    def has_roll_back_permission(self, request):
        return request.user.has_perm(ROLL_BACK_SCALING)
