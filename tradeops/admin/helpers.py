"""How the core's pages show stored values: JSON, decimals and money, for reading."""

import json

from django.contrib import admin
from django.utils.html import format_html


def pretty_json(value):
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


def plain_decimal(value):
    """A stored decimal without its trailing zeros (0.500000000000 -> 0.5), never in E-notation."""
    return None if value is None else f"{value.normalize():f}"


def money(value):
    """Money rounded for reading; the stored value keeps every digit."""
    return None if value is None else f"{value:,.2f}"


def decimal_column(field, description=None, formatter=plain_decimal):
    """A sortable list column showing a decimal field for reading."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def column(obj):
        return formatter(getattr(obj, field))

    column.__name__ = field  # the column's CSS class names the field
    return column
