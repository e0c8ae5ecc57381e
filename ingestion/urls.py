from django.urls import path, re_path

from ingestion import api, bot_config
from tradeops.models import IngestKind

urlpatterns = [
    path("config", bot_config.config, name="config"),
    re_path(rf"^ingest/(?P<kind>{'|'.join(IngestKind.values)})$", api.ingest, name="ingest"),
]
