"""The experiment's moves as admin actions: each transition asks for a note (the service audits
it), the rollback triggers are evaluated and the scorecard recomputed on demand. Every button
calls the same service the commands and jobs call; ExperimentAdmin (options) takes them as a
mixin."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from experiments import services
from experiments.admin.forms import DecisionForm
from experiments.admin.helpers import approval_html, keep_evidence_html, stored_scorecard_html
from experiments.lifecycle import move_refusal
from experiments.rules import pending_prerequisite
from experiments.triggers import evaluate_rollback_triggers
from tradeops.admin_actions import note_action
from tradeops.roles import APPROVE_EXPERIMENT, OPERATE_EXPERIMENT
from tradeops.scheduling import enqueue

# Admin action name for each service transition, with its button label (one button may make
# more than one move: "Log decision" logs a keep or decides).
TRANSITION_ACTIONS = {
    "submit": ("submit", "Submit for approval"),
    "approve": ("approve", "Approve"),
    "start": ("start", "Start"),
    "review": ("send_to_review", "Send to review"),
    "decide": ("decide", "Log decision"),
    "keep": ("decide", "Log decision"),
    "confirm keep": ("confirm_keep", "Confirm keep"),
    "roll back keep": ("roll_back_keep", "Roll back instead"),
    "withdraw": ("withdraw", "Withdraw"),
}


def refused_move(name):
    """The note page's check before the note: why `name` would be refused now (the lifecycle's
    own rules, as the service checks them), or None."""
    return lambda experiment, user: move_refusal(experiment, name, user)


def approved_message(experiment):
    """What an approval means for when it runs, in the team's words ("Experiment B approved;
    it starts after A is decided")."""
    experiment.refresh_from_db()
    pending = pending_prerequisite(experiment)
    if pending is not None:
        return f"{experiment.name} approved; it starts after {pending.name} is decided"
    return f"{experiment.name} approved; an Operator may start it now"


class ExperimentActions:
    """The moves named in ExperimentAdmin.actions, and the permissions they ask (operate,
    approve)."""

    @note_action("Submit for approval", "operate", check=refused_move("submit"))
    def submit(self, request, experiment, note):
        services.submit(experiment, by=request.user, note=note)

    @note_action(
        "Approve (Team lead, not the submitter)",
        "approve",
        details=approval_html,
        check=refused_move("approve"),
        done=lambda experiment, result: approved_message(experiment),
    )
    def approve(self, request, experiment, note):
        services.approve(experiment, by=request.user, note=note)

    @note_action(
        "Start (the candidate goes live)",
        "operate",
        check=refused_move("start"),
        done=lambda experiment, result: (
            f"{experiment.name} started: {experiment.bot.slug} now runs "
            f"{experiment.candidate_release.tag}"
        ),
    )
    def start(self, request, experiment, note):
        services.start(experiment, by=request.user, note=note)

    @note_action("Send to review", "operate", check=refused_move("review"))
    def send_to_review(self, request, experiment, note):
        services.send_to_review(experiment, by=request.user, note=note)

    @note_action(
        "Log decision (keep / rollback / iterate)",
        "operate",
        form_class=DecisionForm,
        details=stored_scorecard_html,
    )
    def decide(self, request, experiment, note, decision, without_better):
        _, draft = services.decide(
            experiment,
            decision=decision,
            by=request.user,
            rationale=note,
            without_better=without_better,
        )
        if draft is not None:
            url = reverse("admin:experiments_experiment_change", args=[draft.pk])
            self.message_user(
                request, format_html('New draft: <a href="{}">{}</a>', url, draft), messages.INFO
            )

    @note_action(
        "Confirm keep (Team lead, not who logged it): the candidate becomes the baseline",
        "approve",
        details=keep_evidence_html,
        check=refused_move("confirm keep"),
        done=lambda experiment, result: (
            f"{experiment.name} kept: {experiment.candidate_release.tag} is "
            f"{experiment.bot.slug}'s baseline"
        ),
    )
    def confirm_keep(self, request, experiment, note):
        services.confirm_keep(experiment, by=request.user, note=note)

    @note_action(
        "Roll back instead of the keep (Team lead): the baseline runs again",
        "approve",
        details=stored_scorecard_html,
        check=refused_move("roll back keep"),
    )
    def roll_back_keep(self, request, experiment, note):
        services.decide(experiment, decision="rollback", by=request.user, rationale=note)

    @note_action("Withdraw (before it runs)", "operate", check=refused_move("withdraw"))
    def withdraw(self, request, experiment, note):
        services.withdraw(experiment, by=request.user, note=note)

    @admin.action(description="Evaluate rollback triggers now", permissions=["operate"])
    def evaluate_triggers(self, request, queryset):
        for experiment in queryset:
            fired = evaluate_rollback_triggers(experiment)
            if fired:
                summary = "; ".join(f["summary"] for f in fired)
                self.message_user(request, f"{experiment}: STOPPED: {summary}", messages.ERROR)
            else:
                self.message_user(request, f"{experiment}: no trigger fired", messages.SUCCESS)

    @admin.action(
        description="Recompute the scorecard (in the background)", permissions=["operate"]
    )
    def refresh_scorecard(self, request, queryset):
        # One job refreshes every running experiment: the page never computes it.
        enqueue(services.REFRESH_SCORECARDS_JOB)
        self.message_user(
            request,
            "The scorecard is being recomputed: reload the page in a minute.",
            messages.SUCCESS,
        )
        # From the experiment's own button: back to the experiment, not to the list.
        if len(request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)) == 1:
            experiment = queryset.get()
            return HttpResponseRedirect(
                reverse("admin:experiments_experiment_change", args=[experiment.pk])
            )
        return None

    def has_operate_permission(self, request):
        return request.user.has_perm(OPERATE_EXPERIMENT)

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE_EXPERIMENT)
