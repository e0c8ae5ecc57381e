"""GET /api/v1/config: the config the bot must run now, and why (docs/design.md, "The loop
with the bot"). The bot polls it with its bearer token (the same check and bad-token throttle as
ingestion) and `If-None-Match`: an unchanged config answers 304 from the bot's own row, which the
token check reads anyway, so a fleet polling every few seconds costs a token lookup per poll.
Nothing is cached: the request after a change (a trigger stopping an experiment) serves it.

The config carries the bot's trading mode (`trading`: trade, stop_entries or exit_all, with
`trading_version`, `trading_since`, `trading_why`), read from the same row: a change of mode
changes the ETag (Bot.config_etag), so the next poll serves it.

A shadow bot (Bot.shadow_of) is served its own current release, which experiments.shadows keeps:
the experiment's baseline while one runs on its live bot, else what the live bot runs; its
config says it is a shadow and runs dry-run.

`?format=freqtrade` serves the current release as a freqtrade strategy parameter file
(experiments.releases.freqtrade), for a freqtrade bot's deploy step. Its ETag differs from the plain
one's and also names the bot's strategy name and parameter spaces (its freqtrade source, one
more query), which shape the file too.
"""

import hashlib
import json

from django.http import JsonResponse
from django.views.decorators.http import condition, require_GET

from experiments.releases.freqtrade import ExportRefused, file_name, parameter_file
from ingestion.api import bot_token_required, database_unavailable_is_503, error_response
from ingestion.models import FreqtradeSource
from tradeops.models import Bot

FREQTRADE = "freqtrade"


def _etag(request):
    etag, wanted = request.bot.config_etag, request.GET.get("format")
    if wanted not in (None, FREQTRADE):
        return None  # refused by the view (400), never "not modified"
    if etag is None or wanted is None:
        return etag
    source = FreqtradeSource.objects.filter(bot=request.bot).first()
    shape = [source.strategy_name, source.param_spaces] if source else None
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:12]
    return f'{etag[:-1]}.ft-{digest}"'


@require_GET
@database_unavailable_is_503
@bot_token_required
@condition(etag_func=_etag)
def config(request):
    wanted = request.GET.get("format")
    if wanted not in (None, FREQTRADE):
        return error_response(400, f"unknown format {wanted!r}: leave it out, or use freqtrade")
    if request.bot.current_release_id is None:
        return error_response(404, "no release is current for this bot yet")
    bot = Bot.objects.select_related("current_release", "current_change", "shadow_of").get(
        pk=request.bot.pk
    )
    if wanted == FREQTRADE:
        source = FreqtradeSource.objects.filter(bot=bot).first()
        try:
            response = JsonResponse(
                parameter_file(bot.current_release, source, bot, with_trading=True)
            )
        except ExportRefused as exc:
            return error_response(409, str(exc))
        response["Content-Disposition"] = f'attachment; filename="{file_name(source)}"'
    else:
        response = JsonResponse(bot.running_config())
    # The bot's own config, behind its token: no shared cache keeps it, and the bot revalidates.
    response["Cache-Control"] = "private, no-cache"
    return response
