"""The forms of the experiment admin: a decision, an experiment's fields, a draft from the plan."""

import json

from django import forms
from django.core.exceptions import ValidationError

from experiments import plan
from experiments.models import Experiment
from tradeops.admin_actions import NoteForm
from tradeops.models import Bot


class DecisionForm(NoteForm):
    decision = forms.ChoiceField(
        choices=Experiment.Decision.choices,
        widget=forms.RadioSelect,
        help_text="Keep (needs the horizon): the candidate becomes the baseline once a Team lead "
        "other than you confirms it; it runs meanwhile. Rollback: the baseline runs again, at "
        "once. Iterate: the same, and a new draft starts from this one.",
    )
    without_better = forms.BooleanField(
        label="Keep without a 'better' verdict",
        required=False,
        help_text="A keep rests on the scorecard's concurrent 'better' verdict. If it says "
        "anything else, tick this to say you keep all the same; the Team lead who confirms the "
        "keep sees it, and the audit keeps it.",
    )
    field_order = ["decision", "without_better", "note"]


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = [
            "bot",
            "name",
            "lever",
            "candidate_release",
            "prerequisite",
            "min_horizon_days",
            "rationale",
            "success_criteria",
            "primary_kpis",
            "secondary_kpis",
        ]


class PlanDraftForm(forms.Form):
    bot = forms.ModelChoiceField(Bot.objects.filter(is_active=True))
    experiment = forms.ChoiceField(choices=[(key, t.name) for key, t in plan.PLAN.items()])
    lever = forms.ChoiceField(
        choices=sorted({(lever, lever) for t in plan.PLAN.values() for lever in t.levers})
    )
    value = forms.CharField(
        help_text="The lever's new value as JSON: a whole number bare (20), a decimal quoted "
        '("0.3"), as its ParamSpec says.'
    )
    tag = forms.CharField(max_length=100, help_text="The candidate release's git tag.")

    def clean_value(self):
        try:
            return json.loads(self.cleaned_data["value"])
        except ValueError:
            raise ValidationError('not JSON: write 20 or "0.3"') from None
