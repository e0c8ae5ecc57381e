"""The bot's fields as people read and write them (issue 23, section 5): its money with 2
decimals and its quote currency, its known exit reasons as a list to read and lines to edit,
never a stored decimal's 12 places or raw JSON."""

from decimal import Decimal

from django import forms
from django.contrib import admin

# Shown to who may not change the bot (the admin shows its fields read-only): name -> shown as.
READ_AS = {
    "starting_equity": "starting_equity_shown",
    "known_exit_reasons": "exit_reasons_shown",
    "unknown_exit_alert_share": "unknown_exit_share_shown",
}


class ExitReasonsField(forms.CharField):
    """One exit reason a line; stored as the list the bot's validation expects."""

    widget = forms.Textarea(attrs={"rows": 8, "cols": 30})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


def _equity_shown(value):
    """An amount with 2 decimals, more only where it has them (exact: 0.125 stays 0.125)."""
    if not isinstance(value, Decimal):
        return value
    cents = value.quantize(Decimal("0.01"))
    return cents if cents == value else value.normalize()


class BotFieldsForReading:
    """Mixed into the Bot's admin."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "known_exit_reasons":
            return ExitReasonsField(
                required=False,
                label="Known exit reasons",
                help_text=f"One a line. {db_field.help_text}",
            )
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "starting_equity":  # 25000.00, not the column's 25000.000000000000
            field.prepare_value = _equity_shown
        if db_field.name == "unknown_exit_alert_share":  # the card says "alert above 2%"
            field.help_text = f"{db_field.help_text} A share: 0.02 is 2%."
        return field

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fields
        return [READ_AS.get(name, name) for name in fields]

    @admin.display(description="Starting equity")
    def starting_equity_shown(self, bot):
        if bot.starting_equity is None:
            return "not set"
        return f"{bot.starting_equity:,.2f} {bot.quote_currency}"

    @admin.display(description="Unknown exit alert share")
    def unknown_exit_share_shown(self, bot):
        return f"above {bot.unknown_exit_alert_percent} of the closes in 24 hours"

    @admin.display(description="Known exit reasons")
    def exit_reasons_shown(self, bot):
        return ", ".join(bot.known_exit_reasons) or "none"
