from django.conf import settings
from django.db import models
from django.db.models import Q

from tradeops.models import Bot, ConfigRelease


class KPISnapshot(models.Model):
    """The KPI set for (bot, window, as_of, release filter), stored with what it was made from.

    `figures` uses the keys of `manage.py compute_kpis --format json`; `inputs` holds the row
    counts and `fingerprint` a SHA-256 of the aggregated inputs, so a figure can be recomputed
    later and checked against the same data.
    """

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="kpi_snapshots")
    window_days = models.PositiveSmallIntegerField()
    as_of = models.DateField(help_text="The window is [as_of - N days, as_of), UTC.")
    release = models.ForeignKey(
        ConfigRelease,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="kpi_snapshots",
        help_text="Only trades of this release; empty = all trades.",
    )
    figures = models.JSONField()
    daily = models.JSONField(default=list)
    inputs = models.JSONField(default=dict)
    fingerprint = models.CharField(max_length=64)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-as_of", "bot", "window_days"]
        verbose_name = "KPI snapshot"
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "window_days", "as_of"],
                condition=Q(release__isnull=True),
                name="kpi_snapshot_unique_all_releases",
            ),
            models.UniqueConstraint(
                fields=["bot", "window_days", "as_of", "release"],
                condition=Q(release__isnull=False),
                name="kpi_snapshot_unique_per_release",
            ),
            models.CheckConstraint(condition=Q(window_days__gt=0), name="kpi_window_positive"),
        ]

    def __str__(self):
        scope = self.release.tag if self.release_id else "all releases"
        return f"{self.bot.slug} {self.window_days}d to {self.as_of} ({scope})"


class BaselineReport(models.Model):
    """The plan's baseline snapshot of a release: 7d and 30d side by side, captured by a lead."""

    release = models.ForeignKey(
        ConfigRelease, on_delete=models.PROTECT, related_name="baseline_reports"
    )
    as_of = models.DateField()
    snapshot_7d = models.ForeignKey(KPISnapshot, on_delete=models.PROTECT, related_name="+")
    snapshot_30d = models.ForeignKey(KPISnapshot, on_delete=models.PROTECT, related_name="+")
    captured_at = models.DateTimeField()
    captured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-captured_at"]
        constraints = [
            models.UniqueConstraint(fields=["release", "as_of"], name="one_baseline_report_per_day")
        ]

    def __str__(self):
        return f"Baseline {self.release} as of {self.as_of}"
