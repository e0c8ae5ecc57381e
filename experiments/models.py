import datetime
import json

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from tradeops.models import Bot, ConfigRelease

DEFAULT_PRIMARY_KPIS = ["avg_pnl_per_trade", "profit_factor"]
DEFAULT_SECONDARY_KPIS = [
    "trades_per_day",
    "win_rate",
    "avg_loss_per_trade",
    "max_drawdown_pct",
    "top_rejection_reasons",
]
MIN_HORIZON_DAYS = 5
SCALING_STEP_MIN_PCT = 10
SCALING_STEP_MAX_PCT = 20
SCALING_HOLD_DAYS = 7


class Experiment(models.Model):
    """One strategy lever tested against the baseline, under the plan's decision framework."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"
        APPROVED = "approved"
        RUNNING = "running"
        REVIEW = "review"
        # A keep logged, its Team lead's confirmation awaited: the candidate still runs.
        KEEP_PENDING = "keep_pending", "Keep awaiting confirmation"
        DECIDED = "decided"
        STOPPED = "stopped", "Stopped by rollback trigger"
        WITHDRAWN = "withdrawn"

    class Decision(models.TextChoices):
        KEEP = "keep"
        ROLLBACK = "rollback"
        ITERATE = "iterate"

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="experiments")
    name = models.CharField(max_length=200)
    rationale = models.TextField(blank=True)
    success_criteria = models.TextField()
    lever = models.CharField(max_length=100, help_text="The one strategy param this changes.")
    baseline_release = models.ForeignKey(
        ConfigRelease, on_delete=models.PROTECT, related_name="baseline_of_experiments"
    )
    candidate_release = models.ForeignKey(
        ConfigRelease, on_delete=models.PROTECT, related_name="candidate_of_experiments"
    )
    prerequisite = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dependents",
        help_text="Must be decided before this one starts (B is post-A).",
    )
    plan_key = models.CharField(
        max_length=1, blank=True, help_text="The plan's queue entry this runs (A, B or C)."
    )
    iterated_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="iterations"
    )
    min_horizon_days = models.PositiveSmallIntegerField(default=MIN_HORIZON_DAYS)
    primary_kpis = models.JSONField(default=list)
    secondary_kpis = models.JSONField(default=list)
    triggers = models.JSONField(
        default=dict, blank=True, help_text="Rollback trigger thresholds, frozen at approval."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # A keep raises exposure for good: one person logs it, a Team lead other than them confirms.
    keep_logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    keep_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    keep_confirmed_at = models.DateTimeField(null=True, blank=True)
    trigger_evidence = models.JSONField(default=dict, blank=True)
    scorecard = models.JSONField(
        default=dict, blank=True, help_text="Baseline vs test, as the refresh job last computed."
    )
    scorecard_computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["bot", "created_at"]
        permissions = [("approve_experiment", "Can approve experiments")]
        constraints = [
            # Two people clicking "start" at once: the database lets exactly one through. Live is
            # every state in which the bot runs the candidate (LIVE).
            models.UniqueConstraint(
                fields=["bot"],
                condition=Q(status__in=["running", "review", "keep_pending"]),
                name="one_live_experiment_per_bot",
            ),
            models.CheckConstraint(
                condition=Q(min_horizon_days__gte=MIN_HORIZON_DAYS),
                name="experiment_horizon_at_least_5_days",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | Q(submitted_by__isnull=True)
                | ~Q(approved_by=F("submitted_by")),
                name="experiment_four_eyes",
            ),
            models.CheckConstraint(
                condition=~Q(baseline_release=F("candidate_release")),
                name="experiment_candidate_differs",
            ),
            models.CheckConstraint(
                condition=Q(keep_confirmed_by__isnull=True)
                | ~Q(keep_confirmed_by=F("keep_logged_by")),
                name="experiment_keep_four_eyes",
            ),
            models.CheckConstraint(
                condition=~Q(status="keep_pending") | Q(keep_logged_by__isnull=False),
                name="experiment_pending_keep_was_logged",
            ),
        ]

    def __str__(self):
        return f"{self.bot.slug}: {self.name} ({self.status})"

    @property
    def tested_release(self):
        """The release the rollback triggers watch."""
        return self.candidate_release

    @property
    def is_live(self):
        """The bot runs the candidate: the rollback triggers watch it."""
        return self.status in LIVE

    @property
    def keep_allowed_from(self):
        """When the minimum horizon has run: a keep may be logged from then (None before the
        start)."""
        if self.started_at is None:
            return None
        return self.started_at + datetime.timedelta(days=self.min_horizon_days)

    def lever_change(self):
        """The lever in the baseline and in the candidate: "fib_proximity_bps: 18 → 15"."""
        before, after = (
            release.params.get(self.lever)
            for release in (self.baseline_release, self.candidate_release)
        )
        return f"{self.lever}: {_spelled(before)} → {_spelled(after)}"

    def shown_scorecard(self):
        """(scorecard, when it was computed): the one stored with the latest decision once
        decided, else the one the refresh job stored; (None, None) before its first run."""
        decision = self.decisions.first()
        if decision is not None:
            return decision.scorecard, decision.decided_at
        return self.scorecard or None, self.scorecard_computed_at


# The states in which the bot runs the candidate: from the start until the decision takes
# effect (a rollback, an iteration or a confirmed keep) or a trigger stops it.
LIVE = (Experiment.Status.RUNNING, Experiment.Status.REVIEW, Experiment.Status.KEEP_PENDING)


def _spelled(value):
    """A param value as the team writes it: 0.3, 18, true; (absent) for a missing key."""
    if value is None:
        return "(absent)"
    return value if isinstance(value, str) else json.dumps(value)


class ExperimentDecision(models.Model):
    """The logged keep / rollback / iterate decision, with the scorecard as it was."""

    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(max_length=10, choices=Experiment.Decision.choices)
    rationale = models.TextField()
    scorecard = models.JSONField(default=dict)
    kept_without_better = models.BooleanField(
        default=False,
        help_text="A keep logged although the scorecard's verdict was not a concurrent "
        '"better": the one who logged it said so explicitly.',
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-decided_at"]

    def __str__(self):
        return f"{self.experiment.name}: {self.decision}"


class ScalingStep(models.Model):
    """Raising one risk param by 10-20% (plan section 5), held at least 7 days."""

    class Status(models.TextChoices):
        PROPOSED = "proposed"
        HOLDING = "holding", "Active (holding)"
        COMPLETED = "completed"
        ROLLED_BACK = "rolled_back", "Rolled back"

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="scaling_steps")
    param = models.CharField(max_length=100)
    from_release = models.ForeignKey(ConfigRelease, on_delete=models.PROTECT, related_name="+")
    to_release = models.ForeignKey(ConfigRelease, on_delete=models.PROTECT, related_name="+")
    step_pct = models.DecimalField(max_digits=6, decimal_places=2)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROPOSED)
    evidence = models.JSONField(default=dict, blank=True, help_text="Why the step was allowed.")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    hold_until = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    triggers = models.JSONField(
        default=dict, blank=True, help_text="Rollback trigger thresholds, frozen at approval."
    )
    trigger_evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["bot", "-proposed_at"]
        permissions = [("approve_scalingstep", "Can approve risk scaling steps")]
        constraints = [
            models.UniqueConstraint(
                fields=["bot"], condition=Q(status="holding"), name="one_scaling_step_at_a_time"
            ),
            models.CheckConstraint(
                condition=Q(step_pct__gte=SCALING_STEP_MIN_PCT, step_pct__lte=SCALING_STEP_MAX_PCT),
                name="scaling_step_10_to_20_pct",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("proposed_by")),
                name="scaling_four_eyes",
            ),
        ]

    def __str__(self):
        return f"{self.bot.slug} {self.param} +{self.step_pct}% ({self.status})"

    @property
    def tested_release(self):
        return self.to_release

    @property
    def is_live(self):
        return self.status == self.Status.HOLDING
