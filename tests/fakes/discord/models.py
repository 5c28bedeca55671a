"""The fake's world: users, roles, channels, members and guilds, with their Discord payloads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .constants import CHANNEL_PRIVATE_THREAD, CHANNEL_PUBLIC_THREAD, FORUM_TYPES, THREAD_TYPES
from .errors import FakeDiscordError


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
    #: Channel flags (a forum's REQUIRE_TAG, a pinned post's PINNED).
    flags: int = 0
    #: A forum's tags: ``{"id", "name", "moderated", "emoji_id", "emoji_name"}``, as Discord sends them.
    available_tags: list[dict[str, Any]] = field(default_factory=list)
    #: Threads only: who opened it, its state, the tags of a forum post, who joined a private one.
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    invitable: bool = True
    applied_tags: list[int] = field(default_factory=list)
    thread_members: set[int] = field(default_factory=set)
    message_count: int = 0
    created_at: str = field(default_factory=_now_iso)
    archived_at: str | None = None

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def is_forum(self) -> bool:
        return self.type in FORUM_TYPES

    def tag(self, name: str) -> dict[str, Any]:
        """A forum's tag by name."""
        for tag in self.available_tags:
            if tag["name"] == name:
                return tag
        raise FakeDiscordError(f"channel {self.name!r} has no tag named {name!r}")

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
        if self.is_thread:
            return self._thread_payload(last)
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [dict(o) for o in self.overwrites],
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "nsfw": self.nsfw,
            "flags": self.flags,
        }
        if self.type != 4:
            data.update(topic=self.topic, last_message_id=last, rate_limit_per_user=0)
        if self.type in (2, 13):
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        if self.is_forum:
            data.update(
                available_tags=[dict(tag) for tag in self.available_tags],
                default_auto_archive_duration=1440,
                default_thread_rate_limit_per_user=0,
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
                default_tag_setting=None,
            )
        return data

    def _thread_payload(self, last: str | None) -> dict[str, Any]:
        """A thread as Discord sends it: no position nor overwrites (a thread takes its parent's),
        ``thread_metadata`` with its archived/locked state."""
        metadata: dict[str, Any] = {
            "archived": self.archived,
            "archive_timestamp": self.archived_at or self.created_at,
            "auto_archive_duration": self.auto_archive_duration,
            "locked": self.locked,
            "create_timestamp": self.created_at,
        }
        if self.type == CHANNEL_PRIVATE_THREAD:
            metadata["invitable"] = self.invitable
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "parent_id": str(self.parent_id),
            "owner_id": str(self.owner_id),
            "name": self.name,
            "last_message_id": last,
            "rate_limit_per_user": 0,
            "flags": self.flags,
            "thread_metadata": metadata,
            "message_count": self.message_count,
            "member_count": min(len(self.thread_members), 50),
            "total_message_sent": self.message_count,
        }
        if self.applied_tags or self.type == CHANNEL_PUBLIC_THREAD:
            data["applied_tags"] = [str(tag) for tag in self.applied_tags]
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
