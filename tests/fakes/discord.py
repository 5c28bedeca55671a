"""A fake Discord (REST API, gateway, CDN) on loopback, for end-to-end tests of the real bot.

The real discord.py client logs into it (``bot.discord_api_base.use_discord_api_base``), so
the tests exercise discord.py's own parsing, command sync, attachments, autocomplete,
components and modals. The fake checks what Discord checks (command sync payloads, message
limits, interaction acknowledgement rules and the 3 s deadline, permissions) and answers with
Discord's error codes, so a bug that Discord would reject fails here too.

Quick tour::

    async with FakeDiscord() as fake:
        guild = fake.add_guild(name="La Cale")
        use_discord_api_base(fake.api_base)
        ...  # start the bot with token fake.token
        rec = await fake.invoke("search", query="dune", category="films")
        msg = await rec.wait_final()
        assert "Dune" in msg["content"]

Everything the bot sends is recorded (``fake.requests``, ``fake.channel_messages()``,
interaction records) and every route the fake does not know is logged, answered 404 and kept
in ``fake.unhandled``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import hashlib
import hmac
import http
import itertools
import json
import logging
import mimetypes
import re
import secrets
import time
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from aiohttp import WSMsgType, web

log = logging.getLogger("tests.fakes.discord")

__all__ = [
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "ATTACH_FILES",
    "EMBED_LINKS",
    "MANAGE_GUILD",
    "SEND_MESSAGES",
    "VIEW_CHANNEL",
    "CallbackRecord",
    "FakeChannel",
    "FakeDiscord",
    "FakeDiscordError",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "IdentifyRecord",
    "InteractionRecord",
    "RequestRecord",
]

DISCORD_EPOCH_MS = 1420070400000

# --- permissions -------------------------------------------------------------------------
CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 53) - 1

DEFAULT_EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)
DEFAULT_BOT_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS
    | SEND_MESSAGES_IN_THREADS
)
DM_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
)

# --- gateway intents ----------------------------------------------------------------------
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

_EVENT_INTENTS = {
    "GUILD_CREATE": INTENT_GUILDS,
    "GUILD_UPDATE": INTENT_GUILDS,
    "GUILD_DELETE": INTENT_GUILDS,
    "GUILD_ROLE_CREATE": INTENT_GUILDS,
    "GUILD_ROLE_UPDATE": INTENT_GUILDS,
    "GUILD_ROLE_DELETE": INTENT_GUILDS,
    "CHANNEL_CREATE": INTENT_GUILDS,
    "CHANNEL_UPDATE": INTENT_GUILDS,
    "CHANNEL_DELETE": INTENT_GUILDS,
    "GUILD_MEMBER_ADD": INTENT_GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": INTENT_GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": INTENT_GUILD_MEMBERS,
}

# --- message flags ------------------------------------------------------------------------
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15
_SENDABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2

VALID_LOCALES = frozenset(
    [
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    ]
)
_CHANNEL_TYPES = frozenset({0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16})
_TEXT_LIKE = frozenset({0, 1, 2, 3, 5, 10, 11, 12, 13})
_OPTION_TYPE_NAMES = {
    1: "SUB_COMMAND",
    2: "SUB_COMMAND_GROUP",
    3: "STRING",
    4: "INTEGER",
    5: "BOOLEAN",
    6: "USER",
    7: "CHANNEL",
    8: "ROLE",
    9: "MENTIONABLE",
    10: "NUMBER",
    11: "ATTACHMENT",
}
_MAX_SAFE_INT = 2**53

_PENDING: Any = object()


class FakeDiscordError(AssertionError):
    """A test asked the fake for something real Discord could not do (or timed out waiting)."""


class _ApiError(Exception):
    """Raised by a route handler: becomes a Discord-shaped error response."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors, self.headers = status, code, message, errors, headers

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class _Errors:
    """Collects Discord's nested ``errors`` tree of a 50035 Invalid Form Body."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Iterable[Any], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def __bool__(self) -> bool:
        return bool(self.tree)

    def raise_if_any(self) -> None:
        if self.tree:
            raise _ApiError(400, 50035, "Invalid Form Body", self.tree)


def _json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Exactly ``Content-Type: application/json`` (no charset), as discord.py expects."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _id_of(obj: Any) -> int:
    """An id from an int, a numeric string, a fake world object or a Discord-shaped dict."""
    if isinstance(obj, bool):
        raise FakeDiscordError(f"not an id: {obj!r}")
    if isinstance(obj, int):
        return obj
    if isinstance(obj, str) and obj.isdigit():
        return int(obj)
    if isinstance(obj, dict) and "id" in obj:
        return int(obj["id"])
    ident = getattr(obj, "id", None)
    if isinstance(ident, int):
        return ident
    raise FakeDiscordError(f"not an id: {obj!r}")


# --- world objects ------------------------------------------------------------------------


@dataclass(eq=False)
class FakeUser:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    locale: str = "fr"

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(eq=False)
class FakeRole:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed: bool = False
    tags: dict[str, Any] | None = None

    @property
    def mention(self) -> str:
        return "@everyone" if self.id == self.guild_id else f"<@&{self.id}>"

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "description": None,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.tags is not None:
            data["tags"] = dict(self.tags)
        return data


@dataclass(eq=False)
class FakeChannel:
    id: int
    type: int
    name: str | None
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    overwrites: list[dict[str, Any]] = field(default_factory=list)
    recipients: list[FakeUser] = field(default_factory=list)
    deleted: bool = False
    forbidden: bool = False
    last_message_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def payload(self) -> dict[str, Any]:
        last = str(self.last_message_id) if self.last_message_id else None
        if self.type in (1, 3):
            return {
                "id": str(self.id),
                "type": self.type,
                "last_message_id": last,
                "flags": 0,
                "recipients": [u.payload() for u in self.recipients],
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [dict(o) for o in self.overwrites],
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "nsfw": self.nsfw,
            "flags": 0,
        }
        if self.type != 4:
            data.update(topic=self.topic, last_message_id=last, rate_limit_per_user=0)
        if self.type in (2, 13):
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        return data


@dataclass(eq=False)
class FakeMember:
    guild_id: int
    user: FakeUser
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=_now_iso)
    #: When set, the member's permissions everywhere in the guild (instead of computing them).
    permissions: int | None = None

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def mention(self) -> str:
        return f"<@{self.user.id}>"

    def payload(self, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in self.roles],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data


@dataclass(eq=False)
class FakeGuild:
    id: int
    name: str
    owner_id: int
    bot_id: int
    preferred_locale: str = "fr"
    system_channel_id: int | None = None
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    joined_at: str = field(default_factory=_now_iso)
    removed: bool = False

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    @property
    def system_channel(self) -> FakeChannel | None:
        return self.channels.get(self.system_channel_id) if self.system_channel_id else None

    @property
    def owner(self) -> FakeMember:
        return self.members[self.owner_id]

    @property
    def me(self) -> FakeMember:
        return self.members[self.bot_id]

    def channel(self, name: str) -> FakeChannel:
        for ch in self.channels.values():
            if ch.name == name and not ch.deleted:
                return ch
        raise FakeDiscordError(f"guild {self.name!r} has no channel named {name!r}")

    def role(self, name: str) -> FakeRole:
        for role in self.roles.values():
            if role.name == name:
                return role
        raise FakeDiscordError(f"guild {self.name!r} has no role named {name!r}")

    def member(self, user: Any) -> FakeMember:
        uid = _id_of(user)
        try:
            return self.members[uid]
        except KeyError:
            raise FakeDiscordError(f"user {uid} is not a member of guild {self.name!r}") from None


@dataclass
class RequestRecord:
    """One HTTP request the bot made to the fake."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[dict[str, Any]]
    status: int = 0
    #: ``time.monotonic()`` when the request arrived (the fake runs in the test's process, so
    #: requests from several bot processes share one clock: post rates across processes).
    at: float = field(default_factory=time.monotonic)
    #: The request's ``Via`` header, if any (a REST proxy in front of the fake may add one).
    via: str | None = None
    #: The client's ``User-Agent`` (discord.py's, or a proxy's when one stands in between).
    user_agent: str | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class IdentifyRecord:
    """One IDENTIFY the fake received: ``session_id`` is None when it was refused
    (op 9: the identify bucket was used less than ``identify_interval`` s before, or the
    day's session starts were spent)."""

    shard: tuple[int, int]
    at: float
    session_id: str | None
    reason: str | None = None

    @property
    def refused(self) -> bool:
        return self.session_id is None


@dataclass
class CallbackRecord:
    """One interaction callback the bot POSTed (accepted or not): a second callback for
    one interaction is answered 400 / 40060 "already acknowledged", as Discord does."""

    interaction_id: int
    at: float
    status: int
    code: int = 0


@dataclass
class _File:
    index: int | None
    filename: str
    data: bytes
    content_type: str


# --- Discord's validation rules ------------------------------------------------------------


def _valid_name_char(ch: str) -> bool:
    if ch in "-_'":
        return True
    if unicodedata.category(ch)[0] in "LN":
        return True
    cp = ord(ch)
    return 0x0900 <= cp <= 0x097F or 0xA8E0 <= cp <= 0xA8FF or 0x0E00 <= cp <= 0x0E7F


def _check_chat_name(errors: _Errors, path: tuple[Any, ...], name: Any) -> None:
    """``^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$``, lower case where possible."""
    if not isinstance(name, str):
        errors.add(path, "BASE_TYPE_REQUIRED" if name is None else "BASE_TYPE_STRING", "This field is required")
        return
    if not 1 <= len(name) <= 32:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    elif not all(_valid_name_char(c) for c in name):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name {name!r} is invalid")
    elif any(c.lower() != c for c in name):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name {name!r} must be lower case")


def _check_menu_name(errors: _Errors, path: tuple[Any, ...], name: Any) -> None:
    if not isinstance(name, str):
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
    elif not 1 <= len(name) <= 32 or not name.strip():
        errors.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")


def _check_length(errors: _Errors, path: tuple[Any, ...], value: Any, lo: int, hi: int) -> None:
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_REQUIRED" if value is None else "BASE_TYPE_STRING", "This field is required")
    elif not lo <= len(value) <= hi:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {lo} and {hi} in length.")


def _check_localizations(
    errors: _Errors, path: tuple[Any, ...], locs: Any, check: Callable[[tuple[Any, ...], Any], None]
) -> None:
    if locs is None:
        return
    if not isinstance(locs, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    for locale, value in locs.items():
        if locale not in VALID_LOCALES:
            errors.add(path + (locale,), "ENUM_TYPE_COERCE", f'Value "{locale}" is not a valid enum value.')
        else:
            check(path + (locale,), value)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate_options(errors: _Errors, path: tuple[Any, ...], options: Any, level: str) -> None:
    """``level`` is "command", "group" (holds sub-commands) or "subcommand" (holds values)."""
    if options is None:
        return
    if not isinstance(options, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(options) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    kinds = [o.get("type") in (1, 2) for o in options if isinstance(o, dict)]
    if level == "command" and any(kinds) and not all(kinds):
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all other types",
        )
    seen: set[str] = set()
    seen_localized: dict[str, set[str]] = defaultdict(set)
    optional_seen = False
    for i, opt in enumerate(options):
        p = path + (i,)
        if not isinstance(opt, dict):
            errors.add(p, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        otype = opt.get("type")
        if otype not in _OPTION_TYPE_NAMES:
            errors.add(p + ("type",), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(_OPTION_TYPE_NAMES)}.")
            continue
        if level == "group" and otype != 1:
            errors.add(
                p + ("type",),
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Sub-command groups may only contain sub-commands",
            )
        if level == "subcommand" and otype in (1, 2):
            errors.add(
                p + ("type",),
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Sub-commands cannot contain sub-commands or groups",
            )
        name = opt.get("name")
        _check_chat_name(errors, p + ("name",), name)
        if isinstance(name, str):
            if name in seen:
                errors.add(
                    p + ("name",), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique"
                )
            seen.add(name)
        _check_length(errors, p + ("description",), opt.get("description"), 1, 100)
        name_locs = opt.get("name_localizations")
        _check_localizations(
            errors, p + ("name_localizations",), name_locs, lambda q, v: _check_chat_name(errors, q, v)
        )
        if isinstance(name_locs, dict):
            for locale, value in name_locs.items():
                if value in seen_localized[locale]:
                    errors.add(
                        p + ("name_localizations", locale),
                        "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                        "Option names must be unique per locale",
                    )
                seen_localized[locale].add(value)
        _check_localizations(
            errors,
            p + ("description_localizations",),
            opt.get("description_localizations"),
            lambda q, v: _check_length(errors, q, v, 1, 100),
        )
        if otype in (1, 2):
            sub_options = opt.get("options")
            if otype == 2 and not sub_options:
                errors.add(p + ("options",), "BASE_TYPE_REQUIRED", "Sub-command groups must contain sub-commands")
            _validate_options(errors, p + ("options",), sub_options, "group" if otype == 2 else "subcommand")
            if level != "command" and otype == 2:
                errors.add(
                    p + ("type",), "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Sub-command groups cannot be nested"
                )
            continue
        required = opt.get("required", False)
        if required and optional_seen:
            errors.add(
                p + ("required",),
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
        if not required:
            optional_seen = True
        choices = opt.get("choices")
        if choices:
            if otype not in (3, 4, 10):
                errors.add(
                    p + ("choices",),
                    "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                    "Only string, integer and number options may have choices",
                )
            if not isinstance(choices, list):
                errors.add(p + ("choices",), "BASE_TYPE_ARRAY", "Must be an array.")
                choices = []
            if len(choices) > 25:
                errors.add(p + ("choices",), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            if opt.get("autocomplete"):
                errors.add(
                    p + ("autocomplete",),
                    "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                    "Autocomplete and choices are mutually exclusive",
                )
            for j, choice in enumerate(choices):
                q = p + ("choices", j)
                if not isinstance(choice, dict):
                    errors.add(q, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
                    continue
                _check_length(errors, q + ("name",), choice.get("name"), 1, 100)
                _check_localizations(
                    errors,
                    q + ("name_localizations",),
                    choice.get("name_localizations"),
                    lambda r, v: _check_length(errors, r, v, 1, 100),
                )
                value = choice.get("value")
                if otype == 3:
                    _check_length(errors, q + ("value",), value, 1, 100)
                elif otype == 4 and not (_is_int(value) and abs(value) <= _MAX_SAFE_INT):
                    errors.add(q + ("value",), "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
                elif otype == 10 and not _is_number(value):
                    errors.add(q + ("value",), "NUMBER_TYPE_COERCE", f'Value "{value}" is not a valid number.')
        if opt.get("autocomplete") and otype not in (3, 4, 10):
            errors.add(
                p + ("autocomplete",),
                "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
                "Only string, integer and number options support autocomplete",
            )
        for key in ("min_value", "max_value"):
            if opt.get(key) is not None:
                if otype not in (4, 10):
                    errors.add(
                        p + (key,),
                        "APPLICATION_COMMAND_OPTION_INVALID",
                        f"{key} is only valid for integer and number options",
                    )
                elif not _is_number(opt[key]) or (otype == 4 and not _is_int(opt[key])):
                    errors.add(p + (key,), "NUMBER_TYPE_COERCE", f'Value "{opt[key]}" is not a valid number.')
        if (
            _is_number(opt.get("min_value"))
            and _is_number(opt.get("max_value"))
            and opt["min_value"] > opt["max_value"]
        ):
            errors.add(p + ("min_value",), "NUMBER_TYPE_MAX", "min_value must be less than or equal to max_value")
        for key, lo in (("min_length", 0), ("max_length", 1)):
            if opt.get(key) is not None:
                if otype != 3:
                    errors.add(
                        p + (key,), "APPLICATION_COMMAND_OPTION_INVALID", f"{key} is only valid for string options"
                    )
                elif not _is_int(opt[key]) or not lo <= opt[key] <= 6000:
                    errors.add(p + (key,), "NUMBER_TYPE_MAX", f"Must be between {lo} and 6000.")
        if _is_int(opt.get("min_length")) and _is_int(opt.get("max_length")) and opt["min_length"] > opt["max_length"]:
            errors.add(p + ("min_length",), "NUMBER_TYPE_MAX", "min_length must be less than or equal to max_length")
        if opt.get("channel_types") is not None:
            if otype != 7:
                errors.add(
                    p + ("channel_types",),
                    "APPLICATION_COMMAND_OPTION_INVALID",
                    "channel_types is only valid for channel options",
                )
            elif not isinstance(opt["channel_types"], list) or any(
                t not in _CHANNEL_TYPES for t in opt["channel_types"]
            ):
                errors.add(
                    p + ("channel_types",), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(_CHANNEL_TYPES)}."
                )


def _command_size(cmd: dict[str, Any], locale: str | None) -> int:
    """Discord's 4000-character budget: names, descriptions, choice names and values."""

    def loc(obj: dict[str, Any], key: str) -> str:
        locs = obj.get(f"{key}_localizations") or {}
        value = locs.get(locale) if locale else None
        return str(value if value is not None else obj.get(key) or "")

    def walk(options: list[dict[str, Any]]) -> int:
        total = 0
        for opt in options or []:
            if not isinstance(opt, dict):
                continue
            total += len(loc(opt, "name")) + len(loc(opt, "description"))
            for choice in opt.get("choices") or []:
                if isinstance(choice, dict):
                    total += len(loc(choice, "name")) + len(str(choice.get("value", "")))
            total += walk(opt.get("options") or [])
        return total

    return len(loc(cmd, "name")) + len(loc(cmd, "description")) + walk(cmd.get("options") or [])


def _all_locales(obj: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key.endswith("_localizations") and isinstance(value, dict):
                found.update(value)
            else:
                found |= _all_locales(value)
    elif isinstance(obj, list):
        for item in obj:
            found |= _all_locales(item)
    return found


def _validate_command(errors: _Errors, index: int, cmd: Any) -> None:
    p: tuple[Any, ...] = (index,)
    if not isinstance(cmd, dict):
        errors.add(p, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    ctype = cmd.get("type", 1)
    if ctype not in (1, 2, 3, 4):
        errors.add(p + ("type",), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
        return
    chat = ctype == 1
    if chat:
        _check_chat_name(errors, p + ("name",), cmd.get("name"))
        _check_length(errors, p + ("description",), cmd.get("description"), 1, 100)
        _check_localizations(
            errors,
            p + ("name_localizations",),
            cmd.get("name_localizations"),
            lambda q, v: _check_chat_name(errors, q, v),
        )
        _check_localizations(
            errors,
            p + ("description_localizations",),
            cmd.get("description_localizations"),
            lambda q, v: _check_length(errors, q, v, 1, 100),
        )
        _validate_options(errors, p + ("options",), cmd.get("options"), "command")
        for locale in [None, *sorted(_all_locales(cmd))]:
            if _command_size(cmd, locale) > 4000:
                errors.add(p, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (4000)")
                break
    else:
        _check_menu_name(errors, p + ("name",), cmd.get("name"))
        _check_localizations(
            errors,
            p + ("name_localizations",),
            cmd.get("name_localizations"),
            lambda q, v: _check_menu_name(errors, q, v),
        )
        if cmd.get("description"):
            errors.add(
                p + ("description",),
                "APPLICATION_COMMAND_INVALID_DESCRIPTION",
                "Context menu commands cannot have a description",
            )
        if cmd.get("options"):
            errors.add(
                p + ("options",), "APPLICATION_COMMAND_INVALID_OPTIONS", "Context menu commands cannot have options"
            )
    perms = cmd.get("default_member_permissions")
    if perms is not None and not (_is_int(perms) and perms >= 0) and not (isinstance(perms, str) and perms.isdigit()):
        errors.add(p + ("default_member_permissions",), "NUMBER_TYPE_COERCE", f'Value "{perms}" is not snowflake.')
    for key, allowed in (("contexts", {0, 1, 2}), ("integration_types", {0, 1})):
        value = cmd.get(key)
        if value is not None and (not isinstance(value, list) or any(v not in allowed for v in value)):
            errors.add(p + (key,), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}.")


def _validate_command_list(payload: Any) -> None:
    errors = _Errors()
    if not isinstance(payload, list):
        errors.add((), "BASE_TYPE_ARRAY", "Must be an array.")
        errors.raise_if_any()
    counts: dict[int, int] = defaultdict(int)
    names: dict[tuple[int, str], int] = {}
    for i, cmd in enumerate(payload):
        _validate_command(errors, i, cmd)
        if isinstance(cmd, dict) and isinstance(cmd.get("name"), str):
            key = (cmd.get("type", 1), cmd["name"])
            if key in names:
                errors.add(
                    (i, "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique ({cmd['name']!r})",
                )
            names[key] = i
            counts[key[0]] += 1
    for ctype, limit in ((1, 100), (2, 15), (3, 15)):
        if counts[ctype] > limit:
            errors.add(
                (),
                "APPLICATION_COMMANDS_TOO_MANY",
                f"Maximum number of application commands of type {ctype} reached ({limit})",
            )
    errors.raise_if_any()


_URL_RE = re.compile(r"^(https?|attachment)://\S+$")


def _validate_embeds(errors: _Errors, embeds: Any) -> None:
    if not isinstance(embeds, list):
        errors.add(("embeds",), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(embeds) > 10:
        errors.add(("embeds",), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        p = ("embeds", i)
        if not isinstance(embed, dict):
            errors.add(p, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        for key, limit in (("title", 256), ("description", 4096)):
            value = embed.get(key)
            if value is not None:
                total += len(str(value))
                if len(str(value)) > limit:
                    errors.add(p + (key,), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        for key, sub, limit in (("footer", "text", 2048), ("author", "name", 256)):
            part = embed.get(key)
            if isinstance(part, dict):
                value = part.get(sub)
                if value is None or value == "":
                    errors.add(p + (key, sub), "BASE_TYPE_REQUIRED", "This field is required")
                else:
                    total += len(str(value))
                    if len(str(value)) > limit:
                        errors.add(p + (key, sub), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.add(p + ("fields",), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, fld in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = fld.get(key) if isinstance(fld, dict) else None
                if value is None or str(value) == "":
                    errors.add(p + ("fields", j, key), "BASE_TYPE_REQUIRED", "This field is required")
                else:
                    total += len(str(value))
                    if len(str(value)) > limit:
                        errors.add(
                            p + ("fields", j, key), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
                        )
        for key in ("url",):
            if embed.get(key) is not None and not _URL_RE.match(str(embed[key])):
                errors.add(p + (key,), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        for key in ("image", "thumbnail", "author", "footer"):
            part = embed.get(key)
            if isinstance(part, dict):
                for sub in ("url", "icon_url"):
                    if part.get(sub) is not None and not _URL_RE.match(str(part[sub])):
                        errors.add(p + (key, sub), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        color = embed.get("color")
        if color is not None and not (_is_int(color) and 0 <= color <= 0xFFFFFF):
            errors.add(p + ("color",), "NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215.")
    if total > 6000:
        errors.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _walk_components(components: Any) -> Iterable[dict[str, Any]]:
    for comp in components or []:
        if not isinstance(comp, dict):
            continue
        yield comp
        yield from _walk_components(comp.get("components"))
        for key in ("component", "accessory"):
            if isinstance(comp.get(key), dict):
                yield from _walk_components([comp[key]])


def _validate_components(errors: _Errors, components: Any, *, v2: bool) -> None:
    if not isinstance(components, list):
        errors.add(("components",), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if not v2 and len(components) > 5:
        errors.add(("components",), "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    custom_ids: set[str] = set()
    if v2 and sum(1 for _ in _walk_components(components)) > 40:
        errors.add(("components",), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Must be 40 or fewer components in total.")
    for i, row in enumerate(components):
        p = ("components", i)
        if not isinstance(row, dict):
            errors.add(p, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        if not v2 and row.get("type") != 1:
            errors.add(
                p + ("type",),
                "UNION_TYPE_CHOICES",
                "Top-level components must be action rows (type 1) without the components v2 flag",
            )
            continue
        if row.get("type") == 1:
            children = row.get("components") or []
            if not 1 <= len(children) <= 5:
                errors.add(p + ("components",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
            selects = [c for c in children if isinstance(c, dict) and c.get("type") in (3, 5, 6, 7, 8)]
            if selects and len(children) > 1:
                errors.add(
                    p + ("components",),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "A select menu must be alone in its action row",
                )
    for comp in _walk_components(components):
        ctype = comp.get("type")
        cid = comp.get("custom_id")
        if cid is not None:
            if not isinstance(cid, str) or not 1 <= len(cid) <= 100:
                errors.add(
                    ("components",), "BASE_TYPE_BAD_LENGTH", f"custom_id {cid!r}: must be between 1 and 100 in length."
                )
            elif cid in custom_ids:
                errors.add(
                    ("components",),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    f"Component custom id {cid!r} cannot be duplicated",
                )
            custom_ids.add(cid) if isinstance(cid, str) else None
        if ctype == 2:
            style = comp.get("style")
            if style not in (1, 2, 3, 4, 5, 6):
                errors.add(
                    ("components",), "BASE_TYPE_CHOICES", f"button style {style!r}: value must be one of (1..6)."
                )
            if style in (1, 2, 3, 4) and not cid:
                errors.add(
                    ("components",), "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "A custom id is required for this button"
                )
            if style == 5 and not comp.get("url"):
                errors.add(("components",), "BUTTON_COMPONENT_URL_REQUIRED", "A url is required for link buttons")
            if style == 5 and cid:
                errors.add(
                    ("components",),
                    "BUTTON_COMPONENT_INVALID_URL_WITH_CUSTOM_ID",
                    "Link buttons cannot have a custom id",
                )
            if comp.get("label") is not None and len(str(comp["label"])) > 80:
                errors.add(("components",), "BASE_TYPE_MAX_LENGTH", "button label: must be 80 or fewer in length.")
            if style != 6 and not comp.get("label") and not comp.get("emoji"):
                errors.add(
                    ("components",),
                    "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
                    "A label or an emoji is required for buttons",
                )
        elif ctype in (3, 5, 6, 7, 8):
            if not cid:
                errors.add(("components",), "BASE_TYPE_REQUIRED", "select custom_id: this field is required")
            options = comp.get("options") or []
            if ctype == 3 and not 1 <= len(options) <= 25:
                errors.add(
                    ("components",), "BASE_TYPE_BAD_LENGTH", "select options: must be between 1 and 25 in length."
                )
            values = set()
            for opt in options:
                for key, limit in (("label", 100), ("value", 100), ("description", 100)):
                    value = opt.get(key)
                    if key != "description" and not value:
                        errors.add(
                            ("components",), "BASE_TYPE_REQUIRED", f"select option {key}: this field is required"
                        )
                    elif value is not None and len(str(value)) > limit:
                        errors.add(
                            ("components",),
                            "BASE_TYPE_MAX_LENGTH",
                            f"select option {key}: must be {limit} or fewer in length.",
                        )
                if opt.get("value") in values:
                    errors.add(
                        ("components",),
                        "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                        "Select option values must be unique",
                    )
                values.add(opt.get("value"))
            min_v, max_v = comp.get("min_values", 1), comp.get("max_values", 1)
            if not 0 <= min_v <= 25 or not 1 <= max_v <= 25 or min_v > max_v or (ctype == 3 and max_v > len(options)):
                errors.add(
                    ("components",),
                    "SELECT_COMPONENT_MIN_MAX_INVALID",
                    f"select min_values/max_values invalid ({min_v}, {max_v})",
                )
            if comp.get("placeholder") is not None and len(comp["placeholder"]) > 150:
                errors.add(
                    ("components",), "BASE_TYPE_MAX_LENGTH", "select placeholder: must be 150 or fewer in length."
                )
        elif ctype == 4:
            errors.add(("components",), "COMPONENT_TYPE_INVALID", "Text inputs are only valid in modals")


def _validate_message(data: dict[str, Any], files: list[_File], *, creating: bool, allow_ephemeral: bool) -> None:
    errors = _Errors()
    content = data.get("content")
    if content is not None:
        if not isinstance(content, str):
            errors.add(("content",), "BASE_TYPE_STRING", "Must be a string.")
        elif len(content) > 2000:
            errors.add(("content",), "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    flags = data.get("flags")
    v2 = False
    if flags is not None:
        if not _is_int(flags) or flags & ~_SENDABLE_FLAGS:
            errors.add(("flags",), "MESSAGE_FLAGS_INVALID", f"Invalid message flags {flags!r}")
        elif flags & FLAG_EPHEMERAL and not allow_ephemeral:
            errors.add(("flags",), "MESSAGE_FLAGS_INVALID", "Only interaction responses and followups can be ephemeral")
        v2 = bool(_is_int(flags) and flags & FLAG_COMPONENTS_V2)
    if data.get("embeds") is not None:
        _validate_embeds(errors, data["embeds"])
        if v2 and data["embeds"]:
            errors.add(
                ("embeds",),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "embeds cannot be used with IS_COMPONENTS_V2",
            )
    if v2 and content:
        errors.add(
            ("content",),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "content cannot be used with IS_COMPONENTS_V2",
        )
    if data.get("components") is not None:
        _validate_components(errors, data["components"], v2=v2)
    mentions = data.get("allowed_mentions")
    if mentions is not None:
        parse = mentions.get("parse", [])
        if any(p not in ("roles", "users", "everyone") for p in parse):
            errors.add(
                ("allowed_mentions", "parse"),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('roles', 'users', 'everyone').",
            )
        for kind in ("users", "roles"):
            if kind in parse and mentions.get(kind):
                errors.add(
                    ("allowed_mentions",),
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
                )
            if len(mentions.get(kind) or []) > 100:
                errors.add(("allowed_mentions", kind), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    if len(files) > 10:
        errors.add(("files",), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    errors.raise_if_any()


def _is_empty_message(msg: dict[str, Any]) -> bool:
    return (
        not (msg.get("content") or "").strip()
        and not msg.get("embeds")
        and not msg.get("attachments")
        and not msg.get("components")
        and not msg.get("sticker_items")
        and not msg.get("poll")
    )


def _collect_strings(obj: Any, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(obj)
    elif isinstance(obj, dict):
        for value in obj.values():
            _collect_strings(value, out)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _collect_strings(value, out)


_INTERNAL_MESSAGE_KEYS = frozenset({"allowed_mentions", "enforce_nonce"})


def _wire(msg: dict[str, Any]) -> dict[str, Any]:
    """A stored message as Discord sends it (no recorded request fields, no file bytes)."""
    out = {k: copy.deepcopy(v) for k, v in msg.items() if not k.startswith("_") and k not in _INTERNAL_MESSAGE_KEYS}
    out["attachments"] = [{k: v for k, v in a.items() if k != "data"} for a in msg.get("attachments", [])]
    return out


# --- interactions -------------------------------------------------------------------------


class InteractionRecord:
    """One interaction the fake dispatched, and everything the bot answered to it."""

    def __init__(self, fake: FakeDiscord, payload: dict[str, Any], *, command: dict[str, Any] | None = None) -> None:
        self._fake = fake
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.command = command
        self.guild_id = int(payload["guild_id"]) if payload.get("guild_id") else None
        self.channel_id = int(payload["channel_id"])
        user = payload["member"]["user"] if "member" in payload else payload["user"]
        self.user_id = int(user["id"])
        self.source_message_id: int | None = int(payload["message"]["id"]) if payload.get("message") else None
        self.parent: InteractionRecord | None = None
        self.dispatched_at = 0.0
        #: The gateway sessions it was sent to (every live session of its shard).
        self.sessions: list[str] = []
        #: Every callback the bot POSTed: ``{"type", "data", "files"}`` (files: filename, data, content_type).
        self.callbacks: list[dict[str, Any]] = []
        #: Errors the fake answered to the bot's requests about this interaction.
        self.errors: list[dict[str, Any]] = []
        self.original_id: int | None = None
        self.followup_ids: list[int] = []
        self._edits_after_ack = 0

    def __repr__(self) -> str:
        what = self.command_name or (self.payload.get("data") or {}).get("custom_id")
        return f"<InteractionRecord id={self.id} type={self.type} {what!r} callback={self.callback_type}>"

    @property
    def command_name(self) -> str | None:
        data = self.payload.get("data") or {}
        if self.type not in (2, 4):
            return None
        parts = [data.get("name")]
        options = data.get("options") or []
        while options and options[0].get("type") in (1, 2):
            parts.append(options[0]["name"])
            options = options[0].get("options") or []
        return " ".join(p for p in parts if p)

    @property
    def custom_id(self) -> str | None:
        return (self.payload.get("data") or {}).get("custom_id")

    @property
    def response(self) -> dict[str, Any] | None:
        return self.callbacks[0] if self.callbacks else None

    @property
    def callback_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None

    @property
    def responded(self) -> bool:
        return bool(self.callbacks)

    @property
    def deferred(self) -> bool:
        return self.callback_type in (5, 6)

    @property
    def ephemeral(self) -> bool:
        msg = self.original
        if msg is not None:
            return bool(msg["flags"] & FLAG_EPHEMERAL)
        response = self.response
        if response and response["type"] in (4, 5):
            return bool(((response.get("data") or {}).get("flags") or 0) & FLAG_EPHEMERAL)
        return False

    @property
    def original(self) -> dict[str, Any] | None:
        """The response message as it is now (after edits; attachments carry their ``data``
        bytes), None before the response or once deleted (``fake.message(id)`` still has it)."""
        msg = self._fake._messages.get(self.original_id) if self.original_id else None
        return None if msg is None or msg.get("_deleted") else msg

    @property
    def followups(self) -> list[dict[str, Any]]:
        return [self._fake._messages[i] for i in self.followup_ids if i in self._fake._messages]

    @property
    def modal(self) -> dict[str, Any] | None:
        response = self.response
        return response["data"] if response and response["type"] == 9 else None

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        response = self.response
        return (response.get("data") or {}).get("choices", []) if response and response["type"] == 8 else None

    @property
    def content(self) -> str | None:
        msg = self.original
        return msg["content"] if msg else None

    async def wait_response(self, timeout: float = 5.0) -> dict[str, Any]:
        """The first callback (``{"type", "data", "files"}``) once the bot sent it."""
        return await self._fake._wait_for(
            lambda: self.response if self.callbacks else _PENDING, timeout, f"a response to {self!r}", rec=self
        )

    async def wait_final(
        self, timeout: float = 5.0, predicate: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """The response message once it is final: immediately for types 4 and 7, after the
        ``@original`` edit or the first followup for a deferral (5 or 6). With ``predicate``,
        waits until the message (as edited) satisfies it."""
        response = await self.wait_response(timeout)
        if response["type"] in (8, 9):
            kind = "autocomplete choices (rec.choices)" if response["type"] == 8 else "a modal (rec.modal)"
            raise FakeDiscordError(f"{self!r} answered with {kind}, there is no message")

        def check() -> Any:
            msg = self.original
            if response["type"] == 6 and self._edits_after_ack == 0:
                msg = None  # the component's message is only "final" once edited
            if msg is None or msg["flags"] & FLAG_LOADING:
                others = [m for m in self.followups if int(m["id"]) != self.original_id and not m.get("_deleted")]
                msg = others[0] if others else None
            if msg is None or (predicate is not None and not predicate(msg)):
                return _PENDING
            return msg

        return await self._fake._wait_for(check, timeout, f"the final message of {self!r}", rec=self)

    async def wait_followup(self, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
        """The ``count``-th followup message."""
        return await self._fake._wait_for(
            lambda: self.followups[count - 1] if len(self.followups) >= count else _PENDING,
            timeout,
            f"followup #{count} of {self!r}",
            rec=self,
        )


# --- gateway ------------------------------------------------------------------------------


class _Connection:
    def __init__(self, ws: web.WebSocketResponse, *, compress: str | None, path: str) -> None:
        self.ws = ws
        self.path = path
        self.compress = compress
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.session: _Session | None = None
        #: The client's (host, port): tests map it to the bot process holding the socket.
        self.peer: tuple[str, int] | None = None
        self.closed = False
        self.server_closed = False
        self.writer: asyncio.Task[None] | None = None

    def enqueue(self, item: Any) -> None:
        if not self.closed:
            self.queue.put_nowait(item)

    async def send_now(self, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload, separators=(",", ":"))
        if self._zlib is not None:
            await self.ws.send_bytes(self._zlib.compress(raw.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH))
        else:
            await self.ws.send_str(raw)

    async def run_writer(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if callable(item):
                    item()
                elif not self.closed:
                    await self.send_now(item)
            except (ConnectionError, RuntimeError) as exc:  # the transport is closing
                log.debug("gateway send failed: %r", exc)
                self.closed = True
            finally:
                self.queue.task_done()

    async def flush(self) -> None:
        if not self.closed:
            await self.queue.join()


class _Session:
    def __init__(self, session_id: str, shard: tuple[int, int], intents: int, identify: dict[str, Any]) -> None:
        self.id = session_id
        self.shard = shard
        self.intents = intents
        self.identify = identify
        self.seq = 0
        self.backlog: list[dict[str, Any]] = []
        self.conn: _Connection | None = None
        self.resumable = True
        self.ready = False
        self.identified_at = time.monotonic()

    @property
    def live(self) -> bool:
        return self.conn is not None and not self.conn.closed

    @property
    def peer(self) -> tuple[str, int] | None:
        """The (host, port) of the client's current connection."""
        return self.conn.peer if self.conn is not None else None

    def covers(self, guild_id: int | None) -> bool:
        if guild_id is None:
            return self.shard[0] == 0
        return (guild_id >> 22) % self.shard[1] == self.shard[0]


# --- the fake -----------------------------------------------------------------------------


class FakeDiscord:
    """Discord's REST API, gateway and CDN on ``127.0.0.1`` (random port).

    - lifecycle: ``start()``/``stop()`` or ``async with``; ``api_base``, ``gateway_url``, ``token``.
    - world: ``add_guild``, ``add_channel``, ``add_role``, ``add_member``, ``add_user``,
      ``set_overwrite``, ``remove_guild``, ``delete_channel``, ``forbid_channel``, ``close_dms``,
      ``add_attachment`` (changes after READY are dispatched to the bot).
    - users acting: ``invoke``, ``autocomplete``, ``click``, ``select``, ``submit_modal`` (each
      returns an :class:`InteractionRecord`, except ``autocomplete``: the choices).
    - what the bot did: ``commands()``, ``command()``, ``channel_messages()``, ``message()``,
      ``wait_for_channel_message()``, ``all_sent_text()``, ``file_bytes()``, ``requests``,
      ``interactions``, ``errors``, ``unhandled``, ``presences``, ``sync_payloads``.
    - gateway: ``wait_until_connected``, ``wait_until_ready_sent``, ``wait_for_resume``,
      ``wait_for_sync``, ``dispatch``, ``drop_connections``, ``request_reconnect``,
      ``invalidate_sessions``; any condition: ``wait_until(predicate)``.
    - faults: ``rate_limit_next``, ``fail_next``; ``interaction_timeout`` (3 s), ``allowed_intents``.
    - shards: ``GET /gateway/bot`` recommends ``shard_count`` with ``session_start_limit``
      (``session_start_remaining`` goes down per IDENTIFY; ``max_concurrency``). Sessions are
      kept per ``[shard_id, shard_count]`` (``sessions(shard_id)``); like Discord, duplicate
      sessions of one shard are accepted and each receives the shard's events and
      interactions. A second IDENTIFY in one bucket (``shard_id % max_concurrency``) within
      ``identify_interval`` (5 s) gets op 9 (``failed_logins``; ``enforce_identify_rate``).
    - across processes: ``identifies`` (shard, time, session), ``requests`` (each with its
      monotonic time ``at``), ``callback_log`` and ``double_acks`` (an interaction answered
      twice gets 400 / 40060, as on Discord).
    """

    def __init__(
        self,
        *,
        token: str = "fake-discord-bot-token",
        bot_name: str = "Vigie",
        application_id: int | None = None,
        heartbeat_interval_ms: int = 41250,
        interaction_timeout: float = 3.0,
        allowed_intents: int | None = None,
        nonce_window: float = 300.0,
        upload_limit: int = 10 * 1024 * 1024,
        attachment_size_limit: int = 10 * 1024 * 1024,
        host: str = "127.0.0.1",
        shard_count: int = 1,
        max_concurrency: int = 1,
        session_start_total: int = 1000,
        session_start_remaining: int | None = None,
        identify_interval: float = 5.0,
        enforce_identify_rate: bool = True,
    ) -> None:
        self.token = token
        #: The shard count ``GET /gateway/bot`` recommends.
        self.shard_count = shard_count
        #: ``session_start_limit.max_concurrency``: IDENTIFYs allowed per ``identify_interval``
        #: in each bucket ``shard_id % max_concurrency`` (Discord: 5 s).
        self.max_concurrency = max_concurrency
        self.identify_interval = identify_interval
        #: Like Discord, a second IDENTIFY in one bucket within ``identify_interval`` gets op 9
        #: (a "failed login"). Off for in-process tests whose ``run_bot`` drops discord.py's
        #: own 5 s pause between logins; the records are kept either way.
        self.enforce_identify_rate = enforce_identify_rate
        self.session_start_total = session_start_total
        #: Decremented by every accepted IDENTIFY; at 0 every IDENTIFY is refused.
        self.session_start_remaining = (
            session_start_total if session_start_remaining is None else session_start_remaining
        )
        self.session_start_reset_after_ms = 14_400_000
        self.host = host
        self.heartbeat_interval_ms = heartbeat_interval_ms
        #: Seconds the bot has to send the first callback (Discord: 3 s), else 10062.
        self.interaction_timeout = interaction_timeout
        #: Intents the "developer portal" allows (None: all, including privileged ones).
        self.allowed_intents = allowed_intents
        self.nonce_window = nonce_window
        self.upload_limit = upload_limit
        self.attachment_size_limit = attachment_size_limit
        self._snow_inc = itertools.count(1)
        self._last_snow = 0
        self.application_id = application_id or self._snowflake()
        self.bot_user = FakeUser(self.application_id, bot_name, bot=True)
        self.app_owner = FakeUser(self._snowflake(), "app-owner", global_name="App Owner")
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user, self.app_owner.id: self.app_owner}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self._dm_channels: dict[int, int] = {}
        self._dm_closed: set[int] = set()
        self._messages: dict[int, dict[str, Any]] = {}
        self._channel_messages: dict[int, list[int]] = defaultdict(list)
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self._files: dict[int, _File] = {}
        self._user_attachments: dict[int, dict[str, Any]] = {}
        self._cdn_secret = secrets.token_bytes(16)
        self._commands: dict[int | None, list[dict[str, Any]]] = {}
        self.sync_payloads: list[tuple[int | None, list[dict[str, Any]]]] = []
        self.sync_count = 0
        self.interactions: list[InteractionRecord] = []
        self._interactions: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        #: Every HTTP request the bot made.
        self.requests: list[RequestRecord] = []
        #: "METHOD /path" of every request to a route the fake does not implement.
        self.unhandled: list[str] = []
        #: Every 4xx the fake answered (not counting injected faults): {"route", "status", "body"}.
        self.errors: list[dict[str, Any]] = []
        #: Routes answered 429 by ``rate_limit_next``.
        self.rate_limited: list[str] = []
        self.nonce_dedup_hits = 0
        self.presences: list[dict[str, Any]] = []
        self._faults: list[dict[str, Any]] = []
        self._outgoing: list[Any] = []
        self._sessions: dict[str, _Session] = {}
        self._connections: list[_Connection] = []
        #: Every gateway connection: {"path", "query"} (discord.py asks compress=zlib-stream).
        self.gateway_connections: list[dict[str, Any]] = []
        self.connection_count = 0
        self.identify_count = 0
        #: Every IDENTIFY, accepted or refused, in arrival order.
        self.identifies: list[IdentifyRecord] = []
        #: Every interaction callback the bot POSTed, accepted or not.
        self.callback_log: list[CallbackRecord] = []
        self.ready_count = 0
        self.resume_count = 0
        self._event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._routes = self._build_routes()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=self.upload_limit * 12)
        app.router.add_route("*", r"/api/v{version:\d+}/{tail:.*}", self._handle_api)
        app.router.add_get("/gateway", self._handle_gateway)
        app.router.add_get("/gateway/resume", self._handle_gateway)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._handle_cdn)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        assert sockets, "the fake Discord did not bind"
        self._port = sockets[0].getsockname()[1]
        log.info("fake Discord listening on %s", self.origin)
        return self

    async def stop(self) -> None:
        for conn in list(self._connections):
            await self._close_connection(conn, code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise FakeDiscordError("FakeDiscord is not started")
        return self._port

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.origin}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    # -- ids, waiting ------------------------------------------------------------------------

    def _snowflake(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (next(self._snow_inc) & 0xFFF)
        value = max(value, self._last_snow + 1)
        self._last_snow = value
        return value

    def snowflake_on_shard(self, shard_id: int, shard_count: int | None = None) -> int:
        """A fresh snowflake (e.g. a guild id) that lives on ``shard_id`` of ``shard_count``
        (default: the recommended count): its timestamp is moved a few ms forward."""
        count = shard_count or self.shard_count
        base = self._snowflake()
        ms = base >> 22
        ms += (shard_id - ms) % count
        value = (ms << 22) | (base & ((1 << 22) - 1))
        self._last_snow = max(self._last_snow, value)
        return value

    def _bump(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def _wait_for(
        self, check: Callable[[], Any], timeout: float, what: str, *, rec: InteractionRecord | None = None
    ) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not _PENDING:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise FakeDiscordError(f"timed out after {timeout}s waiting for {what}\n{self._diagnostics(rec)}")
            event = self._event
            # Woken by anything the fake records; polls too, for predicates on the bot's state.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.02))

    def _diagnostics(self, rec: InteractionRecord | None = None) -> str:
        lines = []
        if rec is not None:
            lines.append(f"  callbacks: {[c['type'] for c in rec.callbacks]}, errors answered: {rec.errors}")
        lines.append(f"  live gateway sessions: {sum(1 for s in self._sessions.values() if s.live)}")
        if self.unhandled:
            lines.append(f"  unhandled routes: {self.unhandled}")
        if self.errors:
            lines.append(f"  errors answered: {self.errors[-5:]}")
        lines.append(f"  last requests: {[r.key + ' -> ' + str(r.status) for r in self.requests[-8:]]}")
        return "\n".join(lines)

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "a condition") -> Any:
        """Until ``predicate()`` is truthy (re-checked whenever the fake records something)."""

        def check() -> Any:
            result = predicate()
            return result if result else _PENDING

        return await self._wait_for(check, timeout, what)

    async def wait_until_connected(self, timeout: float = 5.0, *, count: int = 1) -> None:
        """Until ``count`` gateway sessions identified or resumed since the start."""
        await self._wait_for(
            lambda: True if self.identify_count + self.resume_count >= count else _PENDING, timeout, "a gateway session"
        )

    async def wait_until_ready_sent(self, timeout: float = 5.0, *, count: int = 1) -> None:
        """Until READY and the GUILD_CREATEs were written to ``count`` sessions."""
        await self._wait_for(lambda: True if self.ready_count >= count else _PENDING, timeout, "READY to be sent")

    async def wait_for_resume(self, timeout: float = 5.0, *, count: int = 1) -> None:
        await self._wait_for(lambda: True if self.resume_count >= count else _PENDING, timeout, "a RESUME")

    async def wait_for_sync(self, timeout: float = 5.0, *, count: int = 1) -> None:
        """Until ``count`` successful command syncs (bulk PUTs) happened."""
        await self._wait_for(lambda: True if self.sync_count >= count else _PENDING, timeout, "a command sync")

    # -- world setup ---------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int | None = None,
        name: str = "user",
        *,
        locale: str = "fr",
        bot: bool = False,
        global_name: str | None = None,
    ) -> FakeUser:
        uid = user_id or self._snowflake()
        user = self.users.get(uid)
        if user is None:
            user = self.users[uid] = FakeUser(uid, name, global_name=global_name, bot=bot, locale=locale)
        return user

    def add_guild(
        self,
        guild_id: int | None = None,
        name: str = "Test Guild",
        owner_id: int | None = None,
        *,
        system_channel: bool = True,
        preferred_locale: str = "fr",
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
    ) -> FakeGuild:
        """A guild the bot is in: @everyone, the bot's managed role, the owner, a #general."""
        gid = guild_id or self._snowflake()
        if gid in self.guilds and not self.guilds[gid].removed:
            raise FakeDiscordError(f"guild {gid} already exists")
        owner = self.add_user(owner_id, "owner", global_name="Owner")
        guild = FakeGuild(gid, name, owner.id, self.bot_user.id, preferred_locale=preferred_locale)
        guild.roles[gid] = FakeRole(gid, gid, "@everyone", everyone_permissions)
        bot_role = FakeRole(
            self._snowflake(),
            gid,
            self.bot_user.username,
            bot_permissions,
            position=1,
            managed=True,
            tags={"bot_id": str(self.bot_user.id)},
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[owner.id] = FakeMember(gid, owner)
        guild.members[self.bot_user.id] = FakeMember(gid, self.bot_user, roles=[bot_role.id])
        self.guilds[gid] = guild
        if system_channel:
            general = self._new_channel(guild, "general", 0)
            guild.system_channel_id = general.id
        self._dispatch_guild(guild.id, "GUILD_CREATE", None)
        return guild

    def add_channel(
        self,
        guild: Any,
        name: str = "channel",
        *,
        type: int = 0,
        parent: Any = None,
        topic: str | None = None,
        overwrites: list[dict[str, Any]] | None = None,
    ) -> FakeChannel:
        g = self._guild(guild)
        ch = self._new_channel(g, name, type, parent_id=_id_of(parent) if parent else None, topic=topic)
        ch.overwrites = list(overwrites or [])
        self._dispatch_guild(g.id, "CHANNEL_CREATE", ch.payload())
        return ch

    def _new_channel(self, guild: FakeGuild, name: str, ctype: int, **kwargs: Any) -> FakeChannel:
        ch = FakeChannel(self._snowflake(), ctype, name, guild.id, position=len(guild.channels), **kwargs)
        guild.channels[ch.id] = ch
        self.channels[ch.id] = ch
        return ch

    def add_role(self, guild: Any, name: str, permissions: int = 0, *, mentionable: bool = False) -> FakeRole:
        g = self._guild(guild)
        role = FakeRole(self._snowflake(), g.id, name, permissions, position=len(g.roles), mentionable=mentionable)
        g.roles[role.id] = role
        self._dispatch_guild(g.id, "GUILD_ROLE_CREATE", {"guild_id": str(g.id), "role": role.payload()})
        return role

    def add_member(
        self,
        guild: Any,
        user_id: int | None = None,
        name: str = "member",
        *,
        roles: Iterable[Any] = (),
        permissions: int | None = None,
        locale: str = "fr",
        nick: str | None = None,
    ) -> FakeMember:
        """Adds a member. ``permissions`` (int) overrides the permissions computed from roles."""
        g = self._guild(guild)
        user = self.add_user(user_id, name, locale=locale)
        role_ids = [_id_of(r) for r in roles]
        for rid in role_ids:
            if rid not in g.roles:
                raise FakeDiscordError(f"role {rid} is not in guild {g.name!r}")
        member = FakeMember(g.id, user, roles=role_ids, nick=nick, permissions=permissions)
        g.members[user.id] = member
        self._dispatch_guild(g.id, "GUILD_MEMBER_ADD", {**member.payload(), "guild_id": str(g.id)})
        return member

    def set_overwrite(self, channel: Any, target: Any, *, allow: int = 0, deny: int = 0) -> None:
        """A channel permission overwrite for a role or a member (replaces an existing one)."""
        ch = self._channel(channel)
        tid = _id_of(target)
        kind = 0 if isinstance(target, FakeRole) or tid in self.guilds[ch.guild_id or 0].roles else 1
        ch.overwrites = [o for o in ch.overwrites if int(o["id"]) != tid]
        ch.overwrites.append({"id": str(tid), "type": kind, "allow": str(allow), "deny": str(deny)})
        self._dispatch_guild(ch.guild_id, "CHANNEL_UPDATE", ch.payload())

    def remove_guild(self, guild_id: Any) -> None:
        """The bot is removed from the guild: GUILD_DELETE (not unavailable)."""
        g = self._guild(guild_id)
        self._dispatch_guild(g.id, "GUILD_DELETE", {"id": str(g.id)})
        g.removed = True
        for ch in g.channels.values():
            ch.deleted = True

    def delete_channel(self, channel_id: Any) -> None:
        """The channel disappears: CHANNEL_DELETE; posting there answers 404 Unknown Channel."""
        ch = self._channel(channel_id)
        ch.deleted = True
        if ch.guild_id:
            self._dispatch_guild(ch.guild_id, "CHANNEL_DELETE", ch.payload())

    def forbid_channel(self, channel_id: Any, forbidden: bool = True) -> None:
        """The bot lost access: posting there answers 403 Missing Access (50001)."""
        self._channel(channel_id).forbidden = forbidden

    def close_dms(self, user: Any, closed: bool = True) -> None:
        """The user refuses DMs: sending to their DM channel answers 403 (50007)."""
        uid = _id_of(user)
        (self._dm_closed.add if closed else self._dm_closed.discard)(uid)

    def dm_channel(self, user: Any) -> FakeChannel:
        """The DM channel between the bot and ``user`` (created on first use)."""
        uid = _id_of(user)
        if uid not in self.users:
            raise FakeDiscordError(f"unknown user {uid}")
        cid = self._dm_channels.get(uid)
        if cid is None:
            ch = FakeChannel(self._snowflake(), 1, None, recipients=[self.users[uid]])
            self.channels[ch.id] = ch
            cid = self._dm_channels[uid] = ch.id
        return self.channels[cid]

    def add_attachment(
        self, filename: str, data: bytes, content_type: str | None = None, *, description: str | None = None
    ) -> dict[str, Any]:
        """A file a user attached to a command option: its payload for ``resolved.attachments``;
        the bytes are served by the fake's CDN at the payload's ``url``."""
        att = self._store_file(_File(None, filename, bytes(data), content_type or self._guess_type(filename)))
        att["ephemeral"] = True
        if description:
            att["description"] = description
        public = {k: v for k, v in att.items() if k != "data"}
        self._user_attachments[int(att["id"])] = public
        return copy.deepcopy(public)

    def _guess_type(self, filename: str) -> str:
        if filename.endswith(".torrent"):
            return "application/x-bittorrent"
        return mimetypes.guess_type(filename)[0] or "application/octet-stream"

    def _store_file(self, f: _File) -> dict[str, Any]:
        aid = self._snowflake()
        filename = re.sub(r"\s+", "_", f.filename)
        self._files[aid] = _File(f.index, filename, f.data, f.content_type)
        ex = format(int(time.time()) + 86400, "x")
        issued = format(int(time.time()), "x")
        sig = hmac.new(self._cdn_secret, f"{aid}/{filename}/{ex}".encode(), hashlib.sha256).hexdigest()
        url = f"{self.origin}/attachments/{aid}/{filename}?ex={ex}&is={issued}&hm={sig}&"
        return {
            "id": str(aid),
            "filename": filename,
            "size": len(f.data),
            "url": url,
            "proxy_url": url,
            "content_type": f.content_type,
            "data": f.data,
        }

    def file_bytes(self, attachment: Any) -> bytes:
        """The bytes of an attachment (dict, id or CDN url)."""
        if isinstance(attachment, str) and attachment.startswith("http"):
            m = re.search(r"/attachments/(\d+)/", attachment)
            attachment = m.group(1) if m else attachment
        return self._files[_id_of(attachment)].data

    def _guild(self, guild: Any) -> FakeGuild:
        gid = _id_of(guild)
        g = self.guilds.get(gid)
        if g is None or g.removed:
            raise FakeDiscordError(f"unknown guild {gid}")
        return g

    def _channel(self, channel: Any) -> FakeChannel:
        cid = _id_of(channel)
        try:
            return self.channels[cid]
        except KeyError:
            raise FakeDiscordError(f"unknown channel {cid}") from None

    def _default_channel(self) -> FakeChannel:
        for g in self.guilds.values():
            if g.removed:
                continue
            if g.system_channel and not g.system_channel.deleted:
                return g.system_channel
            for ch in g.channels.values():
                if ch.type == 0 and not ch.deleted:
                    return ch
        raise FakeDiscordError("no guild text channel: call fake.add_guild() first or pass in_channel=")

    # -- permissions ---------------------------------------------------------------------------

    def member_permissions(self, guild: Any, member: Any, channel: Any = None) -> int:
        """Discord's permission computation (roles, admin, owner, channel overwrites)."""
        g = self._guild(guild) if not isinstance(guild, FakeGuild) else guild
        m = member if isinstance(member, FakeMember) else g.member(member)
        if m.permissions is not None:
            return m.permissions
        if m.id == g.owner_id:
            return ALL_PERMISSIONS
        base = g.everyone.permissions
        for rid in m.roles:
            if rid in g.roles:
                base |= g.roles[rid].permissions
        if base & ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return base
        ch = channel if isinstance(channel, FakeChannel) else self._channel(channel)
        overwrites = {int(o["id"]): o for o in ch.overwrites}
        perms = base
        if g.id in overwrites:
            o = overwrites[g.id]
            perms = (perms & ~int(o["deny"])) | int(o["allow"])
        allow = deny = 0
        for rid in m.roles:
            if rid in overwrites:
                allow |= int(overwrites[rid]["allow"])
                deny |= int(overwrites[rid]["deny"])
        perms = (perms & ~deny) | allow
        if m.id in overwrites:
            o = overwrites[m.id]
            perms = (perms & ~int(o["deny"])) | int(o["allow"])
        if not perms & VIEW_CHANNEL:
            return 0
        return perms

    def bot_permissions(self, channel: Any) -> int:
        ch = self._channel(channel)
        if ch.guild_id is None:
            return DM_PERMISSIONS
        g = self.guilds[ch.guild_id]
        return self.member_permissions(g, g.me, ch)

    # -- gateway -------------------------------------------------------------------------------

    async def _handle_gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        query = request.query
        compress = query.get("compress")
        conn = _Connection(ws, compress=compress, path=request.path)
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        conn.peer = (peer[0], peer[1]) if peer else None
        self._connections.append(conn)
        self.gateway_connections.append({"path": request.path, "query": dict(query)})
        self.connection_count += 1
        conn.writer = asyncio.create_task(conn.run_writer(), name="fake-discord-gateway-writer")
        log.debug(
            "gateway connection %s (v=%s encoding=%s compress=%s)",
            request.path,
            query.get("v"),
            query.get("encoding"),
            compress,
        )
        try:
            if query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"Only encoding=json is supported by the fake")
                return ws
            if query.get("v") not in (None, "9", "10"):
                await ws.close(code=4012, message=b"Invalid API version")
                return ws
            conn.enqueue(
                {
                    "op": 10,
                    "s": None,
                    "t": None,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-discord"]},
                }
            )
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    try:
                        data = json.loads(msg.data)
                    except ValueError:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                        break
                    await self._gateway_op(conn, data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            conn.closed = True
            session = conn.session
            clean_close = ws.close_code in (1000, 1001) and not conn.server_closed
            if session is not None and session.conn is conn and clean_close:
                session.resumable = False  # a clean close by the client ends the session
            if conn.writer is not None:
                conn.writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await conn.writer
            while not conn.queue.empty():  # release flush() waiters
                conn.queue.get_nowait()
                conn.queue.task_done()
            if conn in self._connections:
                self._connections.remove(conn)
            self._bump()
        return ws

    async def _gateway_op(self, conn: _Connection, data: dict[str, Any]) -> None:
        op, d = data.get("op"), data.get("d")
        if op == 1:
            conn.enqueue({"op": 11, "s": None, "t": None, "d": None})
        elif op == 2:
            await self._identify(conn, d or {})
        elif op == 6:
            await self._resume(conn, d or {})
        elif op == 3 and isinstance(d, dict):
            self.presences.append(d)
            self._outgoing.append(d)
            self._bump()
        elif op == 8:
            self._request_members(conn, d or {})
        elif op == 4:
            pass  # voice state: ignored
        else:
            log.error("fake Discord: unknown gateway opcode %r", op)
            self.unhandled.append(f"GATEWAY op {op}")
            await self._close_connection(conn, code=4001)

    async def _close_connection(self, conn: _Connection, code: int) -> None:
        conn.server_closed = True
        conn.closed = True
        if not conn.ws.closed:
            await conn.ws.close(code=code)

    async def _identify(self, conn: _Connection, d: dict[str, Any]) -> None:
        if conn.session is not None:
            await self._close_connection(conn, 4005)
            return
        if d.get("token") not in (self.token, f"Bot {self.token}"):
            log.error("fake Discord: IDENTIFY with a wrong token")
            await self._close_connection(conn, 4004)
            return
        intents = d.get("intents")
        if not _is_int(intents):
            await self._close_connection(conn, 4013)
            return
        if self.allowed_intents is not None and intents & PRIVILEGED_INTENTS & ~self.allowed_intents:
            await self._close_connection(conn, 4014)
            return
        shard = d.get("shard") or [0, 1]
        if not (isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]):
            await self._close_connection(conn, 4010)
            return
        now = time.monotonic()
        refusal = self._identify_refusal(shard[0], now)
        if refusal is not None:
            self.identifies.append(IdentifyRecord((shard[0], shard[1]), now, None, refusal))
            log.warning("fake Discord: IDENTIFY of shard %s refused (%s): op 9", shard, refusal)
            conn.enqueue({"op": 9, "s": None, "t": None, "d": False})
            self._bump()
            return
        self.session_start_remaining -= 1
        if d.get("presence"):
            self.presences.append(d["presence"])
            self._outgoing.append(d["presence"])
        session = _Session(secrets.token_hex(16), (shard[0], shard[1]), intents, d)
        self.identifies.append(IdentifyRecord((shard[0], shard[1]), now, session.id))
        session.conn = conn
        conn.session = session
        self._sessions[session.id] = session
        self.identify_count += 1
        guilds = [g for g in self.guilds.values() if not g.removed and session.covers(g.id)]
        ready = {
            "v": 10,
            "user": {**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "email": None},
            "user_settings": {},
            "relationships": [],
            "private_channels": [],
            "presences": [],
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["rotterdam", "madrid"],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": f"ws://{self.host}:{self.port}/gateway/resume",
            "shard": [shard[0], shard[1]],
            "application": {"id": str(self.application_id), "flags": 0},
            "auth_session_id_hash": "",
            "_trace": ["fake-discord"],
        }
        self._send(session, "READY", ready)
        for g in guilds:
            if session.intents & INTENT_GUILDS:
                self._send(session, "GUILD_CREATE", self._guild_create_payload(g, session))

        def mark_ready() -> None:
            session.ready = True
            self.ready_count += 1
            self._bump()

        conn.enqueue(mark_ready)
        self._bump()

    def _identify_refusal(self, shard_id: int, now: float) -> str | None:
        if self.session_start_remaining <= 0:
            return "session_start_limit spent"
        if not self.enforce_identify_rate:
            return None
        bucket = shard_id % self.max_concurrency
        for prev in reversed(self.identifies):
            if now - prev.at >= self.identify_interval:
                break
            if not prev.refused and prev.shard[0] % self.max_concurrency == bucket:
                return f"bucket {bucket} identified {now - prev.at:.2f}s ago (max_concurrency={self.max_concurrency})"
        return None

    @property
    def failed_logins(self) -> list[IdentifyRecord]:
        """The IDENTIFYs answered op 9 (too close to another in their bucket, or no session
        start left)."""
        return [r for r in self.identifies if r.refused]

    def sessions(self, shard_id: int | None = None, *, live: bool = True) -> list[_Session]:
        """The gateway sessions (of one shard id), by default only those with an open
        connection. Several sessions of one shard may be live at once, as on Discord."""
        return [
            s for s in self._sessions.values() if (shard_id is None or s.shard[0] == shard_id) and (s.live or not live)
        ]

    def shard_of(self, guild_id: int | None, shard_count: int | None = None) -> int:
        """Discord's rule: ``(guild_id >> 22) % shard_count``; DMs live on shard 0."""
        count = shard_count or self.shard_count
        return 0 if guild_id is None else (guild_id >> 22) % count

    @property
    def double_acks(self) -> list[CallbackRecord]:
        """Callbacks refused because the interaction was already acknowledged (40060):
        the interaction was answered twice (e.g. by two processes holding its shard)."""
        return [c for c in self.callback_log if c.code == 40060]

    async def _resume(self, conn: _Connection, d: dict[str, Any]) -> None:
        session = self._sessions.get(d.get("session_id") or "")
        if d.get("token") not in (self.token, f"Bot {self.token}"):
            await self._close_connection(conn, 4004)
            return
        if session is None or not session.resumable:
            conn.enqueue({"op": 9, "s": None, "t": None, "d": False})
            return
        old = session.conn
        if old is not None and old is not conn and not old.closed:
            await self._close_connection(old, 4000)
        session.conn = conn
        conn.session = session
        seq = d.get("seq") or 0
        for payload in session.backlog:
            if payload["s"] > seq:
                conn.enqueue(payload)
        self._send(session, "RESUMED", {"_trace": ["fake-discord"]})
        self.resume_count += 1
        self._bump()

    def _request_members(self, conn: _Connection, d: dict[str, Any]) -> None:
        session = conn.session
        if session is None:
            return
        guild_ids = d.get("guild_id")
        for gid in guild_ids if isinstance(guild_ids, list) else [guild_ids]:
            g = self.guilds.get(int(gid)) if gid is not None else None
            if g is None or g.removed:
                continue
            members = list(g.members.values())
            not_found: list[str] = []
            if d.get("user_ids"):
                wanted = [int(u) for u in d["user_ids"]]
                not_found = [str(u) for u in wanted if u not in g.members]
                members = [m for m in members if m.id in wanted]
            elif d.get("query"):
                q = d["query"].lower()
                members = [
                    m for m in members if m.user.username.lower().startswith(q) or (m.nick or "").lower().startswith(q)
                ]
            if d.get("limit"):
                members = members[: d["limit"]]
            chunk: dict[str, Any] = {
                "guild_id": str(g.id),
                "members": [m.payload() for m in members],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": not_found,
            }
            if d.get("nonce"):
                chunk["nonce"] = d["nonce"]
            if d.get("presences"):
                chunk["presences"] = []
            self._send(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _send(self, session: _Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        payload = {"op": 0, "s": session.seq, "t": event, "d": data}
        session.backlog.append(payload)
        del session.backlog[:-2000]
        if session.live:
            assert session.conn is not None
            session.conn.enqueue(payload)

    def _ready_sessions(self, guild_id: int | None) -> list[_Session]:
        return [s for s in self._sessions.values() if s.ready and s.resumable and s.covers(guild_id)]

    def _dispatch_guild(self, guild_id: int | None, event: str, data: dict[str, Any] | None) -> None:
        """A world change: to every ready session of the guild's shard (intents permitting)."""
        for session in self._ready_sessions(guild_id):
            needed = _EVENT_INTENTS.get(event, 0)
            if needed and not session.intents & needed:
                continue
            if event == "GUILD_CREATE":
                payload = self._guild_create_payload(self.guilds[guild_id], session)  # type: ignore[index]
            else:
                payload = data if data is not None else {}
            self._send(session, event, copy.deepcopy(payload))
        self._bump()

    def _sessions_for(self, guild_id: int | None) -> list[_Session]:
        """Every live, ready session of the guild's shard (DMs: shard 0), oldest first: like
        Discord, duplicate sessions of one shard each receive its events and interactions."""
        sessions = [s for s in self._ready_sessions(guild_id) if s.live]
        if not sessions:
            raise FakeDiscordError(
                "no ready gateway session to dispatch to (is the bot running?)\n" + self._diagnostics()
            )
        return sorted(sessions, key=lambda s: s.identified_at)

    async def dispatch(self, event: str, data: dict[str, Any], *, guild_id: int | None = None) -> None:
        """Sends any gateway event to the bot (every live ready session of the shard)."""
        sessions = self._sessions_for(guild_id)
        for session in sessions:
            self._send(session, event, copy.deepcopy(data))
        for session in sessions:
            assert session.conn is not None
            await session.conn.flush()

    async def drop_connections(self, code: int = 4000) -> None:
        """Closes every gateway connection from the server side (the bot should RESUME)."""
        for conn in list(self._connections):
            await self._close_connection(conn, code)

    async def request_reconnect(self) -> None:
        """Sends op 7 RECONNECT on every connection (the bot should reconnect and RESUME)."""
        for conn in list(self._connections):
            conn.enqueue({"op": 7, "s": None, "t": None, "d": None})
            await conn.flush()

    async def invalidate_sessions(self) -> None:
        """op 9 INVALID_SESSION (not resumable) on every connection: the bot must IDENTIFY anew."""
        for session in self._sessions.values():
            session.resumable = False
        for conn in list(self._connections):
            conn.enqueue({"op": 9, "s": None, "t": None, "d": False})
            await conn.flush()

    def _guild_create_payload(self, g: FakeGuild, session: _Session) -> dict[str, Any]:
        small = len(g.members) < int(session.identify.get("large_threshold") or 50)
        if session.intents & INTENT_GUILD_PRESENCES and small:
            members = list(g.members.values())
        else:  # Discord only sends the bot itself (and voice members)
            members = [g.me]
        return {
            **self._guild_rest_payload(g),
            "joined_at": g.joined_at,
            "large": not small,
            "unavailable": False,
            "member_count": len(g.members),
            "voice_states": [],
            "members": [m.payload() for m in members],
            "channels": [self._channel_in_guild_create(c) for c in g.channels.values() if not c.deleted],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "embedded_activities": [],
            "lazy": True,
            "application_command_counts": {},
        }

    @staticmethod
    def _channel_in_guild_create(ch: FakeChannel) -> dict[str, Any]:
        data = ch.payload()
        data.pop("guild_id", None)  # like Discord
        return data

    def _guild_rest_payload(self, g: FakeGuild) -> dict[str, Any]:
        return {
            "id": str(g.id),
            "name": g.name,
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(g.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in g.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": list(g.features),
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(g.system_channel_id) if g.system_channel_id else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "max_presences": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": g.preferred_locale,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "nsfw": False,
            "premium_progress_bar_enabled": False,
            "incidents_data": None,
        }

    # -- HTTP plumbing ---------------------------------------------------------------------------

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any], bool]]:
        table: list[tuple[str, str, Callable[..., Any], bool]] = [
            ("GET", "/users/@me", self._r_me, True),
            ("POST", "/users/@me/channels", self._r_create_dm, True),
            ("DELETE", "/users/@me/guilds/{guild_id}", self._r_leave_guild, True),
            ("GET", "/users/{user_id}", self._r_get_user, True),
            ("GET", "/oauth2/applications/@me", self._r_app_info, True),
            ("GET", "/applications/@me", self._r_app_info, True),
            ("GET", "/gateway", self._r_gateway, False),
            ("GET", "/gateway/bot", self._r_gateway_bot, True),
            ("GET", "/applications/{app_id}/commands", self._r_get_commands, True),
            ("PUT", "/applications/{app_id}/commands", self._r_put_commands, True),
            ("POST", "/applications/{app_id}/commands", self._r_post_command, True),
            ("GET", "/applications/{app_id}/commands/{command_id}", self._r_get_command, True),
            ("PATCH", "/applications/{app_id}/commands/{command_id}", self._r_patch_command, True),
            ("DELETE", "/applications/{app_id}/commands/{command_id}", self._r_delete_command, True),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands/permissions", self._r_command_permissions, True),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._r_get_commands, True),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._r_put_commands, True),
            ("POST", "/applications/{app_id}/guilds/{guild_id}/commands", self._r_post_command, True),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self._r_get_command, True),
            ("PATCH", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self._r_patch_command, True),
            ("DELETE", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self._r_delete_command, True),
            ("GET", "/applications/{app_id}/entitlements", self._r_empty_list, True),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._r_callback, False),
            ("POST", "/webhooks/{app_id}/{token}", self._r_followup, False),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self._r_webhook_get, False),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._r_webhook_edit, False),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self._r_webhook_delete, False),
            ("GET", "/channels/{channel_id}", self._r_get_channel, True),
            ("GET", "/channels/{channel_id}/messages", self._r_history, True),
            ("POST", "/channels/{channel_id}/messages", self._r_create_message, True),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._r_get_message, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._r_edit_message, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._r_delete_message, True),
            ("POST", "/channels/{channel_id}/typing", self._r_typing, True),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._r_reaction, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._r_reaction, True),
            ("GET", "/guilds/{guild_id}", self._r_get_guild, True),
            ("GET", "/guilds/{guild_id}/channels", self._r_guild_channels, True),
            ("GET", "/guilds/{guild_id}/roles", self._r_guild_roles, True),
            ("GET", "/guilds/{guild_id}/members", self._r_guild_members, True),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._r_guild_member, True),
        ]
        compiled = []
        for method, pattern, handler, auth in table:
            regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern)) + "$"
            compiled.append((method, re.compile(regex), handler, auth))
        return compiled

    def rate_limit_next(
        self,
        route: str,
        retry_after: float = 0.1,
        *,
        is_global: bool = False,
        times: int = 1,
        scope: str = "user",
        via: bool = True,
    ) -> None:
        """The next ``times`` requests whose "METHOD /path" contains ``route`` get a 429.

        Discord's own 429s come through its Google front end with ``Via: 1.1 google`` and a
        JSON body, which discord.py waits out and retries. ``via=False`` gives a 429 with
        neither (what Cloudflare's ban, or a REST proxy rejecting on a rate limit, answers):
        discord.py raises it at once, without retrying."""
        self._faults.append(
            {
                "route": route,
                "kind": "429",
                "retry_after": retry_after,
                "global": is_global,
                "times": times,
                "scope": scope,
                "via": via,
            }
        )

    def fail_next(
        self,
        route: str,
        status: int = 500,
        *,
        code: int = 0,
        message: str | None = None,
        times: int = 1,
        after_handling: bool = False,
    ) -> None:
        """The next ``times`` requests whose "METHOD /path" contains ``route`` fail with ``status``.
        (discord.py retries 500/502/504 itself after sleeping 1 s, 3 s...).

        ``after_handling``: the request is carried out first (the message is created),
        then answered with the failure, as a REST proxy that times out (408) or a gateway
        that drops the answer (502) after Discord did the work."""
        self._faults.append(
            {
                "route": route,
                "kind": "fail",
                "status": status,
                "code": code,
                "message": message,
                "times": times,
                "after": after_handling,
            }
        )

    def slow_next(self, route: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` requests whose "METHOD /path" contains ``route`` are carried
        out at once (a message is created) and answered ``seconds`` later: a request in
        flight, e.g. for a bot process killed before it hears back."""
        self._faults.append({"route": route, "kind": "slow", "delay": seconds, "times": times, "after": True})

    def _take_fault(self, key: str) -> dict[str, Any] | None:
        for fault in self._faults:
            if fault["route"] in key:
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_response(self, fault: dict[str, Any], key: str) -> web.Response:
        if fault["kind"] == "429":
            self.rate_limited.append(key)
            retry = fault["retry_after"]
            if not fault.get("via", True):
                return web.Response(
                    status=429, text="error code: 1015", headers={"Retry-After": str(max(1, int(retry + 0.999)))}
                )
            headers = {
                "Retry-After": str(max(1, int(retry + 0.999))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry:.3f}",
                "X-RateLimit-Reset-After": f"{retry:.3f}",
                "X-RateLimit-Bucket": hashlib.md5(key.encode(), usedforsecurity=False).hexdigest(),
                "X-RateLimit-Scope": fault["scope"],
                "Via": "1.1 google",
            }
            if fault["global"]:
                headers["X-RateLimit-Global"] = "true"
            body = {"message": "You are being rate limited.", "retry_after": retry, "global": fault["global"]}
            return _json_response(body, status=429, headers=headers)
        status = fault["status"]
        message = fault["message"] or f"{status}: {http.HTTPStatus(status).phrase}"
        return _json_response({"message": message, "code": fault["code"]}, status=status)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[_File]]:
        ctype = request.content_type
        files: list[_File] = []
        if ctype.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            async for part in reader:
                name = part.name or ""  # type: ignore[union-attr]
                raw = bytes(await part.read(decode=False))  # type: ignore[union-attr]
                if name == "payload_json":
                    payload = json.loads(raw.decode())
                elif part.filename is not None:  # type: ignore[union-attr]
                    m = re.fullmatch(r"files\[(\d+)\]", name) or re.fullmatch(r"file(\d*)", name)
                    index = int(m.group(1)) if m and m.group(1) else len(files)
                    ctype_part = part.headers.get("Content-Type", "application/octet-stream")  # type: ignore[union-attr]
                    filename = part.filename  # type: ignore[union-attr]
                    if ctype_part == "application/octet-stream":
                        ctype_part = self._guess_type(filename)
                    files.append(_File(index, filename, raw, ctype_part))
            return payload, files
        body = await request.read()
        if not body:
            return None, files
        try:
            return json.loads(body), files
        except ValueError:
            raise _ApiError(400, 50109, "The request body contains invalid JSON.") from None

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        version = request.match_info["version"]
        path = "/" + request.match_info["tail"]
        key = f"{request.method} {path}"
        record = RequestRecord(
            request.method,
            path,
            dict(request.query),
            None,
            [],
            via=request.headers.get("Via"),
            user_agent=request.headers.get("User-Agent"),
        )
        self.requests.append(record)
        try:
            if version not in ("9", "10"):
                raise _ApiError(400, 50041, "Invalid API version provided.")
            payload, files = await self._read_body(request)
            record.json = payload
            record.files = [{"filename": f.filename, "data": f.data, "content_type": f.content_type} for f in files]
            if request.method in ("POST", "PUT", "PATCH") and payload is not None:
                self._outgoing.append(payload)
            self._outgoing.extend(f.filename for f in files)
            fault = self._take_fault(key)
            if fault is not None and not fault.get("after"):
                response = self._fault_response(fault, key)
                record.status = response.status
                return response
            for method, regex, handler, auth in self._routes:
                m = regex.match(path)
                if m is None or method != request.method:
                    continue
                if auth and request.headers.get("Authorization") != f"Bot {self.token}":
                    raise _ApiError(401, 0, "401: Unauthorized")
                response = await handler(request, payload, files, **m.groupdict())
                break
            else:
                log.error("fake Discord: UNHANDLED route %s (add it to tests/fakes/discord.py)", key)
                self.unhandled.append(key)
                self._bump()
                raise _ApiError(404, 0, "404: Not Found")
            if fault is not None and fault["kind"] == "slow":  # done; the answer comes late
                self._bump()  # (``record.status`` stays 0 while the answer is held back)
                await asyncio.sleep(fault["delay"])
            elif fault is not None:  # done, but the answer is lost
                response = self._fault_response(fault, key)
                self._bump()
        except _ApiError as exc:
            record.status = exc.status
            if exc.status != 404 or key not in self.unhandled:
                log.warning(
                    "fake Discord: %s -> %s %s %s",
                    key,
                    exc.status,
                    exc.code,
                    json.dumps(exc.errors or exc.message)[:500],
                )
                self.errors.append({"route": key, "status": exc.status, "body": exc.body()})
                rec = self._rec_for_path(path)
                if rec is not None:
                    rec.errors.append({"route": key, "status": exc.status, "body": exc.body()})
            self._bump()
            return _json_response(exc.body(), status=exc.status, headers=exc.headers)
        record.status = response.status
        self._bump()
        return response

    def _rec_for_path(self, path: str) -> InteractionRecord | None:
        m = re.match(r"^/interactions/(\d+)/", path)
        if m:
            return self._interactions.get(int(m.group(1)))
        m = re.match(r"^/webhooks/\d+/([^/]+)", path)
        if m:
            return self._by_token.get(m.group(1))
        return None

    async def _handle_unknown(self, request: web.Request) -> web.StreamResponse:
        key = f"{request.method} {request.path}"
        log.error("fake Discord: UNHANDLED %s", key)
        self.unhandled.append(key)
        self._bump()
        return _json_response({"message": "404: Not Found", "code": 0}, status=404)

    async def _handle_cdn(self, request: web.Request) -> web.StreamResponse:
        key = f"GET {request.path}"
        fault = self._take_fault(key)
        if fault is not None:
            return self._fault_response(fault, key)
        try:
            aid = int(request.match_info["attachment_id"])
        except ValueError:
            aid = -1
        f = self._files.get(aid)
        if f is None or f.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        ex = request.query.get("ex", "")
        expected = hmac.new(self._cdn_secret, f"{aid}/{f.filename}/{ex}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.query.get("hm", "")):
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(body=f.data, content_type=f.content_type.split(";")[0])

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        return _json_response(data, status=status)

    @staticmethod
    def _no_content() -> web.Response:
        return web.Response(status=204)

    # -- REST: users, application, gateway ---------------------------------------------------------

    async def _r_me(self, request: web.Request, payload: Any, files: list[_File]) -> web.Response:
        return self._json(
            {**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "locale": "en-US", "email": None}
        )

    async def _r_get_user(self, request: web.Request, payload: Any, files: list[_File], user_id: str) -> web.Response:
        user = self.users.get(int(user_id)) if user_id.isdigit() else None
        if user is None:
            raise _ApiError(404, 10013, "Unknown User")
        return self._json(user.payload())

    async def _r_create_dm(self, request: web.Request, payload: Any, files: list[_File]) -> web.Response:
        rid = (payload or {}).get("recipient_id")
        if rid is None or int(rid) not in self.users:
            raise _ApiError(
                400,
                50035,
                "Invalid Form Body",
                {"recipient_id": {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Unknown user"}]}},
            )
        return self._json(self.dm_channel(int(rid)).payload())

    async def _r_leave_guild(
        self, request: web.Request, payload: Any, files: list[_File], guild_id: str
    ) -> web.Response:
        g = self.guilds.get(int(guild_id))
        if g is None or g.removed:
            raise _ApiError(404, 10004, "Unknown Guild")
        self.remove_guild(g.id)
        return self._no_content()

    async def _r_app_info(self, request: web.Request, payload: Any, files: list[_File]) -> web.Response:
        return self._json(
            {
                "id": str(self.application_id),
                "name": self.bot_user.username,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "hook": True,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": hashlib.sha256(str(self.application_id).encode()).hexdigest(),
                "owner": self.app_owner.payload(),
                "team": None,
                "flags": 0,
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "install_params": None,
                "integration_types_config": {"0": {}},
                "approximate_guild_count": sum(1 for g in self.guilds.values() if not g.removed),
                "bot": self.bot_user.payload(),
            }
        )

    async def _r_gateway(self, request: web.Request, payload: Any, files: list[_File]) -> web.Response:
        return self._json({"url": self.gateway_url})

    async def _r_gateway_bot(self, request: web.Request, payload: Any, files: list[_File]) -> web.Response:
        return self._json(
            {
                "url": self.gateway_url,
                "shards": self.shard_count,
                "session_start_limit": {
                    "total": self.session_start_total,
                    "remaining": self.session_start_remaining,
                    "reset_after": self.session_start_reset_after_ms,
                    "max_concurrency": self.max_concurrency,
                },
            }
        )

    async def _r_empty_list(self, request: web.Request, payload: Any, files: list[_File], **_: str) -> web.Response:
        return self._json([])

    # -- REST: application commands --------------------------------------------------------------

    def _check_app(self, app_id: str) -> None:
        if app_id != str(self.application_id):
            raise _ApiError(403, 50001, "Missing Access")

    def _command_scope(self, guild_id: str | None) -> int | None:
        if guild_id is None:
            return None
        g = self.guilds.get(int(guild_id)) if guild_id.isdigit() else None
        if g is None or g.removed:
            raise _ApiError(403, 50001, "Missing Access")
        return g.id

    def commands(self, guild_id: Any = None) -> list[dict[str, Any]]:
        """The commands as last synced (global when ``guild_id`` is None), as Discord stores them."""
        return copy.deepcopy(self._commands.get(_id_of(guild_id) if guild_id is not None else None, []))

    def command(self, name: str, guild_id: Any = None) -> dict[str, Any]:
        for cmd in self.commands(guild_id):
            if cmd["name"] == name:
                return cmd
        raise FakeDiscordError(f"no synced command {name!r} (guild {guild_id})")

    def _stored_command(self, cmd: dict[str, Any], scope: int | None, prev: dict[str, Any] | None) -> dict[str, Any]:
        ctype = cmd.get("type", 1)
        perms = cmd.get("default_member_permissions")
        body: dict[str, Any] = {
            "type": ctype,
            "name": cmd["name"],
            "name_localizations": cmd.get("name_localizations") or None,
            "description": cmd.get("description") or "" if ctype == 1 else "",
            "description_localizations": cmd.get("description_localizations") or None,
            "default_member_permissions": str(perms) if perms is not None else None,
            "nsfw": bool(cmd.get("nsfw", False)),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types") or [0],
        }
        if ctype == 1:
            body["options"] = copy.deepcopy(cmd.get("options") or [])
        if scope is None:
            dm = cmd.get("dm_permission")
            body["dm_permission"] = True if dm is None else bool(dm)
        else:
            body["guild_id"] = str(scope)
        same = prev is not None and all(prev.get(k) == v for k, v in body.items())
        return {
            "id": prev["id"] if prev else str(self._snowflake()),
            "application_id": str(self.application_id),
            "version": prev["version"] if same and prev else str(self._snowflake()),
            **body,
        }

    async def _r_get_commands(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, guild_id: str | None = None
    ) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        cmds = copy.deepcopy(self._commands.get(scope, []))
        if request.query.get("with_localizations") not in ("true", "1", "True"):
            for cmd in cmds:  # like Discord: only the localized string for the request's locale
                cmd.pop("name_localizations", None)
                cmd.pop("description_localizations", None)
        return self._json(cmds)

    async def _r_put_commands(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, guild_id: str | None = None
    ) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        _validate_command_list(payload)
        previous = {(c["type"], c["name"]): c for c in self._commands.get(scope, [])}
        stored = [self._stored_command(cmd, scope, previous.get((cmd.get("type", 1), cmd["name"]))) for cmd in payload]
        self._commands[scope] = stored
        self.sync_payloads.append((scope, copy.deepcopy(payload)))
        self.sync_count += 1
        return self._json(copy.deepcopy(stored))

    async def _r_post_command(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, guild_id: str | None = None
    ) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        existing = self._commands.get(scope, [])
        _validate_command_list([payload])
        key = (payload.get("type", 1), payload["name"])
        prev = next((c for c in existing if (c["type"], c["name"]) == key), None)
        stored = self._stored_command(payload, scope, prev)
        others = [c for c in existing if c is not prev]
        self._commands[scope] = others + [stored]
        return self._json(copy.deepcopy(stored), status=200 if prev else 201)

    def _find_stored(self, scope: int | None, command_id: str) -> dict[str, Any]:
        for cmd in self._commands.get(scope, []):
            if cmd["id"] == command_id:
                return cmd
        raise _ApiError(404, 10063, "Unknown application command")

    async def _r_get_command(
        self,
        request: web.Request,
        payload: Any,
        files: list[_File],
        app_id: str,
        command_id: str,
        guild_id: str | None = None,
    ) -> web.Response:
        self._check_app(app_id)
        return self._json(copy.deepcopy(self._find_stored(self._command_scope(guild_id), command_id)))

    async def _r_patch_command(
        self,
        request: web.Request,
        payload: Any,
        files: list[_File],
        app_id: str,
        command_id: str,
        guild_id: str | None = None,
    ) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        cmd = self._find_stored(scope, command_id)
        merged = {
            **{k: v for k, v in cmd.items() if k not in ("id", "application_id", "version", "guild_id")},
            **(payload or {}),
        }
        _validate_command_list([merged])
        new = self._stored_command(merged, scope, cmd)
        self._commands[scope] = [new if c is cmd else c for c in self._commands[scope]]
        return self._json(copy.deepcopy(new))

    async def _r_delete_command(
        self,
        request: web.Request,
        payload: Any,
        files: list[_File],
        app_id: str,
        command_id: str,
        guild_id: str | None = None,
    ) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        cmd = self._find_stored(scope, command_id)
        self._commands[scope] = [c for c in self._commands[scope] if c is not cmd]
        return self._no_content()

    async def _r_command_permissions(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, guild_id: str
    ) -> web.Response:
        self._check_app(app_id)
        return self._json([])

    # -- messages ----------------------------------------------------------------------------------

    def _mentions(self, msg: dict[str, Any], channel: FakeChannel) -> None:
        content = msg.get("content") or ""
        allowed = msg.get("allowed_mentions")
        parse = ["users", "roles", "everyone"] if allowed is None else allowed.get("parse", [])
        users = {int(u) for u in re.findall(r"<@!?(\d+)>", content)}
        roles = {int(r) for r in re.findall(r"<@&(\d+)>", content)}
        if allowed is not None and "users" not in parse:
            users &= {int(u) for u in allowed.get("users", [])}
        if allowed is not None and "roles" not in parse:
            roles &= {int(r) for r in allowed.get("roles", [])}
        msg["mentions"] = [self.users[u].payload() for u in sorted(users) if u in self.users]
        msg["mention_roles"] = [str(r) for r in sorted(roles)]
        msg["mention_everyone"] = "everyone" in parse and ("@everyone" in content or "@here" in content)

    def _build_attachments(
        self, spec: Any, files: list[_File], existing: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]]:
        by_index = {f.index: f for f in files}
        used: set[int | None] = set()
        result: list[dict[str, Any]] = []
        existing_by_id = {a["id"]: a for a in existing or []}
        if spec is None:
            result = list(existing or [])
        else:
            for entry in spec:
                aid = str(entry.get("id"))
                if aid in existing_by_id:
                    result.append(existing_by_id[aid])
                    continue
                index = int(aid) if aid.isdigit() else None
                f = by_index.get(index)
                if f is None:
                    raise _ApiError(
                        400,
                        50035,
                        "Invalid Form Body",
                        {
                            "attachments": {
                                "_errors": [
                                    {
                                        "code": "ATTACHMENT_NOT_FOUND",
                                        "message": f"Attachment {aid!r} not found in the request files",
                                    }
                                ]
                            }
                        },
                    )
                used.add(index)
                att = self._store_file(_File(f.index, entry.get("filename") or f.filename, f.data, f.content_type))
                if entry.get("description"):
                    att["description"] = entry["description"]
                result.append(att)
        for f in files:
            if f.index not in used:
                result.append(self._store_file(f))
        return result

    def _check_files(self, files: list[_File]) -> None:
        for f in files:
            if len(f.data) > self.upload_limit:
                raise _ApiError(413, 40005, "Request entity too large")

    def _new_message(
        self,
        channel: FakeChannel,
        data: dict[str, Any],
        files: list[_File],
        *,
        author: FakeUser | None = None,
        msg_type: int = 0,
        flags: int = 0,
        rec: InteractionRecord | None = None,
    ) -> dict[str, Any]:
        mid = self._snowflake()
        msg: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel.id),
            "type": msg_type,
            "content": data.get("content") or "",
            "author": (author or self.bot_user).payload(),
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(data.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._build_attachments(data.get("attachments"), files, None),
            "embeds": [self._normalize_embed(e) for e in data.get("embeds") or []],
            "components": copy.deepcopy(data.get("components") or []),
            "pinned": False,
            "flags": flags,
        }
        if data.get("nonce") is not None:
            msg["nonce"] = data["nonce"]
        if data.get("message_reference"):
            msg["message_reference"] = {**data["message_reference"], "channel_id": str(channel.id)}
        if rec is not None:
            msg["webhook_id"] = str(self.application_id)
            msg["application_id"] = str(self.application_id)
            user = self.users[rec.user_id].payload()
            meta: dict[str, Any] = {
                "id": str(rec.id),
                "type": rec.type,
                "user": user,
                "authorizing_integration_owners": rec.payload.get("authorizing_integration_owners", {}),
            }
            if rec.type == 2:
                meta["name"] = rec.command_name
                meta["command_type"] = 1
                msg["interaction"] = {"id": str(rec.id), "type": 2, "name": rec.command_name, "user": user}
            if rec.source_message_id:
                meta["interacted_message_id"] = str(rec.source_message_id)
            msg["interaction_metadata"] = meta
        msg["allowed_mentions"] = data.get("allowed_mentions")
        msg["enforce_nonce"] = data.get("enforce_nonce")
        self._mentions(msg, channel)
        self._messages[mid] = msg
        if not flags & FLAG_EPHEMERAL:
            self._channel_messages[channel.id].append(mid)
            channel.last_message_id = mid
        return msg

    @staticmethod
    def _normalize_embed(embed: dict[str, Any]) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in embed.items() if v is not None}
        out.setdefault("type", "rich")
        out.setdefault("content_scan_version", 0)
        return out

    def _apply_edit(
        self, msg: dict[str, Any], data: dict[str, Any], files: list[_File], *, resolve_loading: bool = False
    ) -> None:
        data = data or {}
        new = dict(msg)
        if "content" in data:
            new["content"] = data["content"] or ""
        if "embeds" in data:
            new["embeds"] = [self._normalize_embed(e) for e in data["embeds"] or []]
        if "components" in data:
            new["components"] = copy.deepcopy(data["components"] or [])
        if data.get("flags") is not None:
            keep = msg["flags"] & (FLAG_EPHEMERAL | FLAG_LOADING)
            new["flags"] = keep | (data["flags"] & (FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2))
        if "allowed_mentions" in data:
            new["allowed_mentions"] = data["allowed_mentions"]
        if "attachments" in data or files:
            new["attachments"] = self._build_attachments(data.get("attachments"), files, msg["attachments"])
        if resolve_loading or msg["flags"] & FLAG_LOADING:
            new["flags"] = new["flags"] & ~FLAG_LOADING
        else:
            new["edited_timestamp"] = _now_iso()
        if _is_empty_message(new):
            raise _ApiError(400, 50006, "Cannot send an empty message")
        self._mentions(new, self.channels[int(msg["channel_id"])])
        new["_edits"] = msg.get("_edits", 0) + 1
        msg.clear()
        msg.update(new)

    def _live_message(self, message_id: Any) -> dict[str, Any]:
        mid = int(message_id) if str(message_id).isdigit() else -1
        msg = self._messages.get(mid)
        if msg is None or msg.get("_deleted"):
            raise _ApiError(404, 10008, "Unknown Message")
        return msg

    def _delete(self, msg: dict[str, Any]) -> None:
        msg["_deleted"] = True
        cid, mid = int(msg["channel_id"]), int(msg["id"])
        if mid in self._channel_messages.get(cid, []):
            self._channel_messages[cid].remove(mid)

    def channel_messages(self, channel_id: Any, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Non-ephemeral messages of a channel, oldest first, as they are now."""
        cid = _id_of(channel_id)
        msgs = [self._messages[m] for m in self._channel_messages.get(cid, [])]
        if include_deleted:
            msgs = [
                m for m in self._messages.values() if m["channel_id"] == str(cid) and not m["flags"] & FLAG_EPHEMERAL
            ]
        return msgs

    def message(self, message_id: Any) -> dict[str, Any]:
        return self._messages[_id_of(message_id)]

    async def wait_for_channel_message(
        self,
        channel_id: Any,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
        *,
        new_only: bool = False,
    ) -> dict[str, Any]:
        """The first message of the channel matching ``predicate`` (already there or to come;
        ``new_only`` ignores the messages that exist when called)."""
        cid = _id_of(channel_id)
        skip = set(self._channel_messages.get(cid, [])) if new_only else set()

        def check() -> Any:
            for mid in self._channel_messages.get(cid, []):
                if mid not in skip and (predicate is None or predicate(self._messages[mid])):
                    return self._messages[mid]
            return _PENDING

        return await self._wait_for(check, timeout, f"a message in channel {cid}")

    def all_sent_text(self, *, include_files: bool = False) -> str:
        """Every string the bot ever sent (message and callback bodies: contents, embeds,
        components, modals, autocomplete choices, command sync, presence; file names), one per
        line. ``include_files`` adds the uploaded files' bytes decoded as latin-1."""
        out: list[str] = []
        _collect_strings(self._outgoing, out)
        if include_files:
            for rec in self.requests:
                for f in rec.files:
                    out.append(f["data"].decode("latin-1"))
        return "\n".join(out)

    # -- REST: channels & messages -------------------------------------------------------------------

    def _postable_channel(self, channel_id: str, files: list[_File]) -> FakeChannel:
        ch = self.channels.get(int(channel_id)) if channel_id.isdigit() else None
        if ch is None or ch.deleted:
            raise _ApiError(404, 10003, "Unknown Channel")
        if ch.forbidden:
            raise _ApiError(403, 50001, "Missing Access")
        if ch.type == 1:
            if ch.recipients and ch.recipients[0].id in self._dm_closed:
                raise _ApiError(403, 50007, "Cannot send messages to this user")
            return ch
        if ch.type not in _TEXT_LIKE:
            raise _ApiError(400, 50008, "Cannot send messages in a non-text channel")
        perms = self.bot_permissions(ch)
        if not perms & VIEW_CHANNEL:
            raise _ApiError(403, 50001, "Missing Access")
        if not perms & SEND_MESSAGES or (files and not perms & ATTACH_FILES):
            raise _ApiError(403, 50013, "Missing Permissions")
        return ch

    def _readable_channel(self, channel_id: str) -> FakeChannel:
        ch = self.channels.get(int(channel_id)) if channel_id.isdigit() else None
        if ch is None or ch.deleted:
            raise _ApiError(404, 10003, "Unknown Channel")
        if ch.forbidden or (ch.guild_id and not self.bot_permissions(ch) & VIEW_CHANNEL):
            raise _ApiError(403, 50001, "Missing Access")
        return ch

    async def _r_get_channel(
        self, request: web.Request, payload: Any, files: list[_File], channel_id: str
    ) -> web.Response:
        return self._json(self._readable_channel(channel_id).payload())

    async def _r_history(self, request: web.Request, payload: Any, files: list[_File], channel_id: str) -> web.Response:
        ch = self._readable_channel(channel_id)
        if ch.guild_id and not self.bot_permissions(ch) & READ_MESSAGE_HISTORY:
            return self._json([])
        ids = list(self._channel_messages.get(ch.id, []))
        q = request.query
        if "before" in q:
            ids = [i for i in ids if i < int(q["before"])]
        if "after" in q:
            ids = [i for i in ids if i > int(q["after"])]
        limit = max(1, min(100, int(q.get("limit", 50))))
        if "after" in q:
            chosen = ids[:limit]
        else:
            chosen = ids[-limit:]
        return self._json([_wire(self._messages[i]) for i in reversed(chosen)])

    async def _r_create_message(
        self, request: web.Request, payload: Any, files: list[_File], channel_id: str
    ) -> web.Response:
        data = payload or {}
        ch = self._postable_channel(channel_id, files)
        _validate_message(data, files, creating=True, allow_ephemeral=False)
        self._check_files(files)
        nonce = data.get("nonce")
        if nonce is not None and data.get("enforce_nonce"):
            key = (ch.id, str(nonce))
            seen = self._nonces.get(key)
            if seen is not None and time.monotonic() - seen[1] < self.nonce_window and seen[0] in self._messages:
                self.nonce_dedup_hits += 1
                return self._json(_wire(self._messages[seen[0]]))
        msg_type = 0
        ref = data.get("message_reference")
        if ref:
            msg_type = 19
            ref_id = ref.get("message_id")
            unknown = ref_id is not None and (
                int(ref_id) not in self._messages or self._messages[int(ref_id)].get("_deleted")
            )
            if unknown and ref.get("fail_if_not_exists", True):
                raise _ApiError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {
                        "message_reference": {
                            "_errors": [{"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "message": "Unknown message"}]
                        }
                    },
                )
        if _is_empty_message({**data, "attachments": files or data.get("attachments")}):
            raise _ApiError(400, 50006, "Cannot send an empty message")
        msg = self._new_message(ch, data, files, msg_type=msg_type, flags=(data.get("flags") or 0) & _SENDABLE_FLAGS)
        if nonce is not None:
            self._nonces[(ch.id, str(nonce))] = (int(msg["id"]), time.monotonic())
        return self._json(_wire(msg))

    def _channel_message(self, channel_id: str, message_id: str) -> dict[str, Any]:
        ch = self._readable_channel(channel_id)
        msg = self._live_message(message_id)
        if msg["channel_id"] != str(ch.id) or msg["flags"] & FLAG_EPHEMERAL:
            raise _ApiError(404, 10008, "Unknown Message")
        return msg

    async def _r_get_message(
        self, request: web.Request, payload: Any, files: list[_File], channel_id: str, message_id: str
    ) -> web.Response:
        return self._json(_wire(self._channel_message(channel_id, message_id)))

    async def _r_edit_message(
        self, request: web.Request, payload: Any, files: list[_File], channel_id: str, message_id: str
    ) -> web.Response:
        msg = self._channel_message(channel_id, message_id)
        if msg["author"]["id"] != str(self.bot_user.id):
            raise _ApiError(403, 50005, "Cannot edit a message authored by another user")
        _validate_message(payload or {}, files, creating=False, allow_ephemeral=False)
        self._check_files(files)
        self._apply_edit(msg, payload or {}, files)
        return self._json(_wire(msg))

    async def _r_delete_message(
        self, request: web.Request, payload: Any, files: list[_File], channel_id: str, message_id: str
    ) -> web.Response:
        msg = self._channel_message(channel_id, message_id)
        ch = self.channels[int(channel_id)]
        if (
            msg["author"]["id"] != str(self.bot_user.id)
            and ch.guild_id
            and not self.bot_permissions(ch) & MANAGE_MESSAGES
        ):
            raise _ApiError(403, 50013, "Missing Permissions")
        self._delete(msg)
        return self._no_content()

    async def _r_typing(self, request: web.Request, payload: Any, files: list[_File], channel_id: str) -> web.Response:
        self._postable_channel(channel_id, [])
        return self._no_content()

    async def _r_reaction(
        self, request: web.Request, payload: Any, files: list[_File], channel_id: str, message_id: str, emoji: str
    ) -> web.Response:
        self._channel_message(channel_id, message_id)
        return self._no_content()

    # -- REST: guilds --------------------------------------------------------------------------------

    def _rest_guild(self, guild_id: str) -> FakeGuild:
        g = self.guilds.get(int(guild_id)) if guild_id.isdigit() else None
        if g is None or g.removed:
            raise _ApiError(404, 10004, "Unknown Guild")
        return g

    async def _r_get_guild(self, request: web.Request, payload: Any, files: list[_File], guild_id: str) -> web.Response:
        g = self._rest_guild(guild_id)
        data = self._guild_rest_payload(g)
        if request.query.get("with_counts") in ("true", "1", "True"):
            data.update(approximate_member_count=len(g.members), approximate_presence_count=0)
        return self._json(data)

    async def _r_guild_channels(
        self, request: web.Request, payload: Any, files: list[_File], guild_id: str
    ) -> web.Response:
        g = self._rest_guild(guild_id)
        return self._json([c.payload() for c in g.channels.values() if not c.deleted])

    async def _r_guild_roles(
        self, request: web.Request, payload: Any, files: list[_File], guild_id: str
    ) -> web.Response:
        return self._json([r.payload() for r in self._rest_guild(guild_id).roles.values()])

    async def _r_guild_members(
        self, request: web.Request, payload: Any, files: list[_File], guild_id: str
    ) -> web.Response:
        g = self._rest_guild(guild_id)
        after = int(request.query.get("after", 0))
        limit = max(1, min(1000, int(request.query.get("limit", 1))))
        members = sorted((m for m in g.members.values() if m.id > after), key=lambda m: m.id)[:limit]
        return self._json([m.payload() for m in members])

    async def _r_guild_member(
        self, request: web.Request, payload: Any, files: list[_File], guild_id: str, user_id: str
    ) -> web.Response:
        g = self._rest_guild(guild_id)
        m = g.members.get(int(user_id)) if user_id.isdigit() else None
        if m is None:
            raise _ApiError(404, 10007, "Unknown Member")
        return self._json(m.payload())

    # -- interactions: dispatch ------------------------------------------------------------------------

    def _interaction_payload(
        self,
        itype: int,
        *,
        user: FakeUser,
        channel: FakeChannel,
        data: dict[str, Any] | None,
        locale: str | None,
        permissions: int | None,
        app_permissions: int | None,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        iid = self._snowflake()
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48),
            "version": 1,
            "channel_id": str(channel.id),
            "locale": locale or user.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.attachment_size_limit,
            "app_permissions": str(app_permissions if app_permissions is not None else self.bot_permissions(channel)),
        }
        if data is not None:
            payload["data"] = data
        if guild is not None:
            member = guild.member(user)
            perms = permissions if permissions is not None else self.member_permissions(guild, member, channel)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": guild.preferred_locale, "features": list(guild.features)},
                guild_locale=guild.preferred_locale,
                member={**member.payload(), "permissions": str(perms)},
                channel={**channel.payload(), "permissions": str(perms)},
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                user=user.payload(),
                channel={
                    **channel.payload(),
                    "permissions": str(permissions if permissions is not None else DM_PERMISSIONS),
                },
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if message is not None:
            payload["message"] = _wire(message)
        return payload

    async def _send_interaction(
        self, payload: dict[str, Any], command: dict[str, Any] | None = None, parent: InteractionRecord | None = None
    ) -> InteractionRecord:
        rec = InteractionRecord(self, payload, command=command)
        rec.parent = parent
        if parent is not None and rec.source_message_id is None:
            rec.source_message_id = parent.source_message_id
        sessions = self._sessions_for(rec.guild_id)
        rec.sessions = [s.id for s in sessions]
        self.interactions.append(rec)
        self._interactions[rec.id] = rec
        self._by_token[rec.token] = rec
        rec.dispatched_at = asyncio.get_running_loop().time()
        for session in sessions:
            self._send(session, "INTERACTION_CREATE", copy.deepcopy(payload))
        for session in sessions:
            assert session.conn is not None
            await session.conn.flush()
        self._bump()
        return rec

    def _resolve_context(self, by: Any, in_channel: Any, dm: bool) -> tuple[FakeUser, FakeChannel, FakeGuild | None]:
        if dm:
            if by is None:
                raise FakeDiscordError("a DM interaction needs by=<user>")
            user = self.users.get(_id_of(by))
            if user is None:
                raise FakeDiscordError(f"unknown user {by!r}")
            return user, self.dm_channel(user), None
        channel = self._channel(in_channel) if in_channel is not None else self._default_channel()
        if channel.type == 1:
            return self._resolve_context(by if by is not None else channel.recipients[0], None, True)
        if channel.deleted:
            raise FakeDiscordError(f"channel {channel.id} was deleted: users cannot interact there")
        guild = self._guild(channel.guild_id)
        member = guild.member(by) if by is not None else guild.owner
        return member.user, channel, guild

    def _find_command(self, name: str, guild: FakeGuild | None) -> tuple[dict[str, Any], int | None]:
        scopes: list[int | None] = ([guild.id] if guild else []) + [None]
        for scope in scopes:
            for cmd in self._commands.get(scope, []):
                if cmd["type"] != 1:
                    continue
                if cmd["name"] == name or name in (cmd.get("name_localizations") or {}).values():
                    return cmd, scope
        known = sorted({c["name"] for s in scopes for c in self._commands.get(s, [])})
        raise FakeDiscordError(f"no synced slash command {name!r} here (synced: {known})")

    @staticmethod
    def _match_option(options: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
        for opt in options:
            if opt["name"] == name or name in (opt.get("name_localizations") or {}).values():
                return opt
        return None

    def _command_path(
        self, command: str, guild: FakeGuild | None
    ) -> tuple[dict[str, Any], int | None, list[dict[str, Any]], dict[str, Any]]:
        """(command, scope, [group/subcommand option defs], leaf definition holding the value options)."""
        parts = command.split()
        if not parts:
            raise FakeDiscordError("empty command")
        cmd, scope = self._find_command(parts[0].lstrip("/"), guild)
        chain: list[dict[str, Any]] = []
        leaf: dict[str, Any] = cmd
        for part in parts[1:]:
            sub = self._match_option([o for o in leaf.get("options") or [] if o["type"] in (1, 2)], part)
            if sub is None:
                raise FakeDiscordError(
                    f"/{cmd['name']} has no sub-command or group {part!r} "
                    f"(has: {[o['name'] for o in leaf.get('options') or [] if o['type'] in (1, 2)]})"
                )
            chain.append(sub)
            leaf = sub
        if any(o["type"] in (1, 2) for o in leaf.get("options") or []):
            raise FakeDiscordError(
                f"/{command} is a group: Discord only invokes sub-commands ({[o['name'] for o in leaf['options']]})"
            )
        return cmd, scope, chain, leaf

    def _check_invocable(
        self, cmd: dict[str, Any], guild: FakeGuild | None, user: FakeUser, enforce_permissions: bool
    ) -> None:
        if guild is None:
            contexts = cmd.get("contexts")
            if (
                cmd.get("guild_id")
                or (contexts is not None and 1 not in contexts)
                or (contexts is None and cmd.get("dm_permission") is False)
            ):
                raise FakeDiscordError(f"/{cmd['name']} is not available in DMs")
            return
        contexts = cmd.get("contexts")
        if contexts is not None and 0 not in contexts:
            raise FakeDiscordError(f"/{cmd['name']} is not available in guilds")
        required = cmd.get("default_member_permissions")
        if enforce_permissions and required is not None:
            perms = self.member_permissions(guild, guild.member(user))
            if not perms & ADMINISTRATOR and (int(required) == 0 or perms & int(required) != int(required)):
                raise FakeDiscordError(
                    f"/{cmd['name']} needs default_member_permissions={required}: Discord hides it from "
                    f"{user.username} (pass enforce_permissions=False to simulate an override)"
                )

    def _option_value(
        self,
        opt: dict[str, Any],
        value: Any,
        resolved: dict[str, dict[str, Any]],
        guild: FakeGuild | None,
        invoker: FakeUser,
        channel: FakeChannel,
    ) -> Any:
        otype, name = opt["type"], opt["name"]
        choices = opt.get("choices") or []

        def bad(why: str) -> FakeDiscordError:
            return FakeDiscordError(f"option {name!r} ({_OPTION_TYPE_NAMES[otype]}): {why}")

        if otype == 3:
            if not isinstance(value, str):
                raise bad(f"expects a string, got {value!r}")
            if opt.get("min_length") is not None and len(value) < opt["min_length"]:
                raise bad(f"shorter than min_length={opt['min_length']}")
            if opt.get("max_length") is not None and len(value) > opt["max_length"]:
                raise bad(f"longer than max_length={opt['max_length']}")
            if len(value) > 6000:
                raise bad("longer than 6000")
        elif otype in (4, 10):
            if not (_is_int(value) if otype == 4 else _is_number(value)):
                raise bad(f"expects {'an integer' if otype == 4 else 'a number'}, got {value!r}")
            if opt.get("min_value") is not None and value < opt["min_value"]:
                raise bad(f"below min_value={opt['min_value']}")
            if opt.get("max_value") is not None and value > opt["max_value"]:
                raise bad(f"above max_value={opt['max_value']}")
        elif otype == 5:
            if not isinstance(value, bool):
                raise bad(f"expects a bool, got {value!r}")
        elif otype in (6, 9) and (
            isinstance(value, (FakeUser, FakeMember)) or (otype == 6 or _id_of(value) in self.users)
        ):
            uid = _id_of(value)
            user = self.users.get(uid)
            if user is None:
                raise bad(f"unknown user {uid}")
            resolved.setdefault("users", {})[str(uid)] = user.payload()
            if guild is not None and uid in guild.members:
                member = guild.members[uid]
                resolved.setdefault("members", {})[str(uid)] = {
                    **member.payload(with_user=False),
                    "permissions": str(self.member_permissions(guild, member, channel)),
                }
            return str(uid)
        elif otype in (8, 9):
            rid = _id_of(value)
            if guild is None or rid not in guild.roles:
                raise bad(f"unknown role {rid} in this guild")
            resolved.setdefault("roles", {})[str(rid)] = guild.roles[rid].payload()
            return str(rid)
        elif otype == 7:
            ch = self._channel(value)
            if guild is None or ch.guild_id != guild.id or ch.deleted:
                raise bad(f"channel {ch.id} is not a channel of this guild")
            if opt.get("channel_types") and ch.type not in opt["channel_types"]:
                raise bad(f"channel type {ch.type} not in channel_types={opt['channel_types']}")
            perms = self.member_permissions(guild, guild.member(invoker), ch)
            resolved.setdefault("channels", {})[str(ch.id)] = {
                "id": str(ch.id),
                "name": ch.name,
                "type": ch.type,
                "permissions": str(perms),
                "parent_id": str(ch.parent_id) if ch.parent_id else None,
                "guild_id": str(ch.guild_id),
                "position": ch.position,
                "topic": ch.topic,
                "nsfw": ch.nsfw,
                "rate_limit_per_user": 0,
                "flags": 0,
                "last_message_id": str(ch.last_message_id) if ch.last_message_id else None,
            }
            return str(ch.id)
        elif otype == 11:
            aid = _id_of(value)
            att = self._user_attachments.get(aid)
            if att is None:
                raise bad(f"unknown attachment {aid}: use fake.add_attachment()")
            resolved.setdefault("attachments", {})[str(aid)] = copy.deepcopy(att)
            return str(aid)
        else:
            raise bad(f"unsupported value {value!r}")
        if choices and value not in [c["value"] for c in choices]:
            raise bad(f"{value!r} is not one of the choices {[c['value'] for c in choices]}")
        return value

    def _build_command_data(
        self,
        command: str,
        guild: FakeGuild | None,
        user: FakeUser,
        channel: FakeChannel,
        values: dict[str, Any],
        *,
        focused: str | None = None,
        focused_value: str = "",
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        cmd, scope, chain, leaf = self._command_path(command, guild)
        defs = leaf.get("options") or []
        resolved: dict[str, dict[str, Any]] = {}
        given: dict[str, Any] = {}
        for name, value in values.items():
            opt = self._match_option(defs, name)
            if opt is None:
                raise FakeDiscordError(f"/{command} has no option {name!r} (has: {[o['name'] for o in defs]})")
            given[opt["name"]] = (opt, value)
        focused_def = None
        if focused is not None:
            focused_def = self._match_option(defs, focused)
            if focused_def is None:
                raise FakeDiscordError(f"/{command} has no option {focused!r} (has: {[o['name'] for o in defs]})")
            if not focused_def.get("autocomplete"):
                raise FakeDiscordError(f"option {focused!r} of /{command} has no autocomplete: Discord sends none")
        options: list[dict[str, Any]] = []
        for opt in defs:
            if focused_def is not None and focused_def is opt:
                options.append({"type": opt["type"], "name": opt["name"], "value": str(focused_value), "focused": True})
            elif opt["name"] in given:
                value = given[opt["name"]][1]
                if focused is not None and opt["type"] in (3, 4, 10):
                    options.append({"type": opt["type"], "name": opt["name"], "value": value})
                else:
                    sent = self._option_value(opt, value, resolved, guild, user, channel)
                    options.append({"type": opt["type"], "name": opt["name"], "value": sent})
            elif opt.get("required") and focused is None:
                raise FakeDiscordError(f"/{command}: required option {opt['name']!r} missing")
        for sub in reversed(chain):
            options = [{"type": sub["type"], "name": sub["name"], "options": options}]
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if options:
            data["options"] = options
        if resolved and focused is None:
            data["resolved"] = resolved
        if scope is not None:
            data["guild_id"] = str(scope)
        return data, cmd

    async def invoke(
        self,
        command: str,
        /,
        options: dict[str, Any] | None = None,
        *,
        by: Any = None,
        in_channel: Any = None,
        dm: bool = False,
        locale: str | None = None,
        permissions: int | None = None,
        app_permissions: int | None = None,
        enforce_permissions: bool = True,
        **option_values: Any,
    ) -> InteractionRecord:
        """A user runs a slash command: ``invoke("search", query="x")``, ``invoke("setup key")``.

        ``by``: user/member (default: the guild owner); ``in_channel`` (default: the first
        guild's system channel); ``dm=True`` for the bot's DM. Options go as keywords or in
        ``options`` (for names that clash with these parameters); user/role/channel options
        take fake objects or ids, attachment options take ``fake.add_attachment(...)``.
        Raises FakeDiscordError for what Discord's client would not send."""
        values = {**(options or {}), **option_values}
        user, channel, guild = self._resolve_context(by, in_channel, dm)
        data, cmd = self._build_command_data(command, guild, user, channel, values)
        self._check_invocable(cmd, guild, user, enforce_permissions)
        payload = self._interaction_payload(
            2,
            user=user,
            channel=channel,
            data=data,
            locale=locale,
            permissions=permissions,
            app_permissions=app_permissions,
        )
        return await self._send_interaction(payload, command=cmd)

    async def autocomplete(
        self,
        command: str,
        focused_option: str,
        value: str = "",
        /,
        options: dict[str, Any] | None = None,
        *,
        by: Any = None,
        in_channel: Any = None,
        dm: bool = False,
        locale: str | None = None,
        timeout: float = 5.0,
        **other_options: Any,
    ) -> list[dict[str, Any]]:
        """The user types ``value`` in ``focused_option``: returns the bot's choices (type 8)."""
        values = {**(options or {}), **other_options}
        user, channel, guild = self._resolve_context(by, in_channel, dm)
        data, cmd = self._build_command_data(
            command, guild, user, channel, values, focused=focused_option, focused_value=value
        )
        self._check_invocable(cmd, guild, user, enforce_permissions=False)
        payload = self._interaction_payload(
            4, user=user, channel=channel, data=data, locale=locale, permissions=None, app_permissions=None
        )
        rec = await self._send_interaction(payload, command=cmd)
        response = await rec.wait_response(timeout)
        if response["type"] != 8:
            raise FakeDiscordError(f"autocomplete answered with callback type {response['type']}")
        return rec.choices or []

    def _component_message(self, message: Any) -> dict[str, Any]:
        if isinstance(message, InteractionRecord):
            if message.original is None:
                raise FakeDiscordError(f"{message!r} has no response message")
            msg = message.original
        else:
            found = self._messages.get(_id_of(message))
            if found is None:
                raise FakeDiscordError(f"unknown message {message!r}")
            msg = found
        if msg.get("_deleted"):
            raise FakeDiscordError(f"message {msg['id']} was deleted")
        return msg

    def _find_component(self, msg: dict[str, Any], custom_id: str) -> dict[str, Any]:
        for comp in _walk_components(msg.get("components")):
            if comp.get("custom_id") == custom_id:
                return comp
        ids = [c.get("custom_id") for c in _walk_components(msg.get("components")) if c.get("custom_id")]
        raise FakeDiscordError(f"message {msg['id']} has no component {custom_id!r} (has: {ids})")

    def _component_context(self, msg: dict[str, Any], by: Any) -> tuple[FakeUser, FakeChannel]:
        meta_user = (msg.get("interaction_metadata") or {}).get("user", {}).get("id")
        if by is None:
            if meta_user is None:
                raise FakeDiscordError("who clicks? pass by=<member>")
            by = int(meta_user)
        channel = self.channels[int(msg["channel_id"])]
        if msg["flags"] & FLAG_EPHEMERAL and meta_user is not None and _id_of(by) != int(meta_user):
            raise FakeDiscordError("an ephemeral message is only visible to the user who ran the command")
        user, channel, _ = self._resolve_context(by, channel, False)
        return user, channel

    async def click(
        self, message: Any, custom_id: str, *, by: Any = None, locale: str | None = None
    ) -> InteractionRecord:
        """A user presses the button ``custom_id`` of ``message`` (a message dict, its id, or an
        InteractionRecord for its response). ``by`` defaults to the user who ran the command."""
        msg = self._component_message(message)
        comp = self._find_component(msg, custom_id)
        if comp.get("type") != 2:
            raise FakeDiscordError(f"component {custom_id!r} is not a button (type {comp.get('type')})")
        if comp.get("disabled"):
            raise FakeDiscordError(f"button {custom_id!r} is disabled")
        user, channel = self._component_context(msg, by)
        payload = self._interaction_payload(
            3,
            user=user,
            channel=channel,
            locale=locale,
            permissions=None,
            app_permissions=None,
            message=msg,
            data={"custom_id": custom_id, "component_type": 2},
        )
        return await self._send_interaction(payload)

    async def select(
        self, message: Any, custom_id: str, values: list[Any], *, by: Any = None, locale: str | None = None
    ) -> InteractionRecord:
        """A user picks ``values`` in the select menu ``custom_id`` (string, user, role,
        mentionable or channel select)."""
        msg = self._component_message(message)
        comp = self._find_component(msg, custom_id)
        ctype = comp.get("type")
        if ctype not in (3, 5, 6, 7, 8):
            raise FakeDiscordError(f"component {custom_id!r} is not a select menu (type {ctype})")
        if comp.get("disabled"):
            raise FakeDiscordError(f"select {custom_id!r} is disabled")
        lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
        if not lo <= len(values) <= hi:
            raise FakeDiscordError(f"select {custom_id!r} takes {lo}..{hi} values, got {len(values)}")
        user, channel = self._component_context(msg, by)
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if ctype == 3:
            allowed = [o["value"] for o in comp.get("options", [])]
            for v in values:
                if v not in allowed:
                    raise FakeDiscordError(f"{v!r} is not an option of select {custom_id!r} ({allowed})")
            data["values"] = list(values)
        else:
            resolved: dict[str, dict[str, Any]] = {}
            kind = {5: 6, 6: 8, 7: 9, 8: 7}[ctype]
            fake_opt = {"type": kind, "name": custom_id, "channel_types": comp.get("channel_types")}
            data["values"] = [self._option_value(fake_opt, v, resolved, guild, user, channel) for v in values]
            data["resolved"] = resolved
        payload = self._interaction_payload(
            3, user=user, channel=channel, locale=locale, permissions=None, app_permissions=None, message=msg, data=data
        )
        return await self._send_interaction(payload)

    async def submit_modal(
        self, modal: Any, values: dict[str, Any], *, by: Any = None, locale: str | None = None
    ) -> InteractionRecord:
        """The user fills and submits a modal the bot opened. ``modal``: the InteractionRecord
        that answered with it (or the modal payload, ``rec.modal``); ``values``: custom_id ->
        text (or list of values for a select inside a Label)."""
        parent: InteractionRecord | None
        if isinstance(modal, InteractionRecord):
            parent = modal
        else:
            parent = next((r for r in reversed(self.interactions) if r.modal is modal), None) or next(
                (
                    r
                    for r in reversed(self.interactions)
                    if r.modal and r.modal.get("custom_id") == modal.get("custom_id")
                ),
                None,
            )
        if parent is None or parent.modal is None:
            raise FakeDiscordError(f"no interaction answered with this modal: {modal!r}")
        spec = parent.modal
        unknown = set(values)
        components = []
        for top in spec.get("components", []):
            if top.get("type") == 1:
                inner = [self._submitted(c, values, unknown) for c in top.get("components", [])]
                components.append({"type": 1, "id": top.get("id"), "components": [c for c in inner if c]})
            elif top.get("type") == 18:
                inner_c = self._submitted(top["component"], values, unknown)
                if inner_c:
                    components.append({"type": 18, "id": top.get("id"), "component": inner_c})
            elif top.get("type") == 10:
                components.append({"type": 10, "id": top.get("id")})
        if unknown:
            raise FakeDiscordError(f"the modal has no inputs {sorted(unknown)}")
        user_arg = by if by is not None else parent.user_id
        user, channel, _ = self._resolve_context(user_arg, parent.channel_id, parent.guild_id is None)
        message = self._messages.get(parent.source_message_id) if parent.source_message_id else None
        payload = self._interaction_payload(
            5,
            user=user,
            channel=channel,
            locale=locale,
            permissions=None,
            app_permissions=None,
            message=message,
            data={"custom_id": spec["custom_id"], "components": components},
        )
        return await self._send_interaction(payload, parent=parent)

    @staticmethod
    def _submitted(comp: dict[str, Any], values: dict[str, Any], unknown: set[str]) -> dict[str, Any] | None:
        cid = comp.get("custom_id")
        if cid is None:
            return None
        unknown.discard(cid)
        if comp.get("type") == 4:
            value = values.get(cid, comp.get("value") or "")
            if not isinstance(value, str):
                raise FakeDiscordError(f"text input {cid!r} takes a string")
            if comp.get("required", True) and not value:
                raise FakeDiscordError(f"text input {cid!r} is required: Discord would not submit")
            if value and comp.get("min_length") is not None and len(value) < comp["min_length"]:
                raise FakeDiscordError(f"text input {cid!r}: shorter than min_length={comp['min_length']}")
            if comp.get("max_length") is not None and len(value) > comp["max_length"]:
                raise FakeDiscordError(f"text input {cid!r}: longer than max_length={comp['max_length']}")
            return {"type": 4, "id": comp.get("id"), "custom_id": cid, "value": value}
        chosen = values.get(cid, [])
        chosen = [chosen] if isinstance(chosen, str) else list(chosen)
        return {"type": comp.get("type"), "id": comp.get("id"), "custom_id": cid, "values": chosen}

    # -- interactions: responses ------------------------------------------------------------------------

    def _validate_modal(self, data: Any) -> None:
        errors = _Errors()
        if not isinstance(data, dict):
            errors.add(("data",), "BASE_TYPE_REQUIRED", "This field is required")
            errors.raise_if_any()
        _check_length(errors, ("data", "custom_id"), data.get("custom_id"), 1, 100)
        _check_length(errors, ("data", "title"), data.get("title"), 1, 45)
        comps = data.get("components") or []
        if not 1 <= len(comps) <= 5:
            errors.add(("data", "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        ids: set[str] = set()
        for i, top in enumerate(comps):
            p = ("data", "components", i)
            if top.get("type") == 1:
                inner = top.get("components") or []
                if len(inner) != 1 or inner[0].get("type") != 4:
                    errors.add(p, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "A modal action row holds exactly one text input")
            elif top.get("type") == 18:
                inner = [top.get("component") or {}]
                _check_length(errors, p + ("label",), top.get("label"), 1, 45)
            elif top.get("type") == 10:
                continue
            else:
                errors.add(
                    p + ("type",), "UNION_TYPE_CHOICES", f"Component type {top.get('type')} is not valid in a modal"
                )
                continue
            for comp in inner:
                cid = comp.get("custom_id")
                if not cid or len(cid) > 100 or cid in ids:
                    errors.add(p, "COMPONENT_CUSTOM_ID_INVALID", f"custom_id {cid!r} missing, too long or duplicated")
                ids.add(cid)
                if comp.get("type") == 4:
                    if top.get("type") == 1:
                        _check_length(errors, p + ("components", 0, "label"), comp.get("label"), 1, 45)
                    if comp.get("style") not in (1, 2):
                        errors.add(p, "BASE_TYPE_CHOICES", "text input style must be 1 or 2")
                    lo, hi = comp.get("min_length"), comp.get("max_length")
                    if (lo is not None and not 0 <= lo <= 4000) or (hi is not None and not 1 <= hi <= 4000):
                        errors.add(p, "BASE_TYPE_BAD_LENGTH", "min_length/max_length must be within 0..4000")
                    if comp.get("value") is not None and len(comp["value"]) > 4000:
                        errors.add(p, "BASE_TYPE_MAX_LENGTH", "value must be 4000 or fewer in length.")
                    if comp.get("placeholder") is not None and len(comp["placeholder"]) > 100:
                        errors.add(p, "BASE_TYPE_MAX_LENGTH", "placeholder must be 100 or fewer in length.")
        errors.raise_if_any()

    def _validate_choices(self, rec: InteractionRecord, data: Any) -> None:
        errors = _Errors()
        choices = (data or {}).get("choices")
        if not isinstance(choices, list):
            errors.add(("data", "choices"), "BASE_TYPE_REQUIRED", "This field is required")
            errors.raise_if_any()
            return
        if len(choices) > 25:
            errors.add(("data", "choices"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        focused_type = 3
        opts = (rec.payload.get("data") or {}).get("options") or []
        while opts:
            f = next((o for o in opts if o.get("focused")), None)
            if f is not None:
                focused_type = f["type"]
                break
            opts = next((o.get("options") or [] for o in opts if o["type"] in (1, 2)), [])
        for j, choice in enumerate(choices):
            p = ("data", "choices", j)
            _check_length(errors, p + ("name",), choice.get("name"), 1, 100)
            value = choice.get("value")
            if focused_type == 3:
                _check_length(errors, p + ("value",), value, 1, 100)
            elif focused_type == 4 and not _is_int(value):
                errors.add(p + ("value",), "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
            elif focused_type == 10 and not _is_number(value):
                errors.add(p + ("value",), "NUMBER_TYPE_COERCE", f'Value "{value}" is not a valid number.')
        errors.raise_if_any()

    async def _r_callback(
        self, request: web.Request, payload: Any, files: list[_File], interaction_id: str, token: str
    ) -> web.Response:
        rec = self._interactions.get(int(interaction_id)) if interaction_id.isdigit() else None
        if rec is None or rec.token != token:
            raise _ApiError(404, 10062, "Unknown interaction")
        try:
            response = await self._callback(request, payload, files, rec)
        except _ApiError as exc:
            self.callback_log.append(CallbackRecord(rec.id, time.monotonic(), exc.status, exc.code))
            raise
        self.callback_log.append(CallbackRecord(rec.id, time.monotonic(), response.status))
        return response

    async def _callback(
        self, request: web.Request, payload: Any, files: list[_File], rec: InteractionRecord
    ) -> web.Response:
        if rec.callbacks:
            raise _ApiError(400, 40060, "Interaction has already been acknowledged.")
        if asyncio.get_running_loop().time() - rec.dispatched_at > self.interaction_timeout:
            raise _ApiError(404, 10062, "Unknown interaction")
        body = payload or {}
        ctype = body.get("type")
        data = body.get("data")
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[rec.type]
        if rec.type == 5 and rec.source_message_id is None:
            allowed = {4, 5}
        if ctype == 1 or ctype not in allowed:
            raise _ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "type": {
                        "_errors": [
                            {
                                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                                "message": f"Callback type {ctype} is not valid for an interaction of type {rec.type}",
                            }
                        ]
                    }
                },
            )
        message: dict[str, Any] | None = None
        channel = self.channels[rec.channel_id]
        if ctype == 4:
            data = data or {}
            _validate_message(data, files, creating=True, allow_ephemeral=True)
            self._check_files(files)
            if _is_empty_message({**data, "attachments": files or data.get("attachments")}):
                raise _ApiError(400, 50006, "Cannot send an empty message")
            message = self._new_message(
                channel,
                data,
                files,
                msg_type=20 if rec.type == 2 else 19,
                flags=(data.get("flags") or 0) & _SENDABLE_FLAGS,
                rec=rec,
            )
            rec.original_id = int(message["id"])
        elif ctype == 5:
            flags = ((data or {}).get("flags") or 0) & FLAG_EPHEMERAL
            message = self._new_message(
                channel, {}, [], msg_type=20 if rec.type == 2 else 19, flags=flags | FLAG_LOADING, rec=rec
            )
            rec.original_id = int(message["id"])
        elif ctype in (6, 7):
            source = self._messages.get(rec.source_message_id or 0)
            if source is None or source.get("_deleted"):
                raise _ApiError(404, 10008, "Unknown Message")
            if ctype == 7:
                _validate_message(data or {}, files, creating=False, allow_ephemeral=False)
                self._check_files(files)
                self._apply_edit(source, data or {}, files)
                message = source
            rec.original_id = int(source["id"])
        elif ctype == 8:
            self._validate_choices(rec, data)
        elif ctype == 9:
            self._validate_modal(data)
        rec.callbacks.append(
            {
                "type": ctype,
                "data": data,
                "files": [{"filename": f.filename, "data": f.data, "content_type": f.content_type} for f in files],
            }
        )
        self._bump()
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return self._no_content()
        original = self._messages.get(rec.original_id) if rec.original_id else None
        interaction: dict[str, Any] = {"id": str(rec.id), "type": rec.type}
        if original is not None:
            interaction.update(
                response_message_id=original["id"],
                response_message_loading=bool(original["flags"] & FLAG_LOADING),
                response_message_ephemeral=bool(original["flags"] & FLAG_EPHEMERAL),
            )
        resource: dict[str, Any] = {"type": ctype}
        if message is not None and ctype in (4, 7):
            resource["message"] = _wire(message)
        return self._json({"interaction": interaction, "resource": resource})

    def _webhook_rec(self, app_id: str, token: str) -> InteractionRecord:
        rec = self._by_token.get(token)
        if app_id != str(self.application_id) or rec is None:
            raise _ApiError(404, 10015, "Unknown Webhook")
        if not rec.callbacks:
            raise _ApiError(404, 10015, "Unknown Webhook")  # Discord: not acknowledged yet
        if rec.callback_type == 8:
            raise _ApiError(404, 10015, "Unknown Webhook")  # autocomplete has no followups
        return rec

    def _webhook_message(self, rec: InteractionRecord, message_id: str) -> dict[str, Any]:
        if message_id == "@original":
            if rec.original_id is None:
                raise _ApiError(404, 10008, "Unknown Message")
            msg = self._live_message(rec.original_id)
        else:
            msg = self._live_message(message_id)
            if int(msg["id"]) not in {rec.original_id, *rec.followup_ids}:
                raise _ApiError(404, 10008, "Unknown Message")
        return msg

    async def _r_followup(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, token: str
    ) -> web.Response:
        rec = self._webhook_rec(app_id, token)
        data = payload or {}
        _validate_message(data, files, creating=True, allow_ephemeral=True)
        self._check_files(files)
        if _is_empty_message({**data, "attachments": files or data.get("attachments")}):
            raise _ApiError(400, 50006, "Cannot send an empty message")
        original = rec.original
        if rec.callback_type == 5 and original is not None and original["flags"] & FLAG_LOADING:
            # The first followup after a "thinking" deferral replaces the loading message.
            self._apply_edit(original, {**data, "flags": None}, files, resolve_loading=True)
            msg = original
        else:
            msg = self._new_message(
                self.channels[rec.channel_id],
                data,
                files,
                msg_type=20 if rec.type == 2 else 0,
                flags=(data.get("flags") or 0) & _SENDABLE_FLAGS,
                rec=rec,
            )
        rec.followup_ids.append(int(msg["id"]))
        self._bump()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return self._json(_wire(msg))
        return self._no_content()

    async def _r_webhook_get(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, token: str, message_id: str
    ) -> web.Response:
        rec = self._webhook_rec(app_id, token)
        return self._json(_wire(self._webhook_message(rec, message_id)))

    async def _r_webhook_edit(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, token: str, message_id: str
    ) -> web.Response:
        rec = self._webhook_rec(app_id, token)
        msg = self._webhook_message(rec, message_id)
        _validate_message(payload or {}, files, creating=False, allow_ephemeral=True)
        self._check_files(files)
        self._apply_edit(msg, payload or {}, files)
        if int(msg["id"]) == rec.original_id:
            rec._edits_after_ack += 1
        self._bump()
        return self._json(_wire(msg))

    async def _r_webhook_delete(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, token: str, message_id: str
    ) -> web.Response:
        rec = self._webhook_rec(app_id, token)
        self._delete(self._webhook_message(rec, message_id))
        return self._no_content()
