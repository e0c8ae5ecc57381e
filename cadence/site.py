"""The admin site of TradeOps: Django's, opening on the command center (plan section 6), with
the daily and weekly review pages and the immediate action checklist beside the models."""

from django.contrib import admin
from django.urls import path


class CommandCenterSite(admin.AdminSite):
    site_header = "TradeOps"
    site_title = "TradeOps"
    index_title = "Command center"
    index_template = "admin/cadence/command_center.html"

    def index(self, request, extra_context=None):
        from cadence.views import command_center_context

        return super().index(request, {**command_center_context(request), **(extra_context or {})})

    def get_urls(self):
        from cadence import views

        pages = [
            ("review/daily/<slug:slug>/", views.todays_review, "cadence_todays_review"),
            (
                "review/daily/<slug:slug>/<str:day>/",
                views.daily_review_page,
                "cadence_daily_review",
            ),
            ("review/weekly/<slug:slug>/", views.this_weeks_review, "cadence_this_weeks_review"),
            (
                "review/weekly/<slug:slug>/<str:week>/",
                views.weekly_review_page,
                "cadence_weekly_review",
            ),
            ("checklist/", views.checklist_page, "cadence_checklist"),
        ]
        return [
            path(route, self.admin_view(view), name=name) for route, view, name in pages
        ] + super().get_urls()
