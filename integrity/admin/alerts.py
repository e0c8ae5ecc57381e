"""Alert channels (their targets masked to who may not change them, their test alerts) and the
alerts delivered, with the page that confirms a test alert arrived."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import path as url_path
from django.utils.cache import add_never_cache_headers

from integrity.admin.helpers import attempts_table
from integrity.alerts import (
    CRITICAL_PATHS,
    confirm_test_alert,
    send_test_alerts,
    test_alert_confirmed_by,
)
from integrity.models import AlertDelivery
from integrity.selectors import with_confirmations
from tradeops.admin.options import ReadOnlyAdmin
from tradeops.roles import CHANGE_ALERT_CHANNELS, HANDLE_INCIDENTS


def path_tested_column(path):
    """When a test alert down `path` was last confirmed as received on this channel, or that one
    sent is still waiting for its confirmation (see with_confirmations)."""

    @admin.display(description=f"confirmed: {path.label}")
    def column(channel):
        confirmed, sent = getattr(channel, f"confirmed_{path}"), getattr(channel, f"sent_{path}")
        if confirmed:
            return f"{confirmed:%Y-%m-%d %H:%M} UTC"
        return f"not confirmed (sent {sent:%Y-%m-%d %H:%M} UTC)" if sent else "never"

    return column


class AlertChannelAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "masked_target",
        "bot",
        "min_severity",
        "repeat_minutes",
        "is_active",
        *[path_tested_column(path) for path in CRITICAL_PATHS],
    ]
    list_filter = ["kind", "is_active", "bot"]
    search_fields = ["name"]
    actions = ["send_test_alert"]

    def get_queryset(self, request):
        return with_confirmations(super().get_queryset(request))

    # Who may change a channel (a Team lead) sees its full target in the form; everyone else
    # sees it masked. Lists show it masked to all.
    def sees_secrets(self, request):
        return request.user.has_perm(CHANGE_ALERT_CHANNELS)

    def get_exclude(self, request, obj=None):
        return [] if self.sees_secrets(request) else ["target"]

    def get_readonly_fields(self, request, obj=None):
        return [] if self.sees_secrets(request) else ["masked_target"]

    @admin.display(description="target")
    def masked_target(self, channel):
        return channel.masked_target

    @admin.action(description="Send test alert (each critical path)", permissions=["test"])
    def send_test_alert(self, request, queryset):
        for channel in queryset:
            try:
                results = send_test_alerts(channel, user=request.user)
            except ValueError as exc:
                self.message_user(request, f"{exc}: no test sent.", messages.ERROR)
                continue
            failed = [d for d in results if d.status != AlertDelivery.Status.SENT]
            if failed:
                self.message_user(
                    request,
                    f"{channel}: {len(failed)} of {len(results)} test alerts failed "
                    f"(will retry): {failed[0].error[:200]}",
                    messages.ERROR,
                )
            elif all(d.confirmed_at for d in results):
                self.message_user(
                    request,
                    f"{channel}: {len(results)} test alerts delivered, confirmed by the "
                    "receiver's answer.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    f"{channel}: {len(results)} test alerts sent. Each path counts as tested once "
                    "its recipient opens the confirmation link in the message.",
                    messages.SUCCESS,
                )

    def has_test_permission(self, request):
        return request.user.has_perm(HANDLE_INCIDENTS)


class AlertDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "channel",
        "event",
        "path",
        "incident",
        "status",
        "attempts",
        "response_code",
        "sent_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "event", "path", "channel"]
    search_fields = ["title", "error"]
    date_hierarchy = "created_at"
    list_select_related = ["channel", "incident__bot"]
    exclude = ["attempt_log"]

    # Where it went, as the channel's page shows it: in full to who may change channels (a Team
    # lead), masked to everyone else.
    def get_readonly_fields(self, request, obj=None):
        target = "target" if request.user.has_perm(CHANGE_ALERT_CHANNELS) else "masked_target"
        return [target, "attempts_display"]

    @admin.display(description="sent to")
    def target(self, delivery):
        return delivery.channel.target

    @admin.display(description="sent to")
    def masked_target(self, delivery):
        return delivery.channel.masked_target

    @admin.display(description="attempts")
    def attempts_display(self, delivery):
        return attempts_table(delivery)

    def get_urls(self):
        confirm = self.admin_site.admin_view(self.confirm_view)
        return [
            url_path("confirm/<str:token>/", confirm, name="integrity_alertdelivery_confirm"),
            *super().get_urls(),
        ]

    def confirm_view(self, request, token):
        """The link in a test alert. Opening it (GET) only shows the alert and a button: mail
        scanners that open links confirm nothing. The button (POST) records who and when."""
        try:
            alert = test_alert_confirmed_by(token)
        except ValueError as exc:
            alert, problem = None, str(exc)
        else:
            problem = ""
            if request.method == "POST" and not confirm_test_alert(alert, by=request.user):
                problem = "This test alert was already confirmed; nothing more was recorded."
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Confirm a test alert arrived",
            "alert": alert,
            "problem": problem,
            "confirmed_now": request.method == "POST" and not problem,
        }
        response = TemplateResponse(request, "admin/integrity/alertdelivery/confirm.html", context)
        add_never_cache_headers(response)
        return response
