"""Writes of the core domain: bots, their API tokens and their trading mode."""

import datetime
import secrets
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tradeops import signals
from tradeops.audit import person, record_audit, require_note
from tradeops.models import DEFAULT_EXIT_REASONS, ApiToken, Bot, TradingMode
from tradeops.models.bots import TRADING_STRICTNESS
from tradeops.roles import (
    EXIT_ALL,
    RESUME_TRADING,
    SET_CIRCUIT_BREAKER,
    STOP_ENTRIES,
    STOP_FLEET_ENTRIES,
)


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
    The bot is created at `now` (the clock; now if not given).

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
    now = now or timezone.now()
    with transaction.atomic():
        bot = Bot.objects.create(
            slug=slug,
            name=name or slug,
            exchange=exchange,
            known_exit_reasons=list(known_exit_reasons or DEFAULT_EXIT_REASONS),
            shadow_of=shadow_of,
            created_at=now,
        )
        raw_token = issue_api_token(bot, created_by=created_by)
        if shadow_of is not None:
            shadow_created(bot, by=created_by, now=now)
    return bot, raw_token


def shadow_created(bot, *, by=None, now=None):
    """A shadow was just saved (create_bot, the admin's add page): the decision framework gives
    it the release it should run, in the caller's transaction, and it takes its live bot's
    trading mode; `bot` is refreshed to show it."""
    now = now or timezone.now()
    signals.shadow_created.send(sender=Bot, bot=bot, by=by, now=now)
    live = Bot.objects.get(pk=bot.shadow_of_id)
    if live.is_stopped:
        _apply_mode(bot, live.trading_mode, by=by or "create_bot", note=_mirrored(live), now=now)
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


# -- The trading mode (docs/bot-api.md, "Stopping a bot"): what the bot may do, changed by
# people with a note (stopping is an Operator's, exit all and resuming a Team lead's), by the
# circuit breaker (stopping only: a resume is never automatic), always audited, mirrored onto the
# shadow.

MODE_PERMISSIONS = {TradingMode.STOP_ENTRIES: STOP_ENTRIES, TradingMode.EXIT_ALL: EXIT_ALL}


def set_trading_mode(bot, mode, *, by, note, now=None):
    """Set `bot`'s trading mode, audited (who, when, from, to, why), with its shadow's; the bot
    is told by its next pull and by a push. `by` is a user, or the name of a job or command,
    which may stop a bot but never resume it. Returns the bot as changed.

    ValidationError: an unknown mode, no note, a shadow (it follows its live bot), the mode it
    already has, or a resume by no person. PermissionDenied: a user whose role may not."""
    now = now or timezone.now()
    if mode not in TradingMode.values:
        raise ValidationError({"mode": f"unknown trading mode {mode!r}"})
    require_note(note, "a change of trading mode")
    if bot.is_shadow:
        raise ValidationError(
            f"{bot} is a shadow: it follows the trading mode of {bot.shadow_of}; change that"
        )
    with transaction.atomic():
        locked = Bot.objects.select_for_update().get(pk=bot.pk)
        current = locked.trading_mode
        if current == mode:
            raise ValidationError(f"{bot} is already {locked.get_trading_mode_display().lower()}")
        resumes = TRADING_STRICTNESS[mode] < TRADING_STRICTNESS[current]
        user = person(by)
        if resumes and user is None:
            raise ValidationError("a resume is a Team lead's, with a note: never automatic")
        needed = RESUME_TRADING if resumes else MODE_PERMISSIONS[mode]
        if user is not None and not user.has_perm(needed):
            raise PermissionDenied(f"{user} may not set {bot} to {mode}")
        _apply_mode(locked, mode, by=by, note=note, now=now)
        shadow = Bot.objects.select_for_update().filter(shadow_of=locked).first()
        if shadow is not None and shadow.trading_mode != mode:
            _apply_mode(shadow, mode, by=by, note=_mirrored(locked), now=now)
    locked.refresh_from_db()
    return locked


def _mirrored(live):
    return f"mirrors its live bot {live.slug} ({live.trading_why})"


def _apply_mode(bot, mode, *, by, note, now):
    before = bot.trading_mode
    Bot.objects.filter(pk=bot.pk).update(
        trading_mode=mode,
        trading_version=F("trading_version") + 1,
        trading_changed_at=now,
        trading_changed_by=str(by),
        trading_note=note,
    )
    bot.refresh_from_db()
    record_audit(
        bot,
        "trading mode",
        actor=by,
        from_state=before,
        to_state=mode,
        note=note,
        data={"trading_version": bot.trading_version},
        at=now,
    )
    # The bot's webhook is pushed the new mode once this commits (experiments.releases.push).
    signals.trading_mode_changed.send(sender=Bot, bot=bot, now=now)


def stop_fleet_entries(*, by, note, now=None):
    """Stop the entries of every active live bot still trading (an exchange outage), with one
    note: a Team lead's. Each bot's change is its own audit row; a bot already stopped further
    is left as it is. Returns the bots stopped."""
    now = now or timezone.now()
    require_note(note, "a fleet-wide stop")
    if not by.has_perm(STOP_FLEET_ENTRIES):
        raise PermissionDenied(f"{by} may not stop the whole fleet")
    bots = Bot.objects.live().filter(is_active=True, trading_mode=TradingMode.TRADE)
    with transaction.atomic():
        # Every bot's row first, in one order, before the first audit row takes the audit
        # chain's lock: a stop of one bot meanwhile (its row, then the chain) waits instead of
        # deadlocking; one changed meanwhile is left as it now is.
        locked = list(bots.select_for_update().order_by("pk"))
        return [
            set_trading_mode(bot, TradingMode.STOP_ENTRIES, by=by, note=note, now=now)
            for bot in sorted(locked, key=lambda bot: bot.slug)
            if bot.trading_mode == TradingMode.TRADE
        ]


def set_circuit_breaker(bot, pct, *, by, note="", now=None):
    """Set the bot's intraday circuit breaker: entries stop when today's equity change is `pct`
    (a loss, in %) or worse. A Team lead's, audited."""
    if not by.has_perm(SET_CIRCUIT_BREAKER):
        raise PermissionDenied(f"{by} may not set the circuit breaker of {bot}")
    if bot.is_shadow:
        raise ValidationError(f"{bot} is a shadow: it follows {bot.shadow_of}, set that one's")
    try:
        pct = Decimal(str(pct)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationError({"breaker_pct": f"not a number: {pct!r}"}) from None
    if not pct.is_finite() or not Decimal(-100) < pct < 0:
        raise ValidationError({"breaker_pct": "a loss in %: between -100 and 0, e.g. -3.00"})
    with transaction.atomic():
        before = (
            Bot.objects.select_for_update().values_list("breaker_pct", flat=True).get(pk=bot.pk)
        )
        Bot.objects.filter(pk=bot.pk).update(breaker_pct=pct)
        record_audit(
            bot,
            "circuit breaker",
            actor=by,
            from_state=f"{before}%",
            to_state=f"{pct}%",
            note=note,
            at=now,
        )
    bot.refresh_from_db()
    return bot
