"""The bot's page (its trading mode, circuit breaker and shadow, with their forms), its API
tokens and the parameter catalogue."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from tradeops.admin.options import ReadOnlyAdmin
from tradeops.admin_bot_fields import BotFieldsForReading
from tradeops.models import Bot
from tradeops.roles import ISSUE_TOKENS, REVOKE_TOKENS
from tradeops.services import (
    issue_api_token,
    revoke_api_tokens,
    set_circuit_breaker,
    set_trading_mode,
    shadow_created,
    stop_fleet_entries,
)


class BotAdmin(BotFieldsForReading, admin.ModelAdmin):
    """The bot and its tokens. Registered once, by the highest layer adding to it
    (experiments.admin: integrity.admin's BotAdmin, with the integrity gate column and actions,
    and the release push); the core knows nothing of either."""

    list_display = ["slug", "name", "exchange", "shadow_of", "is_active", "created_at"]
    list_filter = ["is_active", "exchange", ("shadow_of", admin.EmptyFieldListFilter)]
    search_fields = ["slug", "name"]
    # What the bot runs changes only through the audited services (baseline, experiment start
    # and decision, rollback trigger, scaling step), never by editing the bot; so does its
    # trading mode and its circuit breaker (the panel above the form, and the command center),
    # shown there only: one place on the page for each.
    readonly_fields = [
        "current_release",
        "current_change",
        "shadow_relation",
    ]
    exclude = [
        "trading_mode",
        "trading_version",
        "trading_changed_at",
        "trading_changed_by",
        "trading_note",
        "breaker_pct",
        "breaker_reading_pct",
        "breaker_read_at",
    ]
    actions = ["issue_token"]
    change_form_template = "admin/tradeops/bot/change_form.html"

    def get_urls(self):
        pages = [
            ("<int:object_id>/trading/", self.trading_view, "tradeops_bot_trading"),
            ("<int:object_id>/breaker/", self.breaker_view, "tradeops_bot_breaker"),
            ("trading/stop-fleet/", self.stop_fleet_view, "tradeops_bot_stop_fleet"),
        ]
        return [
            path(route, self.admin_site.admin_view(view), name=name) for route, view, name in pages
        ] + super().get_urls()

    def _back(self, request, bot=None):
        """Where the form came from (the command center's card or the bot's page)."""
        back = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            return redirect(back)
        if bot is None:
            return redirect("admin:index")
        return redirect("admin:tradeops_bot_change", bot.pk)

    def _refused(self, request, exc):
        self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def trading_view(self, request, object_id):
        """Stop entries, exit all or resume, with a note: the service checks who may."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        bot = get_object_or_404(Bot, pk=object_id)
        mode, note = request.POST.get("mode", ""), request.POST.get("note", "")
        try:
            bot = set_trading_mode(bot, mode, by=request.user, note=note)
        except ValidationError as exc:
            self._refused(request, exc)
        else:
            self.message_user(
                request,
                f"Trading mode of {bot}: {bot.get_trading_mode_display().lower()}.",
                messages.SUCCESS,
            )
        return self._back(request, bot)

    def breaker_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        bot = get_object_or_404(Bot, pk=object_id)
        try:
            bot = set_circuit_breaker(
                bot,
                request.POST.get("breaker_pct", ""),
                by=request.user,
                note=request.POST.get("note", ""),
            )
        except ValidationError as exc:
            self._refused(request, exc)
        else:
            self.message_user(
                request, f"{bot}: circuit breaker at {bot.breaker_pct}% today.", messages.SUCCESS
            )
        return self._back(request, bot)

    def stop_fleet_view(self, request):
        """A Team lead stops the entries of every live bot at once, with one note."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            stopped = stop_fleet_entries(by=request.user, note=request.POST.get("note", ""))
        except ValidationError as exc:
            self._refused(request, exc)
        else:
            names = ", ".join(bot.slug for bot in stopped) or "none was trading"
            self.message_user(
                request, f"Stopped entries on {len(stopped)} bot(s): {names}.", messages.SUCCESS
            )
        return self._back(request)

    def get_fields(self, request, obj=None):
        # One line for the shadow: chosen when the bot is added, read as the relation in words
        # after. A shadow is one from its creation on (its trades name the live bot's releases),
        # so the changed bot's form has no shadow_of to post.
        fields = super().get_fields(request, obj)
        drop = "shadow_of" if obj is not None else "shadow_relation"
        return [name for name in fields if name != drop]

    @admin.display(description="Shadow relation")
    def shadow_relation(self, bot):
        if bot.pk is None:
            return "-"
        if bot.shadow_of_id:
            live = bot.shadow_of
            return format_html(
                'Shadow of <a href="{}">{}</a>: dry-run, runs its releases (the baseline while '
                "an experiment runs on it); never counted as money.",
                reverse("admin:tradeops_bot_change", args=[live.pk]),
                live.slug,
            )
        shadow = getattr(bot, "shadow", None)
        if shadow is None:
            return "Live bot, no shadow."
        return format_html(
            'Live bot; its shadow is <a href="{}">{}</a> (dry-run, the concurrent control of its '
            "experiments).",
            reverse("admin:tradeops_bot_change", args=[shadow.pk]),
            shadow.slug,
        )

    def save_model(self, request, obj, form, change):
        if change or obj.shadow_of_id is None:
            return super().save_model(request, obj, form, change)
        obj.exchange = obj.exchange or obj.shadow_of.exchange
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            shadow_created(obj, by=request.user)

    @admin.action(description="Issue a new API token (shown once)", permissions=["add_token"])
    def issue_token(self, request, queryset):
        """The tokens go in this page only: a message would carry them in a signed (readable)
        cookie or the session."""
        issued = [
            (bot, issue_api_token(bot, label=f"admin:{request.user}", created_by=request.user))
            for bot in queryset
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "New API tokens",
            "issued": issued,
        }
        response = TemplateResponse(request, "admin/tradeops/issued_tokens.html", context)
        add_never_cache_headers(response)
        return response

    def has_add_token_permission(self, request):
        return request.user.has_perm(ISSUE_TOKENS)


class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = [
        "prefix",
        "bot",
        "label",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["bot", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "label", "bot__slug"]
    exclude = ["token_hash"]
    actions = ["revoke"]

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = revoke_api_tokens(queryset, revoked_by=request.user)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)

    def has_revoke_permission(self, request):
        return request.user.has_perm(REVOKE_TOKENS)


class ParamSpecAdmin(admin.ModelAdmin):
    list_display = ["key", "category", "value_type", "min_value", "max_value"]
    list_filter = ["category", "value_type"]
    search_fields = ["key", "description"]
