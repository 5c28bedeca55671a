"""The fake Discord itself: one object wiring the world, the gateway, the REST routes and the
interactions (each a mixin in its own module) behind one loopback server."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .constants import _PENDING, DISCORD_EPOCH_MS
from .errors import FakeDiscordError
from .gateway import GatewayMixin, _Connection, _Session
from .interactions import InteractionsMixin
from .messages import MessagesMixin
from .models import FakeChannel, FakeGuild, FakeUser
from .records import CallbackRecord, IdentifyRecord, InteractionRecord, RequestRecord, _File
from .rest_channels import ChannelsRoutesMixin
from .rest_commands import CommandsRoutesMixin
from .rest_guilds import GuildsRoutesMixin
from .rest_interactions import InteractionRoutesMixin
from .rest_threads import ThreadsRoutesMixin
from .rest_users import UsersRoutesMixin
from .routing import RoutingMixin
from .world import WorldMixin

log = logging.getLogger("tests.fakes.discord")


# --- the fake -----------------------------------------------------------------------------


class FakeDiscord(
    WorldMixin,
    GatewayMixin,
    RoutingMixin,
    UsersRoutesMixin,
    CommandsRoutesMixin,
    MessagesMixin,
    ChannelsRoutesMixin,
    GuildsRoutesMixin,
    ThreadsRoutesMixin,
    InteractionsMixin,
    InteractionRoutesMixin,
):
    """Discord's REST API, gateway and CDN on ``127.0.0.1`` (random port).

    - lifecycle: ``start()``/``stop()`` or ``async with``; ``api_base``, ``gateway_url``, ``token``.
    - world: ``add_guild``, ``add_channel``, ``add_announcement``, ``add_forum``, ``add_thread``,
      ``add_role``, ``add_member``, ``remove_member``, ``add_user``, ``set_overwrite``,
      ``remove_overwrite``, ``set_nsfw``, ``archive_thread``, ``remove_guild``, ``delete_channel``,
      ``forbid_channel``, ``set_dms_closed``, ``add_attachment`` (changes after READY are
      dispatched to the bot).
    - users acting: ``invoke``, ``autocomplete``, ``click``, ``select``, ``submit_modal`` (each
      returns an :class:`InteractionRecord`, except ``autocomplete``: the choices).
    - what the bot did: ``commands()``, ``command()``, ``channel_messages()``, ``message()``,
      ``wait_for_channel_message()``, ``dms_to()``, ``forum_posts()``, ``threads_of()``,
      ``all_sent_text()``, ``file_bytes()``, ``requests``,
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
