"""REST routes for threads: forum posts (``POST /channels/{forum}/threads``: a thread and its first
message at once), threads of text and announcement channels, and the guild's active threads.

Request bodies are checked against Discord's OpenAPI schemas (``spec.py``), then against the
rules the schema cannot say (permissions, tags, the forum's REQUIRE_TAG flag)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .constants import (
    _SENDABLE_FLAGS,
    ATTACH_FILES,
    CHANNEL_ANNOUNCEMENT,
    CHANNEL_ANNOUNCEMENT_THREAD,
    CHANNEL_FLAG_REQUIRE_TAG,
    CHANNEL_PRIVATE_THREAD,
    CHANNEL_PUBLIC_THREAD,
    CHANNEL_TEXT,
    CREATE_POSTS,
    CREATE_PRIVATE_THREADS,
    CREATE_PUBLIC_THREADS,
    MANAGE_THREADS,
    VIEW_CHANNEL,
)
from .errors import _ApiError
from .models import FakeChannel, _now_iso
from .records import _File
from .spec import check_request
from .validation import _is_empty_message, _validate_message, _wire


class ThreadsRoutesMixin:
    # -- REST: threads and forum posts -----------------------------------------------------------------

    def _thread_parent(self, channel_id: str) -> tuple[FakeChannel, int]:
        ch = self.channels.get(int(channel_id)) if channel_id.isdigit() else None
        if ch is None or ch.deleted:
            raise _ApiError(404, 10003, "Unknown Channel")
        perms = self.bot_permissions(ch) if ch.guild_id else 0
        if ch.forbidden or not perms & VIEW_CHANNEL:
            raise _ApiError(403, 50001, "Missing Access")
        return ch, perms

    def _thread_member_payload(self, thread: FakeChannel) -> dict[str, Any]:
        return {"id": str(thread.id), "user_id": str(self.bot_user.id), "join_timestamp": _now_iso(), "flags": 1}

    async def _r_create_thread(
        self, request: web.Request, payload: Any, files: list[_File], channel_id: str
    ) -> web.Response:
        parent, perms = self._thread_parent(channel_id)
        if parent.is_forum:
            return await self._create_forum_post(parent, perms, payload, files)
        if parent.type not in (CHANNEL_TEXT, CHANNEL_ANNOUNCEMENT):
            raise _ApiError(400, 50024, "Cannot execute action on this channel type")
        data = payload or {}
        check_request("CreateTextThreadWithoutMessageRequest", data)
        if parent.type == CHANNEL_ANNOUNCEMENT:
            ctype, needed = CHANNEL_ANNOUNCEMENT_THREAD, CREATE_PUBLIC_THREADS
        elif data.get("type") == CHANNEL_PRIVATE_THREAD:
            ctype, needed = CHANNEL_PRIVATE_THREAD, CREATE_PRIVATE_THREADS
        else:
            ctype, needed = CHANNEL_PUBLIC_THREAD, CREATE_PUBLIC_THREADS
        if not perms & needed:
            raise _ApiError(403, 50013, "Missing Permissions")
        thread = self._new_thread(
            self.guilds[parent.guild_id],
            parent,
            data["name"],
            ctype,
            self.bot_user.id,
            auto_archive_duration=data.get("auto_archive_duration") or 1440,
        )
        if ctype == CHANNEL_PRIVATE_THREAD and data.get("invitable") is not None:
            thread.invitable = bool(data["invitable"])
        self._dispatch_guild(thread.guild_id, "THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return self._json({**thread.payload(), "member": self._thread_member_payload(thread)}, status=201)

    async def _create_forum_post(
        self, forum: FakeChannel, perms: int, payload: Any, files: list[_File]
    ) -> web.Response:
        """A forum post: Create Posts (Send Messages on a forum), tags from the forum's
        ``available_tags`` (an unknown one: 400 / 50035 on ``applied_tags``, the fake's choice of
        error tree), at least one when the forum has REQUIRE_TAG (400 / 40067), a first message
        Discord would accept. The answer is the thread with its ``message``."""
        data = payload or {}
        check_request("CreateForumThreadRequest", data)
        if not perms & CREATE_POSTS or (files and not perms & ATTACH_FILES):
            raise _ApiError(403, 50013, "Missing Permissions")
        message = data["message"]
        _validate_message(message, files, creating=True, allow_ephemeral=False)
        self._check_files(files)
        known = {int(tag["id"]): tag for tag in forum.available_tags}
        tags = [int(t) for t in data.get("applied_tags") or []]
        unknown = [t for t in tags if t not in known]
        if unknown:
            raise _ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "applied_tags": {
                        "_errors": [
                            {"code": "UNKNOWN_TAG", "message": f"Unknown tag(s): {', '.join(map(str, unknown))}"}
                        ]
                    }
                },
            )
        if any(known[t]["moderated"] for t in tags) and not perms & MANAGE_THREADS:
            raise _ApiError(403, 50013, "Missing Permissions")
        if forum.flags & CHANNEL_FLAG_REQUIRE_TAG and not tags:
            raise _ApiError(400, 40067, "A tag is required to create a forum post in this channel")
        if _is_empty_message({**message, "attachments": files or message.get("attachments")}):
            raise _ApiError(400, 50006, "Cannot send an empty message")
        thread = self._new_thread(
            self.guilds[forum.guild_id],
            forum,
            data["name"],
            CHANNEL_PUBLIC_THREAD,
            self.bot_user.id,
            applied_tags=tags,
            auto_archive_duration=data.get("auto_archive_duration") or 1440,
        )
        msg = self._new_message(
            thread, message, files, flags=(message.get("flags") or 0) & _SENDABLE_FLAGS, message_id=thread.id
        )
        forum.last_message_id = thread.id
        self._dispatch_guild(thread.guild_id, "THREAD_CREATE", {**thread.payload(), "newly_created": True})
        body = {**thread.payload(), "member": self._thread_member_payload(thread), "message": _wire(msg)}
        return self._json(body, status=201)

    async def _r_active_threads(
        self, request: web.Request, payload: Any, files: list[_File], guild_id: str
    ) -> web.Response:
        g = self._rest_guild(guild_id)
        threads = [c for c in g.channels.values() if c.is_thread and not c.deleted and not c.archived]
        members = [self._thread_member_payload(t) for t in threads if self.bot_user.id in t.thread_members]
        return self._json({"threads": [t.payload() for t in threads], "members": members})
