"""The gateway: websocket connections and sessions, IDENTIFY (shards, identify buckets, session
start limits), RESUME, member requests and event dispatch, GUILD_CREATE payloads."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import secrets
import time
import zlib
from typing import Any

from aiohttp import WSMsgType, web

from .constants import (
    _EVENT_INTENTS,
    CHANNEL_PRIVATE_THREAD,
    INTENT_GUILD_PRESENCES,
    INTENT_GUILDS,
    MANAGE_THREADS,
    PRIVILEGED_INTENTS,
    VIEW_CHANNEL,
)
from .errors import FakeDiscordError
from .models import FakeChannel, FakeGuild
from .records import CallbackRecord, IdentifyRecord
from .validation import _is_int

log = logging.getLogger("tests.fakes.discord")


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


class GatewayMixin:
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
            "channels": [
                self._channel_in_guild_create(c) for c in g.channels.values() if not c.deleted and not c.is_thread
            ],
            "threads": [t.payload() for t in self._visible_active_threads(g)],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "embedded_activities": [],
            "lazy": True,
            "application_command_counts": {},
        }

    def _visible_active_threads(self, g: FakeGuild) -> list[FakeChannel]:
        """GUILD_CREATE's ``threads``: the active threads the bot can see (a private one only if
        it joined it or has Manage Threads)."""
        visible = []
        for t in g.channels.values():
            if not t.is_thread or t.deleted or t.archived:
                continue
            perms = self.member_permissions(g, g.me, t)
            if not perms & VIEW_CHANNEL:
                continue
            if (
                t.type == CHANNEL_PRIVATE_THREAD
                and self.bot_user.id not in t.thread_members
                and not perms & MANAGE_THREADS
            ):
                continue
            visible.append(t)
        return visible

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
