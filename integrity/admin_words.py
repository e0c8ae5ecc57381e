"""What integrity stores as data, said in words on its pages (issue 23, sections 4 and 5): an
incident's detail with links to the trades it names, and a cleanup plan's reasons with money
at 2 decimals in the bot's quote currency."""

import re

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from tradeops.models import Trade

# The fields a reason names whose figures are money (ingestion's P&L consistency rule).
MONEY_FIELDS = {"net_pnl", "gross_pnl", "fees", "funding"}
A_FIGURE = re.compile(r"-?\d+\.\d+")


def reason_shown(reason, currency):
    """'net_pnl: net_pnl 33.445539820000 is inconsistent with … = 29.151460440000' with each
    figure as '33.45 USDT'. Should every figure read the same at 2 decimals (a difference
    beyond the tolerance but under a cent), they keep their digits: the reason must still show
    why."""
    field = reason.split(":", 1)[0]
    if field not in MONEY_FIELDS:
        return reason
    figures = A_FIGURE.findall(reason)
    cents = {f"{float(figure):,.2f}" for figure in figures}
    if len(figures) > 1 and len(cents) == 1:
        return A_FIGURE.sub(lambda m: f"{m.group().rstrip('0')} {currency}", reason)
    return A_FIGURE.sub(lambda m: f"{float(m.group()):,.2f} {currency}", reason)


def _label(key):
    return key.replace("_", " ")


def _trades(bot, external_ids):
    """Each trade id linked to its trade's page (the bot's trade by that id), or as text if it
    is no longer stored (moved to quarantine)."""
    stored = dict(
        Trade.objects.filter(bot=bot, external_id__in=external_ids).values_list("external_id", "pk")
    )
    return format_html_join(
        ", ",
        "{}",
        (
            (
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:tradeops_trade_change", args=[stored[ext]]),
                    ext,
                )
                if ext in stored
                else ext,
            )
            for ext in external_ids
        ),
    )


def _value(value):
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{_label(str(k))}: {_value(v)}" for k, v in value.items()) or "none"
    return "-" if value in (None, "") else str(value)


def detail_in_words(incident):
    """An incident's detail as lines 'what: value', the trades it names linked."""
    detail = incident.detail or {}
    if not isinstance(detail, dict):
        return _value(detail)
    lines = []
    for key, value in detail.items():
        if key in ("trade_ids", "external_ids") and isinstance(value, list):
            shown = _trades(incident.bot, [str(ext) for ext in value]) or "none"
            lines.append(format_html("trades: {}", shown))
        else:
            lines.append(format_html("{}: {}", _label(key), _value(value)))
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)) or "none"
