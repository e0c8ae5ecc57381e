from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from tradeops.admin.queues import queue_app_index

# The RQ queue dashboard lives inside the admin (/admin/django_rq/...), registered by
# tradeops.admin behind its own permission check. The apps' URLs are included by name, so the
# core imports none of them.
urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/django_rq/", queue_app_index),
    path("admin/", admin.site.urls),
    path("api/v1/", include("ingestion.urls")),
    path("api/v1/", include("experiments.urls")),
]
