"""A bot's freqtrade source in the admin: a Team lead points a bot at its freqtrade database;
everyone sees how its syncs went, the database named without its password."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from ingestion.freqtrade import configure_source, sync_source
from ingestion.freqtrade_db import FreqtradeDatabaseError, check_freqtrade_database, parse_db_url
from ingestion.models import FreqtradeSource


class FreqtradeSourceForm(forms.ModelForm):
    class Meta:
        model = FreqtradeSource
        fields = ["bot", "db_url", "enabled", "strategy_name", "param_spaces"]

    def clean_db_url(self):
        url = self.cleaned_data["db_url"]
        try:
            check_freqtrade_database(url)
        except (ValueError, FreqtradeDatabaseError) as exc:
            raise forms.ValidationError(str(exc)) from None
        return url

    def clean_param_spaces(self):
        spaces = self.cleaned_data["param_spaces"] or {}
        if not isinstance(spaces, dict) or not all(
            isinstance(space, str) and space.isidentifier() for space in spaces.values()
        ):
            raise forms.ValidationError(
                'an object of param name to freqtrade space, e.g. {"fib_proximity_bps": "buy"}'
            )
        return spaces


def sync_summary(outcome):
    """A sync's outcome in words: its trade counts, why it failed, or why it was skipped."""
    if "error" in outcome:
        return f"failed {outcome['at'][:16]}: {outcome['error']}"
    if "skipped" in outcome:
        return f"skipped: {outcome['skipped']}"
    trades = outcome.get("trades")
    if not trades:
        return "-"
    counts = ", ".join(f"{count} {name}" for name, count in trades.items() if count)
    return f"trades: {counts or 'nothing new'}"


@admin.register(FreqtradeSource)
class FreqtradeSourceAdmin(admin.ModelAdmin):
    form = FreqtradeSourceForm
    list_display = ["bot", "database", "enabled", "strategy_name", "last_synced_at", "outcome"]
    list_filter = ["enabled"]
    list_select_related = ["bot"]
    actions = ["sync_now"]
    readonly_fields = ["last_trade_id", "open_trades", "last_synced_at", "last_outcome"]

    def get_fields(self, request, obj=None):
        database = "db_url" if self.has_change_permission(request, obj) else "database"
        return ["bot", database, "enabled", "strategy_name", "param_spaces", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        # The bot a source reads for is fixed once it has read anything for it.
        fixed = ["bot"] if obj is not None else []
        return [*fixed, *self.readonly_fields]

    @admin.display(description="database")
    def database(self, source):
        try:
            return parse_db_url(source.db_url).redacted()
        except ValueError:
            return "(not a freqtrade database URL)"

    @admin.display(description="last sync")
    def outcome(self, source):
        return sync_summary(source.last_outcome or {})

    def save_model(self, request, obj, form, change):
        # configure_source: a new source's bot gets freqtrade's exit reasons; another database
        # starts the position over. The other fields are saved as the form has them.
        source = configure_source(obj.bot, obj.db_url, now=timezone.now(), enabled=obj.enabled)
        source.enabled, source.strategy_name = obj.enabled, obj.strategy_name
        source.param_spaces = obj.param_spaces
        source.save(update_fields=["enabled", "strategy_name", "param_spaces"])
        obj.pk = source.pk

    @admin.action(description="Sync now", permissions=["change"])
    def sync_now(self, request, queryset):
        for source in queryset.select_related("bot"):
            try:
                outcome = sync_source(source, now=timezone.now())
            except FreqtradeDatabaseError as exc:
                self.message_user(request, f"{source.bot}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"{source.bot}: {sync_summary(outcome)}")
