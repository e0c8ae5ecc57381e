"""GET /api/v1/config: the config the bot must run now, and why (DESIGN.md, "The loop with the
bot"). The bot polls it with its bearer token (the same check and bad-token throttle as
ingestion) and `If-None-Match`: an unchanged config answers 304 from the bot's own row, which the
token check reads anyway, so a fleet polling every few seconds costs a token lookup per poll.
Nothing is cached: the request after a change (a trigger stopping an experiment) serves it.
"""

from django.http import JsonResponse
from django.views.decorators.http import condition, require_GET

from ingestion.api import bot_token_required, database_unavailable_is_503, error_response
from tradeops.models import Bot


def _etag(request):
    return request.bot.config_etag


@require_GET
@database_unavailable_is_503
@bot_token_required
@condition(etag_func=_etag)
def config(request):
    if request.bot.current_release_id is None:
        return error_response(404, "no release is current for this bot yet")
    bot = Bot.objects.select_related("current_release", "current_change").get(pk=request.bot.pk)
    response = JsonResponse(bot.running_config())
    # The bot's own config, behind its token: no shared cache keeps it, and the bot revalidates.
    response["Cache-Control"] = "private, no-cache"
    return response
