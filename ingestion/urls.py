from django.urls import re_path

from ingestion import api
from tradeops.models import IngestKind

urlpatterns = [
    re_path(rf"^ingest/(?P<kind>{'|'.join(IngestKind.values)})$", api.ingest, name="ingest"),
]
