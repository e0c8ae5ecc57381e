"""What the bot reports, read-only: trades, fills, decision counts, health events, equity,
quarantined records and ingest batches. The long lists page and filter without counting or
sorting the whole history (tradeops.admin_lists)."""

import json

from django.contrib import admin
from django.utils.html import format_html

from tradeops.admin.helpers import decimal_column, money, pretty_json
from tradeops.admin.options import ReadOnlyAdmin
from tradeops.admin_columns import moment_column, release_column
from tradeops.admin_lists import ExitReasonFilter, LongListAdmin, ReleaseFilter, date_filter

# Listed and sortable: `sortable_by` matches list_display's entries, here the column itself.
TRADE_NET_PNL = decimal_column("net_pnl", "net P&L", money)
TRADE_OPENED = moment_column("opened_at", "opened")
FILL_AT = moment_column("ts", "at")
QUARANTINE_LAST_SEEN = moment_column("last_seen_at", "last seen")


class TradeAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = [
        "external_id",
        "bot",
        "symbol",
        "side",
        TRADE_OPENED,
        moment_column("closed_at", "closed", empty="open"),
        decimal_column("entry_price", "entry"),
        decimal_column("exit_price", "exit"),
        TRADE_NET_PNL,
        "exit_reason",
        release_column("release", "release"),
    ]
    list_filter = [
        "bot",
        "status",
        "side",
        ExitReasonFilter,
        ("release", ReleaseFilter),
        date_filter("opened_at"),
        date_filter("closed_at"),
    ]
    # An exact trade id, or the start of a symbol: both read an index (migration 0014).
    search_fields = ["external_id__exact", "^symbol"]
    search_help_text = "A trade's exact id, or the start of a symbol."
    # The columns with an index to sort by; the others would sort the whole history.
    sortable_by = [TRADE_OPENED, TRADE_NET_PNL]
    list_select_related = ["bot", "release__bot"]


class FillAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = [
        "external_id",
        "bot",
        "trade_id",
        FILL_AT,
        "side",
        decimal_column("price"),
        decimal_column("qty"),
        decimal_column("fee"),
        "liquidity",
    ]
    list_filter = [
        "bot",
        "side",
        "liquidity",
        ("trade", admin.EmptyFieldListFilter),
        date_filter("ts"),
    ]
    search_fields = ["external_id__exact", "trade_external_id__exact"]
    search_help_text = "A fill's or its trade's exact id."
    sortable_by = [FILL_AT]
    list_select_related = ["bot"]

    @admin.display(description="trade")
    def trade_id(self, fill):
        return fill.trade_external_id


class DecisionCountAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = ["day", "bot", "symbol", "outcome", "reason", "count"]
    list_filter = ["bot", "outcome", date_filter("day")]
    search_fields = ["symbol__exact", "reason__exact"]
    search_help_text = "An exact symbol or rejection reason."
    sortable_by = ["day"]
    list_select_related = ["bot"]


class HealthEventAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = ["ts", "bot", "kind", "state", "detail"]
    list_filter = ["bot", "kind", "state", date_filter("ts")]
    search_fields = ["detail"]
    sortable_by = ["ts"]
    list_select_related = ["bot"]


class EquitySnapshotAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = ["ts", "bot", decimal_column("equity", formatter=money)]
    list_filter = ["bot", date_filter("ts")]
    sortable_by = ["ts"]
    list_select_related = ["bot"]


class QuarantinedRecordAdmin(LongListAdmin, ReadOnlyAdmin):
    list_display = [
        QUARANTINE_LAST_SEEN,
        "bot",
        "kind",
        "reason",
        "external_id",
        "error_summary",
        "seen",
        moment_column("first_seen_at", "first seen"),
    ]
    list_filter = ["bot", "kind", "reason", date_filter("last_seen_at")]
    search_fields = ["external_id__exact"]
    search_help_text = "A record's exact id as the bot sent it."
    sortable_by = [QUARANTINE_LAST_SEEN]
    list_select_related = ["bot"]
    exclude = ["raw", "errors"]
    readonly_fields = ["errors_display", "payload_display"]

    @admin.display(description="seen")
    def seen(self, record):
        return f"{record.times_seen}×"

    @admin.display(description="errors")
    def error_summary(self, obj):
        return "; ".join(f"{name}: {message}" for name, message in obj.errors.items())

    @admin.display(description="errors")
    def errors_display(self, obj):
        return pretty_json(obj.errors)

    @admin.display(description="payload as received")
    def payload_display(self, obj):
        try:
            return pretty_json(json.loads(obj.raw))
        except ValueError:
            return format_html("<pre>{}</pre>", obj.raw)


class IngestBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "received_at",
        "bot",
        "kind",
        "source",
        "records",
        "accepted",
        "updated",
        "unchanged",
        "quarantined",
    ]
    list_filter = ["bot", "kind"]
    search_fields = ["source"]
    date_hierarchy = "received_at"
    list_select_related = ["bot"]
