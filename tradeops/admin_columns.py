"""Compact list columns, so an evidence list shows every column whole at 1,400 px: a moment to
the minute (the header says UTC, the cell does not repeat it), a release by its tag (the bot has
its own column), a header in a word or two."""

import datetime

from django.contrib import admin
from django.utils.html import format_html


def moment_column(field, description, *, empty="-"):
    """A datetime field as `2026-12-06 19:42` under "<description> UTC", sortable by the field;
    `empty` says what no moment means (a trade not closed yet is "open"). A narrow column puts
    the time under the date, never breaks the date."""

    @admin.display(description=f"{description} UTC", ordering=field)
    def column(obj):
        value = getattr(obj, field)
        if value is None:
            return empty
        value = value.astimezone(datetime.UTC)
        return format_html(
            '<span class="moment">{}</span> {}', f"{value:%Y-%m-%d}", f"{value:%H:%M}"
        )

    column.__name__ = field  # the column's CSS class names the field
    return column


def release_column(field, description):
    """A release by its tag (`v1.5.0-a`), linked to nothing, sortable by the field."""

    @admin.display(description=description, ordering=field)
    def column(obj):
        release = getattr(obj, field)
        return "-" if release is None else release.tag

    column.__name__ = field
    return column
