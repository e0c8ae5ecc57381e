"""The bot's config pull, GET /api/v1/config (experiments.releases.pull), included under "api/v1/"
by tradeops.urls beside the ingestion API."""

from django.urls import path

from experiments.releases import pull

urlpatterns = [path("config", pull.config, name="config")]
