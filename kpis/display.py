"""KPI figures as a page shows them (the exports keep the registry's plain text): an amount
labelled with the bot's quote currency, a rejection code in words with the code kept in its
title (a search for it still finds it), cost drift with its parts named."""

from django.utils.html import format_html, format_html_join

from kpis.registry import LABELS, format_figure, is_money, money, percent


def in_words(code):
    """A code as the team says it: "spread_too_wide" is "spread too wide"."""
    return code.replace("_", " ")


def code_html(code):
    return format_html('<span title="{}">{}</span>', code, in_words(code))


def label_html(key, currency):
    """The KPI's label, with the currency an amount is in: "net P&L/day (USDT)"."""
    label = LABELS.get(key, key)
    shown = format_html('<span title="{}">{}</span>', label, in_words(label))
    if "_" not in label:
        shown = label
    return format_html("{} ({})", shown, currency) if is_money(key) else format_html("{}", shown)


def figure_html(key, value, currency):
    """The figure as people read it: what each part of a composite figure is, in words."""
    if key == "top_rejection_reasons" and value:
        return format_html_join(
            ", ",
            "{} {} ({})",
            ((code_html(r["reason"]), r["count"], percent(r["share"])) for r in value),
        )
    if key == "cost_drift" and value:
        return format_html_join(
            "; ",
            "{}: {} {} in sum, {} {} mean absolute",
            (
                (part, money(drift["sum"]), currency, money(drift["mae"]), currency)
                for part, drift in value.items()
            ),
        )
    return format_figure(key, value)
