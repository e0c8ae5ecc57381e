from django.contrib import admin
from django.urls import path, re_path
from django.views.generic import RedirectView

from tradeops import api
from tradeops.models import IngestKind

# The RQ queue dashboard lives inside the admin (/admin/django_rq/...), registered by
# tradeops.admin behind its own permission check.
urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    re_path(rf"^api/v1/ingest/(?P<kind>{'|'.join(IngestKind.values)})$", api.ingest, name="ingest"),
]
