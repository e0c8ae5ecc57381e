"""The base of every page of what the bot reports and of the trails: read-only."""

from django.contrib import admin
from django.db import models

from tradeops.admin.helpers import plain_decimal
from tradeops.admin_links import LinksTheViewerMayOpen


def readable_decimal(field):
    """A decimal field on a read-only page as `plain_decimal` reads it (0.5, not the column's
    0.500000000000), labelled as the field."""

    @admin.display(description=field.verbose_name)
    def value(obj):
        return plain_decimal(getattr(obj, field.name))

    return value


class ReadOnlyAdmin(LinksTheViewerMayOpen, admin.ModelAdmin):
    """What the bot reports is evidence: nobody edits or deletes it from the admin."""

    def get_fields(self, request, obj=None):
        decimals = {
            f.name: f for f in self.model._meta.fields if isinstance(f, models.DecimalField)
        }
        return [
            readable_decimal(decimals[name]) if name in decimals else name
            for name in super().get_fields(request, obj)
        ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
