"""The Discord bot: wiring only. Services live in ``bot/services``; features in ``cogs/``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cluster.identify import IdentifyGate, session_start_warning
from bot.cluster.membership import ClusterMembership, Layout, LayoutMismatch, SlotKeeper, fail_stop
from bot.config import Settings
from bot.db.advisory import NS_SYNC, xact_lock
from bot.db.engine import DatabaseUnavailable, create_engine, create_sessionmaker, describe_database_error
from bot.db.migrate import upgrade_database
from bot.db.models import BotState
from bot.discord_once import stop_blind_retries
from bot.i18n.translator import CatalogueTranslator
from bot.observability.discord_http import rate_limit_trace
from bot.observability.health import HealthServer
from bot.observability.metrics import Metrics
from bot.redaction import install_redaction, secrets
from bot.runtime import tune_gc
from bot.services.guilds import GuildService
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.search import MemberCooldown, SearchService
from bot.services.uploads import UploadService
from bot.services.vault import KeyVault
from bot.ui.errors import describe_error, unwrap
from bot.ui.replies import reply

log = logging.getLogger("vigie")
command_log = logging.getLogger("vigie.commands")

EXTENSIONS: tuple[str, ...] = (
    "cogs.setup",
    "cogs.keys",
    "cogs.search",
    "cogs.meta",
    "cogs.upload",
    "cogs.alerts",
    "cogs.watch",
)

#: A supervisor kills a process that outlives its grace period after SIGTERM (Docker's
#: default: 10 s). Each step of closing has its own bound (tasks get STOP_TASKS_TIMEOUT
#: to end once cancelled, Discord CLOSE_DISCORD_TIMEOUT to acknowledge the close), and
#: the whole stops waiting at SHUTDOWN_DEADLINE whatever Discord or La Cale do...
STOP_TASKS_TIMEOUT = 1.5
CLOSE_DISCORD_TIMEOUT = 1.5
SHUTDOWN_DEADLINE = 8.0
#: ...and if something still holds the process (a thread blocked in a DNS lookup keeps
#: the interpreter from exiting), it exits anyway, with a line saying so.
HARD_EXIT_AFTER = 9.5
#: Where our code lives: a task running it is ours to stop before the sessions it uses close.
_OWN_CODE = tuple(str(Path(__file__).resolve().parents[1] / pkg) + os.sep for pkg in ("bot", "cogs"))


@dataclass(slots=True)
class Services:
    """What cogs reach through ``bot.services``; built once in ``setup_hook``."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    http: aiohttp.ClientSession
    vault: KeyVault
    lacale: LaCaleAccess
    meta: MetaCache
    guilds: GuildService
    search: SearchService
    uploads: UploadService


class VigieTree(app_commands.CommandTree["VigieBot"]):
    """One error path for every command: a short message in the member's language."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        name = interaction.command.qualified_name if interaction.command else "?"
        message = describe_error(error, interaction.locale, context=f"/{name}")
        log_command(
            interaction,
            outcome=f"error:{type(unwrap(error)).__name__}" + (f":{message.error_id}" if message.error_id else ""),
        )
        await reply(interaction, message.text, ephemeral=True)
        interaction.client.dispatch("command_answered", interaction)


def log_command(interaction: discord.Interaction, *, outcome: str) -> None:
    name = interaction.command.qualified_name if interaction.command else "?"
    latency_ms = (discord.utils.utcnow() - interaction.created_at).total_seconds() * 1000
    metrics = getattr(interaction.client, "metrics", None)
    if isinstance(metrics, Metrics):
        # The label keeps the error's kind, not its id: one series per kind, not per error.
        metrics.command_done(
            name, outcome.split(":")[1] if outcome.startswith("error:") else outcome, latency_ms / 1000
        )
    command_log.info(
        "command=/%s guild=%s user=%s latency_ms=%.0f outcome=%s",
        name,
        interaction.guild_id or "dm",
        interaction.user.id,
        latency_ms,
        outcome,
    )


async def check_stored_keys(guilds: GuildService, *, rotation_enabled: bool) -> None:
    """Before serving anything: keys written under SECRET_KEY_OLD are re-encrypted, and
    servers whose key no secret reads have their alerts paused (told to the operator,
    who alone can fix SECRET_KEY)."""
    report = await guilds.check_stored_keys()
    if report.rotated:
        log.info("re-encrypted %d stored La Cale keys under the current SECRET_KEY", report.rotated)
    if report.restored_guilds:
        log.info(
            "%d servers' keys are readable again (SECRET_KEY_OLD): their alerts resume", len(report.restored_guilds)
        )
    if report.unreadable_guilds or report.unreadable_members:
        log.error(
            "%d server keys and %d personal keys cannot be decrypted with SECRET_KEY%s; set the previous SECRET_KEY "
            "as SECRET_KEY_OLD and restart, or have them registered again (/setup key, /key set); "
            "those servers' alerts are paused",
            len(report.unreadable_guilds),
            report.unreadable_members,
            " nor SECRET_KEY_OLD" if rotation_enabled else "",
        )
    elif rotation_enabled:
        log.info("every stored key is now encrypted under SECRET_KEY, so SECRET_KEY_OLD can be removed")


class VigieBot(commands.AutoShardedBot):
    """``member=False`` for one-shot tools (``vigie sync``): no cluster slot, no gateway
    information, no background work. ``on_slot_lost`` replaces the fail-stop (tests)."""

    services: Services

    def __init__(
        self,
        settings: Settings,
        *,
        extensions: tuple[str, ...] = EXTENSIONS,
        member: bool = True,
        on_slot_lost: Callable[[str], None] = fail_stop,
    ) -> None:
        intents = discord.Intents.none()
        # Guilds: the guild cache, join/leave events and channel lookups. Nothing privileged
        # unless the operator asks for member events (DISCORD_MEMBERS_INTENT: watches of a
        # member who leaves pause at once).
        intents.guilds = True
        intents.members = settings.discord_members_intent
        #: Before super().__init__: discord.py's HTTP session gets the 429 counter.
        self.metrics = Metrics()
        trace = rate_limit_trace(self.metrics)
        trace.on_request_end.append(stop_blind_retries)  # see bot/discord_once.py
        super().__init__(
            http_trace=trace,
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=VigieTree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            # Member events only (the raw remove event needs no cache): no member list is
            # asked for at start, nor kept.
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
        )
        self.settings = settings
        self.extension_names = extensions
        self._member = member
        self._on_slot_lost = on_slot_lost
        #: This process's slot and what it owns (see bot/cluster); final once setup_hook
        #: took the slot, before the gateway connects.
        self.cluster = (
            ClusterMembership(Layout(settings.shard_count, settings.cluster_count), slot=settings.cluster_id or 0)
            if member
            else ClusterMembership.not_a_member()
        )
        #: Logins per 5 s Discord allows (GET /gateway/bot), and the gate that spaces them
        #: across processes (PostgreSQL only; one process keeps discord.py's own pacing).
        self.max_concurrency = 1
        self.identify_gate: IdentifyGate | None = None
        self._engine: AsyncEngine | None = None
        self.background_tasks: set[asyncio.Task[object]] = set()
        self._vigie_close: asyncio.Future[None] | None = None
        self._vigie_close_deadline = 0.0
        self.health: HealthServer | None = None
        # Redaction is installed by the bot itself, whoever configured logging.
        install_redaction()
        secrets.add(
            settings.discord_token.get_secret_value(), settings.secret_key.get_secret_value(), *settings.old_secret_keys
        )

    async def setup_hook(self) -> None:
        settings = self.settings
        if settings.health_port is not None:
            # First: /healthz answers during a long migration, /readyz says what is not ready.
            health = HealthServer(self, self.metrics, host=settings.health_host, port=settings.health_port)
            await health.start()
            self.health = health
        engine = create_engine_or_fail(settings.database_url)
        # Disposed by the close whatever stops the start-up (a refused layout, a standby
        # stopped while it waits): disposing here, in a task the close then cancels,
        # would be cut off halfway.
        self._engine = engine
        if self._member:
            await self._join_cluster(engine)
        try:
            before, after = await upgrade_database(engine)
        except Exception as exc:
            await engine.dispose()
            raise DatabaseUnavailable(describe_database_error(exc, settings.database_url)) from exc
        if before != after:
            log.info("database migrated from %s to %s", before or "empty", after)
        sessions = create_sessionmaker(engine)
        if self._member:
            if self.cluster.fenced:
                self.identify_gate = IdentifyGate(sessions)
            # A hot standby waits here: logged in, database migrated, no gateway.
            await self.cluster.take_slot(settings.cluster_id)
            await self._prepare_gateway()
        http = aiohttp.ClientSession(headers={"User-Agent": "Vigie (Discord bot for La Cale)"})
        vault = KeyVault(settings.fernet_key, settings.old_fernet_keys)
        access = LaCaleAccess(
            http,
            settings.lacale_base_url,
            timeout=settings.http_timeout_seconds,
            search_interval=settings.search_min_interval_seconds,
            observe=self.metrics.lacale_request,
        )
        meta = MetaCache(access, ttl=settings.meta_cache_seconds)
        guilds = GuildService(sessions, vault, access, meta)
        search = SearchService(access, meta, MemberCooldown(settings.search_cooldown_per_minute))
        self.services = Services(
            settings=settings,
            engine=engine,
            sessions=sessions,
            http=http,
            vault=vault,
            lacale=access,
            meta=meta,
            guilds=guilds,
            search=search,
            uploads=UploadService(
                sessions,
                guilds,
                access,
                meta,
                search,
                max_torrent_bytes=settings.upload_max_bytes,
                preview_budget_bytes=settings.upload_preview_budget_bytes,
            ),
        )
        await check_stored_keys(guilds, rotation_enabled=bool(settings.old_fernet_keys))
        await self.tree.set_translator(CatalogueTranslator())
        for name in self.extension_names:
            try:
                await self.load_extension(name)
            except commands.ExtensionNotFound:
                log.debug("extension %s not present", name)
            except Exception:
                log.exception("extension %s failed to load", name)
        if settings.sync_commands and self._member:
            if self.cluster.slot == 0:
                await self.sync_commands()
            else:
                log.info("application commands are synced by the process in cluster slot 0")

    async def _join_cluster(self, engine: AsyncEngine) -> None:
        """On PostgreSQL: check the layout against the running processes and keep the
        connection that will hold the slot. SQLite: one process, slot 0 of 1."""
        settings = self.settings
        if engine.dialect.name != "postgresql":
            self.cluster = ClusterMembership.standalone(settings.shard_count)
            return
        layout = Layout(settings.shard_count, settings.cluster_count)
        keeper = SlotKeeper(settings.database_url, layout, on_lost=self._slot_lost)
        try:
            await keeper.open()
        except LayoutMismatch:
            raise
        except Exception as exc:
            raise DatabaseUnavailable(describe_database_error(exc, settings.database_url)) from exc
        self.cluster = ClusterMembership(layout, slot=settings.cluster_id or 0, keeper=keeper)
        keeper.keep_running_at_close()

    def _slot_lost(self, reason: str) -> None:
        log.critical("%s", reason)
        self._on_slot_lost(reason)

    async def _prepare_gateway(self) -> None:
        """Once the slot is ours, before the gateway connects: which shards to run, and
        what Discord says about logins. discord.py skips GET /gateway/bot when given a
        shard count, so it is asked here (bot/discord_api_base.py learns a custom API's
        gateway from the answer)."""
        shards, _url, limits = await self.http.get_bot_gateway()
        self.max_concurrency = max(1, int(limits.get("max_concurrency") or 1))
        if self.settings.shard_count is None:
            self.cluster.use_shard_count(int(shards))
        ownership = self.cluster.ownership
        self.shard_count = ownership.shard_count
        self.shard_ids = list(ownership.shard_ids)
        log.info(
            "cluster slot %d of %d: shards %s of %d (identify buckets: %d)",
            self.cluster.slot,
            ownership.cluster_count,
            ", ".join(map(str, self.shard_ids)),
            ownership.shard_count,
            self.max_concurrency,
        )
        warning = session_start_warning(limits, len(self.shard_ids))
        if warning:
            log.warning("%s", warning)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py's own pacing inside this process, then the gate shared by every
        process: one login per identify bucket per 5 s across the whole bot."""
        await super().before_identify_hook(shard_id, initial=initial)
        if self.identify_gate is None:
            return
        try:
            waited = await self.identify_gate.wait_turn(shard_id, self.max_concurrency)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database hiccuped: log in anyway, as one process would
            log.warning("identify gate unavailable (%s); shard %s logs in without it", type(exc).__name__, shard_id)
            return
        if waited:
            log.info("shard %s waited %.1f s for its identify bucket (another process logged in)", shard_id, waited)

    async def sync_commands(self, *, force: bool = False) -> int:
        """Sync to DEV_GUILD_ID at once when set, globally otherwise; skipped when the
        payload is unchanged since the last sync (global syncs are rate limited)."""
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        translator = self.tree.translator
        if translator is None:  # setup_hook installs it before any sync
            raise RuntimeError("the command tree has no translator")
        payload = [
            await cmd.get_translated_payload(self.tree, translator) for cmd in self.tree.get_commands(guild=guild)
        ]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        state_key = f"commands_hash:{guild.id if guild else 'global'}:{self.application_id}:{self.settings.discord_api_base or ''}"
        # One sync at a time across processes (the slot-0 process at start, `vigie sync`):
        # the second finds the hash written by the first.
        async with self.services.sessions.begin() as guard:
            await xact_lock(guard, NS_SYNC)
            async with self.services.sessions.begin() as session:
                row = await session.get(BotState, state_key)
                if row is not None and row.value == digest and not force:
                    log.info("application commands unchanged, not synced")
                    return len(payload)
            synced = await self.tree.sync(guild=guild)
            async with self.services.sessions.begin() as session:
                await session.merge(BotState(key=state_key, value=digest))
        log.info("synced %d application commands %s", len(synced), f"to guild {guild.id}" if guild else "globally")
        return len(synced)

    def spawn(self, coro: Coroutine[Any, Any, object], *, name: str) -> asyncio.Task[object]:
        """A background task kept referenced and cancelled at close."""
        task: asyncio.Task[object] = asyncio.create_task(coro, name=name)
        self.background_tasks.add(task)
        task.add_done_callback(self.background_tasks.discard)
        return task

    async def on_ready(self) -> None:
        log.info("ready as %s in %d servers", self.user, len(self.guilds))

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.services.guilds.ensure_guild(guild.id, str(guild.preferred_locale))

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        # Nothing of a server's secrets outlives Vigie's membership.
        await self.services.guilds.forget_guild(guild.id)
        log.info("left guild %s: key erased, alerts paused", guild.id)

    async def on_app_command_completion(self, interaction: discord.Interaction, command: object) -> None:
        log_command(interaction, outcome="ok")
        # Whatever the command: what a member must learn at their next command (watches
        # Vigie paused on its own) is added after its answer.
        self.dispatch("command_answered", interaction)

    async def close(self) -> None:
        """Idempotent and bounded: every caller (the signal handler, ``async with``,
        discord.py itself) waits for the same close, which no caller's cancellation stops."""
        _keep_current_task()
        await asyncio.shield(self._begin_close())

    def _begin_close(self) -> asyncio.Future[None]:
        if self._vigie_close is None:
            self._vigie_close_deadline = time.monotonic() + SHUTDOWN_DEADLINE
            self._vigie_close = asyncio.ensure_future(self._close_everything())
        return self._vigie_close

    async def wait_closed(self) -> bool:
        """Close, waiting no later than SHUTDOWN_DEADLINE after the close began; False if
        it was still running then (the process leaves anyway)."""
        _keep_current_task()
        closing = self._begin_close()
        _, late = await asyncio.wait({closing}, timeout=max(0.0, self._vigie_close_deadline - time.monotonic()))
        return not late

    async def __aexit__(self, *exc_info: object) -> None:
        await self.wait_closed()

    async def _close_everything(self) -> None:
        # Order matters: everything that uses the HTTP sessions and the engine stops first
        # (background tasks, cogs, then any other task still running our code: a poll the
        # scheduler had started, a search), and every step is bounded, so that a stop is
        # prompt whatever discord.py is doing (e.g. sleeping minutes in its reconnect
        # back-off) and nothing fails afterwards with "Session is closed".
        for task in list(self.background_tasks):
            task.cancel()
        if self.background_tasks:
            await _wait_stopped(set(self.background_tasks), "background tasks")
        # Cogs stop their loops in cog_unload.
        unload_until = time.monotonic() + STOP_TASKS_TIMEOUT
        for name in list(self.extensions):
            try:
                await asyncio.wait_for(self.unload_extension(name), max(0.1, unload_until - time.monotonic()))
            except Exception:
                log.exception("extension %s failed to unload", name)
        strays = _tasks_running_our_code()
        for task in strays:
            task.cancel()
        if strays:
            await _wait_stopped(strays, "tasks")
        if self._closing_task is None:
            # discord.py closes its gateway sockets politely and waits up to 30 s for the
            # peer's answer; an unreachable Discord never answers. Past the bound, closing
            # its HTTP session drops the sockets (the gateway's too), which ends the wait.
            closing = asyncio.ensure_future(super().close())
            done, _ = await asyncio.wait({closing}, timeout=CLOSE_DISCORD_TIMEOUT)
            if not done:
                log.warning(
                    "Discord did not acknowledge the close in %.0f s; dropping the connection", CLOSE_DISCORD_TIMEOUT
                )
                await self.http.close()
                await asyncio.wait({closing}, timeout=CLOSE_DISCORD_TIMEOUT)
        else:
            await super().close()
        if self.health is not None:
            # Before the engine goes: a probe must not find a half-closed database.
            try:
                await asyncio.wait_for(self.health.stop(), STOP_TASKS_TIMEOUT)
            except Exception:
                log.warning("the health endpoint did not stop cleanly", exc_info=True)
            self.health = None
        services = getattr(self, "services", None)
        if services is not None:
            services.uploads.close()  # kills the torrent workers; never waits
            if not services.http.closed:
                await services.http.close()
            await services.engine.dispose()
        elif self._engine is not None:  # the start-up stopped before the services were built
            await self._engine.dispose()
        # Last: the slot frees only once this process's work has stopped.
        await self.cluster.close()


def create_engine_or_fail(database_url: str) -> AsyncEngine:
    try:
        return create_engine(database_url)
    except Exception as exc:  # the SQLite folder cannot be created, a driver is missing...
        raise DatabaseUnavailable(describe_database_error(exc, database_url)) from exc


async def _wait_stopped(tasks: set[asyncio.Task[object]], what: str) -> None:
    _, pending = await asyncio.wait(tasks, timeout=STOP_TASKS_TIMEOUT)
    if pending:
        log.warning(
            "%d %s still running %.0f s after being cancelled: %s",
            len(pending),
            what,
            STOP_TASKS_TIMEOUT,
            ", ".join(sorted(t.get_name() for t in pending)),
        )


def _keep_current_task() -> None:
    """A task waiting for the close (the signal handler, ``async with bot:`` leaving, a
    test) is not a stray for the close to cancel."""
    task = asyncio.current_task()
    if task is not None:
        task._vigie_keep = True  # type: ignore[attr-defined]


def _tasks_running_our_code() -> set[asyncio.Task[object]]:
    """Tasks, other than this one, that run Vigie's code or an event handler: a poll the
    scheduler started, a meta refresh, a command still answering."""
    current = asyncio.current_task()
    found: set[asyncio.Task[object]] = set()
    for task in asyncio.all_tasks():
        if task is current or task.done() or getattr(task, "_vigie_keep", False):
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        if task.get_name().startswith(("discord.py: on_", "discord-ui-")) or (
            code is not None and os.path.realpath(code.co_filename).startswith(_OWN_CODE)
        ):
            found.add(task)
    return found


def _exit_after(seconds: float) -> threading.Timer:
    """Last resort after SIGTERM: if the process is still there after ``seconds`` (a thread
    stuck in a DNS lookup, a driver call that never returns), leave anyway, status 0."""

    def hard_exit() -> None:
        log.warning("still stopping %.1f s after the signal; exiting now", seconds)
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(seconds, hard_exit)
    timer.daemon = True
    timer.start()
    return timer


async def run_bot(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then close everything cleanly within SHUTDOWN_DEADLINE."""
    import signal

    if settings.discord_api_base:
        from bot.discord_api_base import use_discord_api_base

        use_discord_api_base(settings.discord_api_base)
    tune_gc()
    bot = VigieBot(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # non-Unix: no signal handlers
            loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    _keep_current_task()
    async with bot:
        runner = asyncio.create_task(bot.start(settings.discord_token.get_secret_value()), name="discord")
        stopper = asyncio.create_task(stop.wait(), name="signals")
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("signal received, shutting down after %.0f s", time.monotonic() - started)
            _exit_after(HARD_EXIT_AFTER)
            if not await bot.wait_closed():
                log.warning("shutdown still running after %.0f s; stopping anyway", SHUTDOWN_DEADLINE)
            # discord.py may be sleeping in its reconnect back-off (minutes after a long
            # outage) or waiting on a connection: nothing left to wait for.
            runner.cancel()
            await asyncio.wait({runner}, timeout=1.0)
        else:
            stopper.cancel()
            runner.result()
