"""Release push in the admin: set up on the bot's page (Team lead), the secret shown once, a test
push, and every push with its attempts. Saves go through experiments.releases.push.

The Bot's admin is composed here, the highest layer that adds to it: the core's, integrity's
(gate column, checks, cleanup) and the release push's. experiments.admin registers it."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join

from experiments.releases.push import (
    change_release_push,
    issue_push_secret,
    send_test_push,
    set_up_release_push,
)
from integrity.admin import bots as integrity_admin
from integrity.admin.helpers import attempts_table
from integrity.models import ReleasePush, ReleaseWebhook
from tradeops.admin.options import ReadOnlyAdmin
from tradeops.roles import CHANGE_RELEASE_PUSH, HANDLE_INCIDENTS

# The bot's page lists this many of its latest pushes; the push list has them all.
RECENT_PUSHES = 5


class ReleaseWebhookInline(admin.StackedInline):
    """The bot's webhook. Its secret is never a form field: TradeOps issues it (shown once)."""

    model = ReleaseWebhook
    verbose_name = verbose_name_plural = "release push (optional: the bot pulls its config anyway)"
    max_num = 1
    # Its pushes are history: turn it off rather than delete it.
    can_delete = False

    def get_extra(self, request, obj=None, **kwargs):
        # A blank webhook shown to who may not set one up reads as one set up and on.
        return 1 if self.has_add_permission(request, obj) else 0

    def sees_url(self, request):
        return request.user.has_perm(CHANGE_RELEASE_PUSH)

    def get_fields(self, request, obj=None):
        url = "url" if self.sees_url(request) else "masked_url"
        return [url, "is_active", "secret_issued_at", "recent_pushes"]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["secret_issued_at", "recent_pushes"]
        return readonly if self.sees_url(request) else ["masked_url", "is_active", *readonly]

    @admin.display(description="URL")
    def masked_url(self, webhook):
        return webhook.masked_url

    @admin.display(description="latest pushes")
    def recent_pushes(self, webhook):
        if webhook.pk is None:
            return "-"
        pushes = webhook.pushes.select_related("change__release")[:RECENT_PUSHES]
        listed = format_html_join(
            "",
            # Dates formatted first: format_html_join escapes each value to text.
            '<li><a href="{}">{} {}</a>: {} ({} attempt(s))</li>',
            (
                (
                    reverse("admin:integrity_releasepush_change", args=[push.pk]),
                    f"{push.created_at:%Y-%m-%d %H:%M}",
                    push.change.release.tag if push.change else push.event,
                    push.get_status_display(),
                    push.attempts,
                )
                for push in pushes
            ),
        )
        return format_html("<ul>{}</ul>", listed) if listed else "none yet"


class ReleasePushOnBotPage:
    """What the bot's admin page gains for release push (mixed into BotAdmin below)."""

    push_inlines = [ReleaseWebhookInline]
    push_actions = ["issue_push_secret", "send_test_push"]

    def get_inline_instances(self, request, obj=None):
        # Who may not set one up sees a bot without a release push with no empty block for it.
        return [
            inline
            for inline in super().get_inline_instances(request, obj)
            if not isinstance(inline, ReleaseWebhookInline)
            or inline.has_add_permission(request, obj)
            or ReleaseWebhook.objects.filter(bot=obj).exists()
        ]

    def save_formset(self, request, form, formset, change):
        if formset.model is not ReleaseWebhook:
            return super().save_formset(request, form, formset, change)
        for webhook in formset.save(commit=False):
            if webhook.pk is None:
                _, secret = set_up_release_push(
                    form.instance, url=webhook.url, is_active=webhook.is_active, by=request.user
                )
                # Shown by response_add/response_change on this request only (never a message:
                # those travel in a readable cookie or the session).
                request.issued_push_secrets = [(form.instance, secret)]
            else:
                change_release_push(
                    webhook, url=webhook.url, is_active=webhook.is_active, by=request.user
                )

    def response_add(self, request, obj, post_url_continue=None):
        issued = getattr(request, "issued_push_secrets", None)
        if issued:
            return self.show_push_secrets(request, issued)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        issued = getattr(request, "issued_push_secrets", None)
        if issued:
            return self.show_push_secrets(request, issued)
        return super().response_change(request, obj)

    def show_push_secrets(self, request, issued):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Release push secrets",
            "issued": issued,
        }
        response = TemplateResponse(request, "admin/integrity/issued_push_secrets.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description="Issue a new release push secret (shown once)", permissions=["push"])
    def issue_push_secret(self, request, queryset):
        issued = [
            (webhook.bot, issue_push_secret(webhook, by=request.user))
            for webhook in ReleaseWebhook.objects.filter(bot__in=queryset).select_related("bot")
        ]
        if not issued:
            self.message_user(request, "None of these bots has a release push.", messages.ERROR)
            return None
        return self.show_push_secrets(request, issued)

    def has_push_permission(self, request):
        return request.user.has_perm(CHANGE_RELEASE_PUSH)

    @admin.action(description="Send test push", permissions=["test_push"])
    def send_test_push(self, request, queryset):
        for webhook in ReleaseWebhook.objects.filter(bot__in=queryset).select_related("bot"):
            try:
                push = send_test_push(webhook, user=request.user)
            except ValueError as exc:
                self.message_user(request, f"{webhook.bot}: {exc}.", messages.ERROR)
                continue
            if push.status == ReleasePush.Status.SENT:
                self.message_user(request, f"{webhook.bot}: test push delivered.", messages.SUCCESS)
            else:
                self.message_user(
                    request,
                    f"{webhook.bot}: test push failed (will retry): {push.error[:200]}",
                    messages.ERROR,
                )

    # Like an alert channel's test alert: whoever handles incidents may check the path works.
    def has_test_push_permission(self, request):
        return request.user.has_perm(HANDLE_INCIDENTS)


class BotAdmin(ReleasePushOnBotPage, integrity_admin.BotAdmin):
    actions = [*integrity_admin.BotAdmin.actions, *ReleasePushOnBotPage.push_actions]
    inlines = [*integrity_admin.BotAdmin.inlines, *ReleasePushOnBotPage.push_inlines]


class ReleasePushAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "bot",
        "event",
        "change",
        "status",
        "attempts",
        "response_code",
        "last_took",
        "sent_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "event", "webhook__bot"]
    date_hierarchy = "created_at"
    list_select_related = ["webhook__bot", "change__bot", "change__release__bot"]
    exclude = ["attempt_log"]

    # Where the push goes, as the bot's page shows it: in full to who may change it (a Team
    # lead), masked to everyone else.
    def target(self, request):
        return "url" if request.user.has_perm(CHANGE_RELEASE_PUSH) else "masked_url"

    def get_readonly_fields(self, request, obj=None):
        return [self.target(request), "attempts_display"]

    @admin.display(description="sent to")
    def url(self, push):
        return push.webhook.url

    @admin.display(description="sent to")
    def masked_url(self, push):
        return push.webhook.masked_url

    @admin.display(description="bot", ordering="webhook__bot")
    def bot(self, push):
        return push.webhook.bot

    @admin.display(description="last attempt took")
    def last_took(self, push):
        return f"{push.attempt_log[-1]['duration_ms']} ms" if push.attempt_log else "-"

    @admin.display(description="attempts")
    def attempts_display(self, push):
        return attempts_table(push)
