"""django-rq's queue dashboard inside the admin, behind its own permission check."""

from functools import wraps

from csp.decorators import csp_update
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import URLPattern
from django_rq.admin import QueueAdmin

from tradeops.roles import QUEUE_DASHBOARD


def queue_dashboard_refused(request):
    """403 in the admin's own page (its navigation, its favicon), saying who may open it."""
    context = {
        **admin.site.each_context(request),
        "title": "Queue dashboard",
        "who_may": "The queue dashboard is for superusers and users granted django_rq.admin: "
        "it empties queues and deletes or requeues jobs outside every service and audit "
        "trail, so no role has it. The jobs' outcomes are under Job runs.",
    }
    return TemplateResponse(request, "admin/403.html", context, status=403)


class QueueDashboardAdmin(QueueAdmin):
    """django-rq's queue dashboard empties queues and deletes or requeues jobs outside every
    service and audit trail, so it is for superusers and users granted `django_rq.admin` (no
    role has it). Its views only ask for staff: every one of its URLs checks the grant first."""

    def may_drive(self, request):
        return request.user.has_perm(QUEUE_DASHBOARD)

    def has_module_permission(self, request):
        return self.may_drive(request)

    def has_view_permission(self, request, obj=None):
        return self.may_drive(request)

    def has_change_permission(self, request, obj=None):
        return self.may_drive(request)

    def get_urls(self):
        return [
            URLPattern(url.pattern, self._guard(url.callback), url.default_args, url.name)
            for url in super().get_urls()
        ]

    def _guard(self, view):
        # django-rq's own templates carry inline scripts; only on these superuser pages.
        @csp_update({"script-src": ["'unsafe-inline'"]})
        @wraps(view)
        def guarded(request, *args, **kwargs):
            # Anonymous requests go on: to the login page, or to the stats' own token check.
            if request.user.is_authenticated and not self.may_drive(request):
                return queue_dashboard_refused(request)
            return view(request, *args, **kwargs)

        return guarded


@admin.site.admin_view
def queue_app_index(request):
    """The dashboard's app page (/admin/django_rq/): refused (403) like its other pages, where the
    admin would answer a user who may not see the app "not found"."""
    if not request.user.has_perm(QUEUE_DASHBOARD):
        return queue_dashboard_refused(request)
    return admin.site.app_index(request, "django_rq")
