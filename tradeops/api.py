"""The bot-facing ingestion API: POST /api/v1/ingest/<kind> with a bearer token."""

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrity.schedules import watch_schedules_from_ingestion
from tradeops.parsing import UnparseableBody
from tradeops.services import authenticate_bot_token, ingest_body

BEARER = "bearer "


def _bearer_token(request):
    header = request.headers.get("Authorization", "")
    if header[: len(BEARER)].lower() != BEARER:
        return None
    return header[len(BEARER) :].strip()


def _read_limited(request, limit):
    """The body, or None if it is larger than `limit` bytes (checked before reading it all)."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
@require_POST
def ingest(request, kind):
    bot = authenticate_bot_token(_bearer_token(request))
    if bot is None:
        return JsonResponse({"error": "missing, invalid or revoked API token"}, status=401)
    limit = settings.INGEST_MAX_BODY_BYTES
    body = _read_limited(request, limit)
    if body is None:
        return JsonResponse(
            {"error": f"body larger than {limit} bytes; send the records in smaller batches"},
            status=413,
        )
    source = f"api:{request.META.get('REMOTE_ADDR', '')}"
    try:
        result = ingest_body(bot, kind, body, content_type=request.content_type, source=source)
    except UnparseableBody as exc:
        return JsonResponse({"error": f"unparseable body: {exc}", "quarantined": 1}, status=400)
    watch_schedules_from_ingestion()
    return JsonResponse(result.as_dict())
