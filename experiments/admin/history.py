"""The audit history on the change pages of releases, freezes, experiments and scaling steps:
the table and trigger fields they show (shared, so no admin module imports another). The audit
list itself is the core's (tradeops.admin.audit)."""

import json

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from tradeops.admin.helpers import pretty_json
from tradeops.audit import history


def _plain(value):
    """A stored value as people read it: text unquoted, a mapping as "name: value" pairs."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_plain(inner)}" for key, inner in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(_plain(inner) for inner in value) or "none"
    if value is None or value == "":
        return "none" if value is None else "(empty)"
    return value if isinstance(value, str) else json.dumps(value)


def _details(data):
    """An audit row's data in a line: an edit's values as field: old → new, a release's changes
    as "param: value" (not JSON)."""
    return "; ".join(
        f"{key}: {_plain(value[0])} → {_plain(value[1])}"
        if isinstance(value, list) and len(value) == 2
        else (_plain(value) if key == "changes" else f"{key.replace('_', ' ')}: {_plain(value)}")
        for key, value in data.items()
    )


def history_table(obj):
    """The audit history of `obj`, oldest first, as a table for a change page."""
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.actor_name,
                e.action,
                e.from_state,
                e.to_state,
                e.note,
                _details(e.data),
            )
            for e in history(obj)
        ),
    )
    return format_html(
        "<table><thead><tr><th>when (UTC)</th><th>who</th><th>action</th><th>from → to</th>"
        "<th>note</th><th>details</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


class HistoryMixin:
    @admin.display(description="audit history")
    def history(self, obj):
        return history_table(obj)


class WatchedChangeMixin(HistoryMixin):
    """What an experiment and a scaling step both show: the triggers that watch them, what fired,
    and their audit history."""

    @admin.display(description="rollback triggers (frozen at approval)")
    def triggers_display(self, obj):
        return pretty_json(obj.triggers) if obj.triggers else "set at approval"

    @admin.display(description="trigger evidence")
    def trigger_evidence_display(self, obj):
        return pretty_json(obj.trigger_evidence) if obj.trigger_evidence else "-"
