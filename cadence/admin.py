"""The cadence's stored records in the admin: read-only lists, since a sign-off is made on its
review page (cadence.views) and a digest by the job."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from cadence.models import DailyReview, DigestMessage, WeeklyReview
from cadence.weekly import iso_week
from tradeops.admin.helpers import pretty_json
from tradeops.admin.options import ReadOnlyAdmin


@admin.register(DailyReview)
class DailyReviewAdmin(ReadOnlyAdmin):
    list_display = ["day", "bot", "signed_off_by", "signed_off_at", "note", "page"]
    list_filter = ["bot"]
    list_select_related = ["bot", "signed_off_by"]
    fields = ["bot", "day", "signed_off_by", "signed_off_at", "note", "items_display", "page"]
    readonly_fields = fields

    @admin.display(description="review page")
    def page(self, obj):
        url = reverse("admin:cadence_daily_review", args=[obj.bot.slug, obj.day.isoformat()])
        return format_html('<a href="{}">open</a>', url)

    @admin.display(description="items as signed off")
    def items_display(self, obj):
        return pretty_json(obj.items)


@admin.register(WeeklyReview)
class WeeklyReviewAdmin(ReadOnlyAdmin):
    list_display = [
        "week",
        "bot",
        "signed_off_by",
        "signed_off_at",
        "next_experiment",
        "assignee",
        "assignment_due",
        "confirmed_keep",
        "page",
    ]
    list_filter = ["bot"]
    list_select_related = [
        "bot",
        "signed_off_by",
        "next_experiment__bot",
        "assignee",
        "confirmed_keep__bot",
    ]
    fields = [
        "bot",
        "week",
        "signed_off_by",
        "signed_off_at",
        "note",
        "next_experiment",
        "assignee",
        "assignment_due",
        "confirmed_keep",
        "items_display",
        "page",
    ]
    readonly_fields = fields

    @admin.display(description="review page")
    def page(self, obj):
        url = reverse("admin:cadence_weekly_review", args=[obj.bot.slug, iso_week(obj.week)])
        return format_html('<a href="{}">open</a>', url)

    @admin.display(description="items as signed off")
    def items_display(self, obj):
        return pretty_json(obj.items)


@admin.register(DigestMessage)
class DigestMessageAdmin(ReadOnlyAdmin):
    list_display = ["day", "bot", "channel", "status", "attempts", "sent_at", "title"]
    list_filter = ["status", "bot"]
    list_select_related = ["bot", "channel"]
    readonly_fields = [
        "day",
        "bot",
        "channel",
        "title",
        "body",
        "status",
        "attempts",
        "sent_at",
        "response_code",
        "error",
        "attempt_log",
    ]
    fields = readonly_fields
