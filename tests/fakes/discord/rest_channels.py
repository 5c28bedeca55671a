"""REST routes for channels and their messages (post, read history, edit, delete, typing,
reactions)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .constants import (
    _SENDABLE_FLAGS,
    _TEXT_LIKE,
    ATTACH_FILES,
    CHANNEL_PRIVATE_THREAD,
    FLAG_EPHEMERAL,
    MANAGE_MESSAGES,
    MANAGE_THREADS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
)
from .errors import _ApiError
from .models import FakeChannel, FakeUser, _now_iso
from .records import _File
from .spec import check_request
from .validation import _is_empty_message, _validate_message, _wire


class ChannelsRoutesMixin:
    # -- REST: channels & messages -------------------------------------------------------------------

    def _postable_channel(self, channel_id: str, files: list[_File]) -> FakeChannel:
        ch = self.channels.get(int(channel_id)) if channel_id.isdigit() else None
        if ch is None or ch.deleted:
            raise _ApiError(404, 10003, "Unknown Channel")
        if ch.forbidden:
            raise _ApiError(403, 50001, "Missing Access")
        if ch.type == 1:
            if ch.recipients and not self._dm_reachable(ch.recipients[0]):
                raise _ApiError(403, 50007, "Cannot send messages to this user")
            return ch
        if ch.is_forum:
            raise _ApiError(400, 40058, "Cannot send a message in a forum channel")
        if ch.type not in _TEXT_LIKE:
            raise _ApiError(400, 50008, "Cannot send messages in a non-text channel")
        perms = self.bot_permissions(ch)
        if not perms & VIEW_CHANNEL:
            raise _ApiError(403, 50001, "Missing Access")
        if ch.is_thread:
            self._check_thread_postable(ch, perms)
        elif not perms & SEND_MESSAGES:
            raise _ApiError(403, 50013, "Missing Permissions")
        if files and not perms & ATTACH_FILES:
            raise _ApiError(403, 50013, "Missing Permissions")
        return ch

    def _dm_reachable(self, user: FakeUser) -> bool:
        """Discord delivers a bot's DM only to a user who accepts DMs, is not a bot, and shares
        a server with it; otherwise 403 / 50007."""
        if user.id in self._dm_closed or user.bot:
            return False
        return any(not g.removed and user.id in g.members for g in self.guilds.values())

    def _check_thread_postable(self, thread: FakeChannel, perms: int) -> None:
        """Posting in a thread takes Send Messages in Threads (not Send Messages); a private
        thread takes being in it (or Manage Threads). A locked thread takes Manage Threads: archived,
        400 / 50083; open, 400 / 160005 (this status is the fake's choice, Discord documents only the
        codes). An archived thread that is not locked is unarchived by the message, as on Discord."""
        moderator = bool(perms & MANAGE_THREADS)
        if thread.type == CHANNEL_PRIVATE_THREAD and self.bot_user.id not in thread.thread_members and not moderator:
            raise _ApiError(403, 50001, "Missing Access")
        if not perms & SEND_MESSAGES_IN_THREADS:
            raise _ApiError(403, 50013, "Missing Permissions")
        if thread.locked and not moderator:
            if thread.archived:
                raise _ApiError(400, 50083, "Operation cannot be performed on an archived thread")
            raise _ApiError(400, 160005, "Thread is locked")
        if thread.archived:
            thread.archived = False
            thread.archived_at = _now_iso()
            self._dispatch_guild(thread.guild_id, "THREAD_UPDATE", thread.payload())
        thread.thread_members.add(self.bot_user.id)  # posting joins a public thread

    def _readable_channel(self, channel_id: str) -> FakeChannel:
        ch = self.channels.get(int(channel_id)) if channel_id.isdigit() else None
        if ch is None or ch.deleted:
            raise _ApiError(404, 10003, "Unknown Channel")
        if ch.forbidden or (ch.guild_id and not self.bot_permissions(ch) & VIEW_CHANNEL):
            raise _ApiError(403, 50001, "Missing Access")
        if (
            ch.type == CHANNEL_PRIVATE_THREAD
            and self.bot_user.id not in ch.thread_members
            and not self.bot_permissions(ch) & MANAGE_THREADS
        ):
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
        check_request("MessageCreateRequest", data)
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
