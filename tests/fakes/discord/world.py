"""Building the fake's world from a test (guilds, channels, roles, members, DMs, attachments) and
computing permissions the way Discord does."""

from __future__ import annotations

import copy
import hashlib
import hmac
import mimetypes
import re
import time
from collections.abc import Iterable
from typing import Any

from .constants import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    CHANNEL_ANNOUNCEMENT,
    CHANNEL_ANNOUNCEMENT_THREAD,
    CHANNEL_FLAG_REQUIRE_TAG,
    CHANNEL_FORUM,
    CHANNEL_MEDIA,
    CHANNEL_PRIVATE_THREAD,
    CHANNEL_PUBLIC_THREAD,
    CHANNEL_TEXT,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DM_PERMISSIONS,
    FORUM_TYPES,
    THREAD_TYPES,
    VIEW_CHANNEL,
)
from .errors import FakeDiscordError
from .models import FakeChannel, FakeGuild, FakeMember, FakeRole, FakeUser, _id_of, _now_iso
from .records import _File


class WorldMixin:
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
        nsfw: bool = False,
    ) -> FakeChannel:
        """A guild channel (``type`` 0 text, 5 announcement, 15 forum…; threads: ``add_thread``)."""
        if type in THREAD_TYPES:
            raise FakeDiscordError("a thread has a parent channel: use fake.add_thread(parent, ...)")
        g = self._guild(guild)
        ch = self._new_channel(g, name, type, parent_id=_id_of(parent) if parent else None, topic=topic, nsfw=nsfw)
        ch.overwrites = list(overwrites or [])
        self._dispatch_guild(g.id, "CHANNEL_CREATE", ch.payload())
        return ch

    def add_announcement(self, guild: Any, name: str = "announcements", **kwargs: Any) -> FakeChannel:
        """An announcement (news) channel, type 5: posted to like a text channel."""
        return self.add_channel(guild, name, type=CHANNEL_ANNOUNCEMENT, **kwargs)

    def add_forum(
        self,
        guild: Any,
        name: str = "forum",
        *,
        tags: Iterable[str | dict[str, Any]] = (),
        require_tag: bool = False,
        media: bool = False,
        parent: Any = None,
        topic: str | None = None,
        overwrites: list[dict[str, Any]] | None = None,
        nsfw: bool = False,
    ) -> FakeChannel:
        """A forum channel (type 15; ``media``: 16) whose ``available_tags`` are ``tags`` (names,
        or dicts with ``name`` and optionally ``moderated``, ``emoji_name``); ``require_tag`` sets
        the REQUIRE_TAG flag: a post without a tag is then refused (40067)."""
        g = self._guild(guild)
        ctype = CHANNEL_MEDIA if media else CHANNEL_FORUM
        ch = self._new_channel(g, name, ctype, parent_id=_id_of(parent) if parent else None, topic=topic, nsfw=nsfw)
        ch.overwrites = list(overwrites or [])
        ch.flags = CHANNEL_FLAG_REQUIRE_TAG if require_tag else 0
        for tag in tags:
            spec = {"name": tag} if isinstance(tag, str) else dict(tag)
            ch.available_tags.append(
                {
                    "id": str(self._snowflake()),
                    "name": spec["name"],
                    "moderated": bool(spec.get("moderated", False)),
                    "emoji_id": None,
                    "emoji_name": spec.get("emoji_name"),
                }
            )
        self._dispatch_guild(g.id, "CHANNEL_CREATE", ch.payload())
        return ch

    def add_thread(
        self,
        parent: Any,
        name: str = "thread",
        *,
        private: bool = False,
        owner: Any = None,
        archived: bool = False,
        locked: bool = False,
        applied_tags: Iterable[Any] = (),
        members: Iterable[Any] = (),
        bot_joined: bool = True,
        content: str | None = None,
    ) -> FakeChannel:
        """A thread of ``parent``: public (11), ``private`` (12), or an announcement thread (10)
        under an announcement channel; under a forum it is a post whose first message (same id as
        the thread, as on Discord) says ``content`` (default: the name). ``owner`` (a member;
        default the guild owner), ``members`` and the bot (``bot_joined``) are its members; a
        private thread the bot has not joined is out of its reach (without Manage Threads)."""
        par = self._channel(parent)
        if par.guild_id is None or par.is_thread or par.type not in (CHANNEL_TEXT, CHANNEL_ANNOUNCEMENT, *FORUM_TYPES):
            raise FakeDiscordError(f"channel {par.name!r} (type {par.type}) cannot have threads")
        g = self._guild(par.guild_id)
        if par.is_forum and private:
            raise FakeDiscordError("forum posts are public threads")
        if par.type == CHANNEL_ANNOUNCEMENT:
            ctype = CHANNEL_ANNOUNCEMENT_THREAD
        else:
            ctype = CHANNEL_PRIVATE_THREAD if private else CHANNEL_PUBLIC_THREAD
        owner_id = _id_of(owner) if owner is not None else g.owner_id
        tags = [self._forum_tag_id(par, tag) for tag in applied_tags]
        thread = self._new_thread(g, par, name, ctype, owner_id, applied_tags=tags)
        thread.thread_members |= {_id_of(m) for m in members}
        if not bot_joined:
            thread.thread_members.discard(self.bot_user.id)
        if par.is_forum:
            author = self.users.get(owner_id) or self.bot_user
            self._new_message(thread, {"content": content or name}, [], author=author, message_id=thread.id)
        self._dispatch_guild(g.id, "THREAD_CREATE", {**thread.payload(), "newly_created": True})
        if archived or locked:
            self.archive_thread(thread, archived=archived, locked=locked)
        return thread

    def _new_thread(
        self,
        guild: FakeGuild,
        parent: FakeChannel,
        name: str,
        ctype: int,
        owner_id: int,
        *,
        applied_tags: list[int] | None = None,
        auto_archive_duration: int = 1440,
    ) -> FakeChannel:
        thread = FakeChannel(
            self._snowflake(),
            ctype,
            name,
            guild.id,
            parent_id=parent.id,
            owner_id=owner_id,
            applied_tags=list(applied_tags or []),
            auto_archive_duration=auto_archive_duration,
            thread_members={owner_id, self.bot_user.id},
        )
        guild.channels[thread.id] = thread
        self.channels[thread.id] = thread
        return thread

    def _forum_tag_id(self, forum: FakeChannel, tag: Any) -> int:
        """A tag of ``forum`` given by name, dict or id."""
        if isinstance(tag, str) and not tag.isdigit():
            return int(forum.tag(tag)["id"])
        tid = _id_of(tag)
        if not any(int(t["id"]) == tid for t in forum.available_tags):
            raise FakeDiscordError(f"forum {forum.name!r} has no tag {tid}")
        return tid

    def archive_thread(self, thread: Any, *, archived: bool = True, locked: bool | None = None) -> None:
        """Archives (or unarchives) a thread, and locks it if ``locked``: THREAD_UPDATE."""
        th = self._channel(thread)
        if not th.is_thread:
            raise FakeDiscordError(f"channel {th.name!r} is not a thread")
        th.archived = archived
        th.archived_at = _now_iso()
        if locked is not None:
            th.locked = locked
        self._dispatch_guild(th.guild_id, "THREAD_UPDATE", th.payload())

    def remove_thread_member(self, thread: Any, user: Any) -> None:
        """``user`` (the bot too) leaves or is removed from a thread: THREAD_MEMBERS_UPDATE. Out of a
        private thread, the bot can no longer post there (403 / 50001) without Manage Threads."""
        th = self._channel(thread)
        if not th.is_thread:
            raise FakeDiscordError(f"channel {th.name!r} is not a thread")
        uid = _id_of(user)
        th.thread_members.discard(uid)
        self._dispatch_guild(
            th.guild_id,
            "THREAD_MEMBERS_UPDATE",
            {
                "id": str(th.id),
                "guild_id": str(th.guild_id),
                "member_count": min(len(th.thread_members), 50),
                "removed_member_ids": [str(uid)],
            },
        )

    def set_nsfw(self, channel: Any, nsfw: bool = True) -> None:
        """Marks a channel age-restricted (or not): CHANNEL_UPDATE. A thread is as its parent."""
        ch = self._channel(channel)
        if ch.is_thread or ch.guild_id is None:
            raise FakeDiscordError("only guild channels are age-restricted (a thread is as its parent)")
        ch.nsfw = nsfw
        self._dispatch_guild(ch.guild_id, "CHANNEL_UPDATE", ch.payload())

    def threads_of(self, channel: Any) -> list[FakeChannel]:
        """The (not deleted) threads of a text, announcement or forum channel, oldest first."""
        cid = _id_of(channel)
        return sorted(
            (c for c in self.channels.values() if c.is_thread and c.parent_id == cid and not c.deleted),
            key=lambda c: c.id,
        )

    def forum_posts(self, forum: Any) -> list[FakeChannel]:
        """The posts (threads) of a forum, oldest first; a post's first message is
        ``fake.channel_messages(post)[0]`` (its id is the post's id, as on Discord)."""
        if not self._channel(forum).is_forum:
            raise FakeDiscordError(f"channel {_id_of(forum)} is not a forum")
        return self.threads_of(forum)

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
        if ch.is_thread:
            raise FakeDiscordError("a thread has no overwrites of its own: set them on its parent")
        tid = _id_of(target)
        kind = 0 if isinstance(target, FakeRole) or tid in self.guilds[ch.guild_id or 0].roles else 1
        ch.overwrites = [o for o in ch.overwrites if int(o["id"]) != tid]
        ch.overwrites.append({"id": str(tid), "type": kind, "allow": str(allow), "deny": str(deny)})
        self._dispatch_guild(ch.guild_id, "CHANNEL_UPDATE", ch.payload())

    def remove_overwrite(self, channel: Any, target: Any) -> None:
        """Drops a channel's overwrite for a role or a member: CHANNEL_UPDATE."""
        ch = self._channel(channel)
        tid = _id_of(target)
        ch.overwrites = [o for o in ch.overwrites if int(o["id"]) != tid]
        self._dispatch_guild(ch.guild_id, "CHANNEL_UPDATE", ch.payload())

    def remove_member(self, guild: Any, member: Any) -> None:
        """The member leaves (or is kicked from) the guild: GUILD_MEMBER_REMOVE."""
        g = self._guild(guild)
        m = g.member(member)
        if m.id in (g.owner_id, g.bot_id):
            raise FakeDiscordError("the owner and the bot itself do not leave this way (remove_guild)")
        del g.members[m.id]
        self._dispatch_guild(g.id, "GUILD_MEMBER_REMOVE", {"guild_id": str(g.id), "user": m.user.payload()})

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
            event = "THREAD_DELETE" if ch.is_thread else "CHANNEL_DELETE"
            self._dispatch_guild(ch.guild_id, event, ch.payload())
        for thread in self.threads_of(ch):  # Discord deletes a channel's threads with it
            thread.deleted = True

    def forbid_channel(self, channel_id: Any, forbidden: bool = True) -> None:
        """The bot lost access: posting there answers 403 Missing Access (50001)."""
        self._channel(channel_id).forbidden = forbidden

    def set_dms_closed(self, user: Any, closed: bool = True) -> None:
        """The user refuses DMs (privacy settings, or blocked the bot): sending to their DM
        channel answers 403 / 50007 "Cannot send messages to this user", as Discord does."""
        uid = _id_of(user)
        (self._dm_closed.add if closed else self._dm_closed.discard)(uid)

    def close_dms(self, user: Any, closed: bool = True) -> None:
        """Same as ``set_dms_closed``."""
        self.set_dms_closed(user, closed)

    def dms_to(self, user: Any, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """The messages the bot sent to ``user`` by DM, oldest first (as Discord sends them)."""
        cid = self._dm_channels.get(_id_of(user))
        if cid is None:
            return []
        return [
            m
            for m in self.channel_messages(cid, include_deleted=include_deleted)
            if m["author"]["id"] == str(self.bot_user.id)
        ]

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
        if ch.is_thread:  # a thread has its parent's permissions
            ch = self._channel(ch.parent_id)
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
