"""A bot's config releases, each change of the one it runs, and its freezes. The rules that write
them live in experiments.releases (the release's life, in order); here only what the rows are
and what each answers. Bot.current_release and Trade point here."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from tradeops.models.base import choices_check
from tradeops.models.bots import Bot


class ConfigRelease(models.Model):
    """An immutable, versioned set of param values: once approved, a change is a new release."""

    FROZEN_FIELDS = ("bot_id", "version", "tag", "git_commit", "params", "approved_at")

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="releases")
    version = models.PositiveIntegerField()
    tag = models.CharField(max_length=100, help_text="Release tag in git: the rollback reference.")
    git_commit = models.CharField(max_length=40, blank=True)
    params = models.JSONField(default=dict)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who last edited the draft before its approval.",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_baseline = models.BooleanField(default=False)

    class Meta:
        ordering = ["bot", "-version"]
        permissions = [("approve_configrelease", "Can approve releases and set the baseline")]
        constraints = [
            models.UniqueConstraint(fields=["bot", "version"], name="release_version_unique"),
            models.UniqueConstraint(fields=["bot", "tag"], name="release_tag_unique"),
            models.UniqueConstraint(
                fields=["bot"], condition=Q(is_baseline=True), name="one_baseline_per_bot"
            ),
            models.CheckConstraint(
                condition=Q(is_baseline=False) | Q(approved_at__isnull=False),
                name="baseline_is_approved",
            ),
            # Four-eyes, in the database too: nobody approves a release they created or were
            # the last to edit (approve_release also refuses any earlier editor).
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | (
                    (Q(created_by__isnull=True) | ~Q(approved_by=F("created_by")))
                    & (Q(last_edited_by__isnull=True) | ~Q(approved_by=F("last_edited_by")))
                ),
                name="release_four_eyes",
            ),
        ]

    def __str__(self):
        return f"{self.bot.slug} {self.tag} (v{self.version})"

    def save(self, *args, **kwargs):
        if self.pk:
            stored = (
                ConfigRelease.objects.filter(pk=self.pk).values(*self.FROZEN_FIELDS).first() or {}
            )
            if stored.get("approved_at") is not None:
                changed = [f for f in self.FROZEN_FIELDS if stored[f] != getattr(self, f)]
                if changed:
                    raise ValidationError(
                        f"Release {self.tag} is approved and immutable (tried to change "
                        f"{', '.join(changed)}); create a new release instead."
                    )
        super().save(*args, **kwargs)

    @property
    def is_approved(self):
        return self.approved_at is not None

    def was_edited_by(self, user):
        """Whether `user` edited this release: its last editor, or any before them (from the
        "edited" audit rows, so a later trivial edit by someone else clears nobody)."""
        from tradeops.audit import history

        if self.last_edited_by_id == user.pk:
            return True
        return history(self).filter(action="edited", actor=user).exists()


class ReleaseChangeReason(models.TextChoices):
    BASELINE = "baseline", "Baseline"
    EXPERIMENT = "experiment", "Experiment's candidate"
    DECISION = "decision", "Experiment decided"
    TRIGGER = "trigger", "Restored by a rollback trigger"
    SCALING = "scaling", "Scaling step"


class ReleaseChange(models.Model):
    """Each change of a bot's current release, and why: the bot is told it with its config, the
    team reads it on the bot's page. Written only by experiments.releases.run_release."""

    Reason = ReleaseChangeReason

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="release_changes")
    release = models.ForeignKey(ConfigRelease, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    reference = models.CharField(
        max_length=300, help_text="The experiment, trigger or scaling step behind the change."
    )
    at = models.DateTimeField()
    by = models.CharField(max_length=150, help_text="user, job or trigger")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["bot", "-at", "-id"], name="release_change_bot_idx")]
        constraints = [choices_check("reason", ReleaseChangeReason, "release_change_reason_valid")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.bot.slug} → {self.release.tag}: {self.why}"

    @property
    def why(self):
        return f"{self.get_reason_display()}: {self.reference}"


class StabilizationWindow(models.Model):
    """A config freeze (plan section 1): while it runs, no release becomes current and no
    experiment or scaling step starts."""

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="freezes")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ended_early_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="freeze_ends_after_start"
            )
        ]

    def __str__(self):
        return f"{self.bot.slug} frozen {self.starts_at:%Y-%m-%d} → {self.ends_at:%Y-%m-%d}"

    @property
    def effective_end(self):
        """When the freeze stops: its end, or earlier if the lead ended it early."""
        return min(self.ends_at, self.ended_early_at) if self.ended_early_at else self.ends_at

    def is_active(self, at):
        return self.starts_at <= at < self.effective_end
