"""The message store: creating, editing and deleting messages (mentions, attachments, nonces), and
what tests read of them."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from .constants import _PENDING, FLAG_COMPONENTS_V2, FLAG_EPHEMERAL, FLAG_LOADING, FLAG_SUPPRESS_EMBEDS
from .errors import _ApiError
from .models import FakeChannel, FakeUser, _id_of, _now_iso
from .records import InteractionRecord, _File
from .validation import _collect_strings, _is_empty_message


class MessagesMixin:
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
        message_id: int | None = None,
    ) -> dict[str, Any]:
        mid = message_id or self._snowflake()
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
            if channel.is_thread and mid != channel.id:  # a forum post's first message is not counted
                channel.message_count += 1
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
