from django.db import models
from django.db.models import Q


class JobRun(models.Model):
    """One run of a scheduled job, so a missed or failing schedule is itself visible.

    `key` names what the run is for (e.g. the day of a daily job): a key that already ran
    successfully is not run again, so a double enqueue is harmless.
    """

    class Outcome(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    name = models.CharField(max_length=100)
    key = models.CharField(max_length=100)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    rq_job_id = models.CharField(max_length=100, blank=True, help_text="Empty when run in-process.")

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "key"],
                condition=Q(outcome="succeeded"),
                name="job_run_succeeds_once_per_key",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["running", "succeeded", "failed"]),
                name="job_run_outcome_valid",
            ),
        ]
        indexes = [models.Index(fields=["name", "-started_at"], name="job_run_name_idx")]

    def __str__(self):
        return f"{self.name} [{self.key}] {self.outcome}"
