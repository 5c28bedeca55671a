"""The one place that decides what a member reads when something fails."""

from __future__ import annotations

import logging
import math
import secrets as _random
from dataclasses import dataclass

import discord
from discord import app_commands

from bot import i18n
from bot.errors import UserError
from bot.lacale import errors as lc
from bot.ui.text import escape

log = logging.getLogger("vigie.errors")

_PERMISSION_KEYS = {
    "manage_guild": "perm.manage_guild",
    "administrator": "perm.administrator",
    "send_messages": "perm.send_messages",
    "embed_links": "perm.embed_links",
    "attach_files": "perm.attach_files",
    "view_channel": "perm.view_channel",
    "mention_everyone": "perm.mention_everyone",
    "send_messages_in_threads": "perm.send_messages_in_threads",
}


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    text: str
    #: Set for unexpected errors: the id is in the log beside the traceback.
    error_id: str | None = None


def new_error_id() -> str:
    return _random.token_hex(4)


def _permissions(locale: object, names: list[str]) -> str:
    return ", ".join(
        i18n.t(locale, _PERMISSION_KEYS[n]) if n in _PERMISSION_KEYS else n.replace("_", " ") for n in names
    )


def unwrap(error: BaseException) -> BaseException:
    while isinstance(error, (app_commands.CommandInvokeError, app_commands.TransformerError)) and error.__cause__:
        error = error.__cause__
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    return error


#: Values of a :class:`UserError` that services pass as the member typed them (services do
#: not import Discord, so they cannot escape): escaped here. Other values are numbers,
#: mentions built by the bot, or already quoted (``code_span``, ``escape``).
_RAW_VALUES = {
    "search.unknown_category": ("category",),
    "alert.error.exists": ("name",),
    "alert.error.unknown": ("name",),
    "alert.error.bad_size": ("value",),
    "alert.error.age_restricted": ("category",),
}

#: Values that are permission names (``discord.Permissions`` attributes), shown by their
#: names in the member's language.
_PERMISSION_VALUES = {
    "alert.error.channel_perms": "missing",
    "alert.error.thread_perms": "missing",
    "alert.error.forum_perms": "missing",
}


def _escaped_values(error: UserError, locale: object) -> dict[str, object]:
    values = dict(error.values)
    permissions = _PERMISSION_VALUES.get(error.key)
    if permissions is not None and isinstance(values.get(permissions), (list, tuple)):
        values[permissions] = _permissions(locale, [str(n) for n in values[permissions]])
    for name in _RAW_VALUES.get(error.key, ()):
        if isinstance(values.get(name), str):
            values[name] = escape(values[name])
    return values


def describe_error(error: BaseException, locale: object, *, context: str = "") -> ErrorMessage:
    """A short message in the member's language; unexpected errors are logged with an id."""
    error = unwrap(error)
    t = i18n.t
    match error:
        case UserError():
            return ErrorMessage(t(locale, error.key, **_escaped_values(error, locale)))
        case lc.InvalidRequest():
            field = {"q": "query", "cat": "category", "tmdbId": "tmdb"}.get(error.field, error.field)
            if error.limit is not None:
                return ErrorMessage(t(locale, "error.too_long", field=field, limit=error.limit))
            return ErrorMessage(t(locale, "error.invalid_value", field=field))
        case lc.MissingKey():
            return ErrorMessage(t(locale, "error.no_key"))
        case lc.KeyRefused(upload=True):
            return ErrorMessage(t(locale, "error.key_refused_upload"))
        case lc.KeyRefused():
            return ErrorMessage(t(locale, "error.key_refused"))
        case lc.KeyBusy():
            # Rounded up: "retry in N s" must not send the member back too early.
            return ErrorMessage(t(locale, "error.key_busy", seconds=max(1, math.ceil(error.retry_after))))
        case lc.RateLimited():
            return ErrorMessage(t(locale, "error.rate_limited", seconds=max(1, round(error.retry_after))))
        case lc.Duplicate():
            return ErrorMessage(t(locale, "error.duplicate"))
        case lc.ResponseTooLarge():
            return ErrorMessage(t(locale, "error.response_too_large"))
        case lc.Unavailable():
            return ErrorMessage(t(locale, "error.unavailable"))
        case lc.BadRequest():
            return ErrorMessage(t(locale, "error.bad_request", message=escape(error.message or "400")[:300]))
        case lc.NotFound():
            return ErrorMessage(t(locale, "error.not_found"))
        case app_commands.NoPrivateMessage():
            return ErrorMessage(t(locale, "error.guild_only"))
        case app_commands.MissingPermissions():
            return ErrorMessage(
                t(locale, "error.missing_permissions", permissions=_permissions(locale, error.missing_permissions))
            )
        case app_commands.BotMissingPermissions():
            return ErrorMessage(
                t(locale, "error.bot_missing_permissions", permissions=_permissions(locale, error.missing_permissions))
            )
        case app_commands.MissingRole() | app_commands.MissingAnyRole():
            return ErrorMessage(t(locale, "error.missing_role"))
        case app_commands.CommandOnCooldown():
            return ErrorMessage(t(locale, "error.cooldown", seconds=max(1, round(error.retry_after))))
        case app_commands.TransformerError():
            return ErrorMessage(t(locale, "error.invalid_value", field=escape(str(getattr(error, "value", ""))[:50])))
        case app_commands.CheckFailure():
            return ErrorMessage(t(locale, "error.check_failed"))
        case discord.NotFound() if getattr(error, "code", None) in (10062, 10015):
            # The interaction expired (took over 3 s to acknowledge): nothing can be said.
            log.warning("interaction expired before it could be answered (%s)", context)
            return ErrorMessage(t(locale, "error.expired"))
    error_id = new_error_id()
    log.error("unexpected error %s in %s", error_id, context or "interaction", exc_info=error)
    return ErrorMessage(t(locale, "error.unexpected", error_id=error_id), error_id)
