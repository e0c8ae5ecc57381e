"""The plan's operating cadence (section 6): the reviews a person signs off, and the digest pushed
every day. The items a review shows are read from the data (cadence.selectors); a sign-off keeps
them as they stood when it was given, so the record says what the person saw."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from experiments.models import Experiment
from experiments.same_bot import SameBot
from integrity.delivery import DeliveryStatus
from integrity.models import AlertChannel, Delivery
from tradeops.models import Bot


class DailyReview(models.Model):
    """An Operator's sign-off of a bot's daily review (15 min) for one UTC day."""

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="daily_reviews")
    day = models.DateField(help_text="The UTC day reviewed.")
    note = models.TextField()
    items = models.JSONField(
        default=dict, help_text="The review's five items as they stood at the sign-off."
    )
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_off_at = models.DateTimeField()

    class Meta:
        ordering = ["-day", "bot"]
        permissions = [("sign_off_dailyreview", "Can sign off daily reviews")]
        constraints = [
            models.UniqueConstraint(fields=["bot", "day"], name="one_daily_review_per_bot_day"),
            models.CheckConstraint(condition=~Q(note=""), name="daily_review_has_note"),
        ]
        indexes = [models.Index(fields=["bot", "-day"], name="daily_review_bot_recent_idx")]

    def __str__(self):
        return f"{self.bot.slug}: daily review {self.day}"


class WeeklyReview(models.Model):
    """A Team lead's sign-off of a bot's weekly review (60 min) for one ISO week: the scorecard
    as it stood, the decision state, and the next single-lever assignment."""

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="weekly_reviews")
    week = models.DateField(help_text="The Monday (UTC) the ISO week starts on.")
    note = models.TextField()
    items = models.JSONField(
        default=dict, help_text="The scorecard and the decision as they stood at the sign-off."
    )
    next_experiment = models.ForeignKey(
        Experiment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The next single-lever test: a queued experiment of this bot.",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who prepares and starts it.",
    )
    assignment_due = models.DateField(null=True, blank=True, help_text="By when (UTC day).")
    confirmed_keep = models.ForeignKey(
        Experiment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The keep decision this sign-off confirmed (four eyes), if any.",
    )
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_off_at = models.DateTimeField()

    class Meta:
        ordering = ["-week", "bot"]
        permissions = [("sign_off_weeklyreview", "Can sign off weekly reviews")]
        constraints = [
            models.UniqueConstraint(fields=["bot", "week"], name="one_weekly_review_per_bot_week"),
            models.CheckConstraint(condition=~Q(note=""), name="weekly_review_has_note"),
            models.CheckConstraint(
                condition=Q(next_experiment__isnull=True)
                | Q(assignee__isnull=False, assignment_due__isnull=False),
                name="weekly_assignment_has_assignee_and_due_date",
            ),
        ]

    def __str__(self):
        return f"{self.bot.slug}: weekly review {self.week:%G-W%V}"


class TriggerHeadroom(models.Model):
    """How far a bot's live change (running experiment or scaling hold) is from each hard rollback
    trigger, as the headroom job last computed it: the command center reads fifty of these in one
    query instead of evaluating the triggers per bot per view."""

    bot = models.OneToOneField(Bot, on_delete=models.CASCADE, related_name="trigger_headroom")
    subject = models.CharField(max_length=300, help_text="The live change the triggers watch.")
    lines = models.JSONField(
        default=list, help_text="[{trigger, text, used}]: used is the share of the limit reached."
    )
    computed_at = models.DateTimeField()

    def __str__(self):
        return f"{self.bot.slug}: {self.subject}"


class DigestMessage(Delivery):
    """One bot's daily digest to one alert channel, delivered at least once (integrity.delivery)."""

    Status = DeliveryStatus

    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="+")
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="digests")
    day = models.DateField(help_text="The UTC day the digest is for.")
    title = models.CharField(max_length=300)
    body = models.TextField()

    class Meta:
        ordering = ["-day", "bot"]
        constraints = [
            # The hourly job and a rerun never push the same day twice to a channel.
            models.UniqueConstraint(
                fields=["channel", "bot", "day"], name="one_digest_per_channel_bot_day"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="digest_due_idx")]

    def __str__(self):
        return f"{self.bot.slug} digest {self.day} → {self.channel} ({self.status})"


# A weekly review names experiments of its own bot; a digest goes to a channel of its bot or of
# every bot: held by the database too (experiments.same_bot; installed by cadence 0002).
SAME_BOT = [
    SameBot("cadence_weeklyreview", "next_experiment_id", "experiments_experiment"),
    SameBot("cadence_weeklyreview", "confirmed_keep_id", "experiments_experiment"),
    SameBot(
        "cadence_digestmessage", "channel_id", "integrity_alertchannel", null_means_any="parent"
    ),
]
