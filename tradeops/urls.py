from django.contrib import admin
from django.urls import path, re_path
from django.views.generic import RedirectView

from tradeops import api
from tradeops.models import IngestKind

# django-rq 4 registers its queue dashboard inside the admin (/admin/django_rq/...).
urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    re_path(rf"^api/v1/ingest/(?P<kind>{'|'.join(IngestKind.values)})$", api.ingest, name="ingest"),
]
