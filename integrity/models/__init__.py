"""Integrity's data model: incidents and the check runs that open them (incidents), where alerts
go and each alert sent (alerts), a bot's release webhook and each push to it (pushes), cleanup
plans (cleanup), and the sent-at-least-once message alerts and pushes share (base)."""

from integrity.models.alerts import AlertChannel, AlertDelivery
from integrity.models.base import Delivery
from integrity.models.cleanup import CleanupPlan
from integrity.models.incidents import IntegrityCheckRun, IntegrityIncident
from integrity.models.pushes import ReleasePush, ReleaseWebhook, validate_outbound_url

__all__ = [
    "AlertChannel",
    "AlertDelivery",
    "CleanupPlan",
    "Delivery",
    "IntegrityCheckRun",
    "IntegrityIncident",
    "ReleasePush",
    "ReleaseWebhook",
    # Migration 0009 names the webhook URL's validator integrity.models.validate_outbound_url.
    "validate_outbound_url",
]
