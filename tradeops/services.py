"""Writes of the core domain: bots and their API tokens."""

import datetime
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tradeops import signals
from tradeops.models import DEFAULT_EXIT_REASONS, ApiToken, Bot


def create_bot(
    *,
    slug,
    name="",
    exchange="",
    known_exit_reasons=None,
    created_by=None,
    shadow_of=None,
    now=None,
):
    """Create a bot and its first API token; the raw token is returned once and never stored.

    `shadow_of`: the new bot is that live bot's shadow, on its exchange (unless given) with its
    exit reasons, and runs at once the release a shadow of it should run (the decision framework
    sets it on tradeops.signals.shadow_created). A shadow of a shadow, or a second shadow of one
    live bot, is refused (ValidationError on shadow_of; the database refuses them too)."""
    if shadow_of is not None:
        refusal = Bot(slug=slug).shadow_refusal(shadow_of)
        if refusal:
            raise ValidationError({"shadow_of": refusal})
        exchange = exchange or shadow_of.exchange
        known_exit_reasons = known_exit_reasons or shadow_of.known_exit_reasons
    with transaction.atomic():
        bot = Bot.objects.create(
            slug=slug,
            name=name or slug,
            exchange=exchange,
            known_exit_reasons=list(known_exit_reasons or DEFAULT_EXIT_REASONS),
            shadow_of=shadow_of,
        )
        raw_token = issue_api_token(bot, created_by=created_by)
        if shadow_of is not None:
            shadow_created(bot, by=created_by, now=now)
    return bot, raw_token


def shadow_created(bot, *, by=None, now=None):
    """A shadow was just saved (create_bot, the admin's add page): the decision framework gives
    it the release it should run, in the caller's transaction; `bot` is refreshed to show it."""
    signals.shadow_created.send(sender=Bot, bot=bot, by=by, now=now or timezone.now())
    bot.refresh_from_db()


def issue_api_token(bot, *, label="", created_by=None):
    raw_token = f"tok_{secrets.token_urlsafe(32)}"
    ApiToken.objects.create(
        bot=bot,
        label=label,
        prefix=raw_token[:12],
        token_hash=ApiToken.hash_token(raw_token),
        created_by=created_by,
    )
    return raw_token


def revoke_api_tokens(tokens, *, revoked_by=None):
    return tokens.filter(revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=revoked_by
    )


# An address that sends this many bad tokens within one window gets 429 until the window ends.


LAST_USED_PRECISION = datetime.timedelta(minutes=1)


def authenticate_bot_token(raw_token):
    """The bot a bearer token belongs to, or None if the token is unknown or revoked."""
    if not raw_token:
        return None
    token = (
        ApiToken.objects.active()
        .select_related("bot")
        .filter(token_hash=ApiToken.hash_token(raw_token))
        .order_by()  # the hash is unique: no ordering (the default one joins the bot's)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # A bot polls its config every few seconds: when a token was last used is kept to the
    # minute, not written on every request.
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.bot
