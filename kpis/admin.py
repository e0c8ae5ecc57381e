from django.contrib import admin
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from kpis import reports
from kpis.display import figure_html, label_html
from kpis.models import BaselineReport, KPISnapshot
from kpis.registry import FIGURE_KEYS, LABELS, format_figure, is_money
from tradeops.admin.helpers import pretty_json
from tradeops.admin.options import ReadOnlyAdmin
from tradeops.exports import attachment

EXPORTS = {
    "md": ("text/markdown; charset=utf-8", reports.as_markdown),
    "csv": ("text/csv; charset=utf-8", reports.as_csv),
    "json": ("application/json", reports.as_json),
}


def figure_rows_html(currency, *columns):
    """[(label, figure, ...)] for every KPI, one figure a column of figures, each amount in the
    bot's quote currency (its label says so) and each code in words."""
    return [
        (
            label_html(key, currency),
            *(figure_html(key, figures.get(key), currency) for figures in columns),
        )
        for key in FIGURE_KEYS
    ]


def figure_column(key):
    @admin.display(description=LABELS[key])
    def column(snapshot):
        figure = format_figure(key, snapshot.figures.get(key))
        return f"{figure} {snapshot.bot.quote_currency}" if is_money(key) else figure

    return column


@admin.register(KPISnapshot)
class KPISnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "as_of",
        "bot",
        "window_days",
        "release",
        figure_column("trades"),
        figure_column("avg_pnl_per_trade"),
        figure_column("profit_factor"),
        figure_column("win_rate"),
        "computed_at",
    ]
    list_filter = ["bot", "window_days", "release"]
    date_hierarchy = "as_of"
    list_select_related = ["bot", "release"]
    exclude = ["figures", "daily", "inputs"]
    readonly_fields = ["figures_table", "inputs_display"]

    @admin.display(description="figures")
    def figures_table(self, obj):
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            figure_rows_html(obj.bot.quote_currency, obj.figures),
        )
        return format_html("<table>{}</table>", rows)

    @admin.display(description="inputs")
    def inputs_display(self, obj):
        return pretty_json(obj.inputs)


@admin.register(BaselineReport)
class BaselineReportAdmin(ReadOnlyAdmin):
    list_display = ["release", "as_of", "captured_at", "captured_by", "report_link"]
    list_filter = ["release__bot"]
    date_hierarchy = "as_of"
    list_select_related = ["release__bot", "captured_by"]

    @admin.display(description="report")
    def report_link(self, obj):
        return format_html('<a href="{}">open report</a>', self._url("change", obj))

    def _url(self, name, obj, *args):
        return reverse(f"admin:kpis_baselinereport_{name}", args=[obj.pk, *args])

    def get_urls(self):
        export = path(
            "<int:pk>/export/<str:fmt>/",
            self.admin_site.admin_view(self.export_view),
            name="kpis_baselinereport_export",
        )
        return [export, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        report = get_object_or_404(
            BaselineReport.objects.select_related("release__bot", "snapshot_7d", "snapshot_30d"),
            pk=object_id,
        )
        if not self.has_view_permission(request, report):
            return super().change_view(request, object_id, form_url, extra_context)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Baseline report: {report.release.tag} as of {report.as_of}",
            "report": report,
            "rows": figure_rows_html(
                report.release.bot.quote_currency,
                report.snapshot_7d.figures,
                report.snapshot_30d.figures,
            ),
            "charts": reports.baseline_charts(report),
            "exports": [(fmt.upper(), self._url("export", report, fmt)) for fmt in EXPORTS],
            "warnings": reports.coverage_warnings(report),
        }
        return TemplateResponse(request, "admin/kpis/baselinereport/report.html", context)

    def export_view(self, request, pk, fmt):
        report = get_object_or_404(BaselineReport, pk=pk)
        if fmt not in EXPORTS or not self.has_view_permission(request, report):
            return HttpResponse(status=404)
        content_type, render = EXPORTS[fmt]
        response = HttpResponse(render(report), content_type=content_type)
        filename = f"baseline-{report.release.bot.slug}-{report.release.tag}-{report.as_of}.{fmt}"
        return attachment(response, filename)
