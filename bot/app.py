"""The Discord bot: wiring only. Services live in ``bot/services``; features in ``cogs/``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_database
from bot.db.models import BotState
from bot.i18n.translator import CatalogueTranslator
from bot.redaction import install_redaction, secrets
from bot.runtime import tune_gc
from bot.services.guilds import GuildService
from bot.services.keys import KeyVault
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.search import MemberCooldown, SearchService
from bot.services.uploads import UploadService
from bot.ui.errors import describe_error, unwrap
from bot.ui.replies import reply

log = logging.getLogger("vigie")
command_log = logging.getLogger("vigie.commands")

EXTENSIONS: tuple[str, ...] = ("cogs.setup", "cogs.keys", "cogs.search", "cogs.meta", "cogs.upload", "cogs.alerts")

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
        log_command(interaction, outcome=f"error:{type(unwrap(error)).__name__}" + (f":{message.error_id}" if message.error_id else ""))
        await reply(interaction, message.text, ephemeral=True)

def _root(error: BaseException) -> BaseException:
    return getattr(error, "original", error)

def log_command(interaction: discord.Interaction, *, outcome: str) -> None:
    name = interaction.command.qualified_name if interaction.command else "?"
    latency_ms = (discord.utils.utcnow() - interaction.created_at).total_seconds() * 1000
    command_log.info(
        "command=/%s guild=%s user=%s latency_ms=%.0f outcome=%s",
        name,
        interaction.guild_id or "dm",
        interaction.user.id,
        latency_ms,
        outcome,
    )

class VigieBot(commands.AutoShardedBot):
    services: Services

    def __init__(self, settings: Settings, *, extensions: tuple[str, ...] = EXTENSIONS) -> None:
        intents = discord.Intents.none()
        # Guilds: the guild cache, join/leave events and channel lookups. Nothing privileged.
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=VigieTree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.settings = settings
        self.extension_names = extensions
        self.background_tasks: set[asyncio.Task[object]] = set()
        # Redaction is installed by the bot itself, whoever configured logging.
        install_redaction()
        secrets.add(settings.discord_token.get_secret_value(), settings.secret_key.get_secret_value())

    async def setup_hook(self) -> None:
        settings = self.settings
        engine = create_engine(settings.database_url)
        before, after = await upgrade_database(engine)
        if before != after:
            log.info("database migrated from %s to %s", before or "empty", after)
        sessions = create_sessionmaker(engine)
        http = aiohttp.ClientSession(headers={"User-Agent": "Vigie (Discord bot for La Cale)"})
        vault = KeyVault(settings.fernet_key)
        access = LaCaleAccess(
            http,
            settings.lacale_base_url,
            timeout=settings.http_timeout_seconds,
            search_interval=settings.search_min_interval_seconds,
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
            uploads=UploadService(sessions, guilds, access, meta, search, max_torrent_bytes=settings.upload_max_bytes),
        )
        await self.tree.set_translator(CatalogueTranslator())
        for name in self.extension_names:
            try:
                await self.load_extension(name)
            except commands.ExtensionNotFound:
                log.debug("extension %s not present", name)
            except Exception:
                log.exception("extension %s failed to load", name)
        if settings.sync_commands:
            await self.sync_commands()

    async def sync_commands(self, *, force: bool = False) -> int:
        """Sync to DEV_GUILD_ID at once when set, globally otherwise; skipped when the
        payload is unchanged since the last sync (global syncs are rate limited)."""
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        payload = [await cmd.get_translated_payload(self.tree, self.tree.translator) for cmd in self.tree.get_commands(guild=guild)]  # type: ignore[arg-type]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        state_key = f"commands_hash:{guild.id if guild else 'global'}:{self.application_id}:{self.settings.discord_api_base or ''}"
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

    def spawn(self, coro: object, *, name: str) -> asyncio.Task[object]:
        """A background task kept referenced and cancelled at close."""
        task = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
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

    async def close(self) -> None:
        for task in list(self.background_tasks):
            task.cancel()
        if self.background_tasks:
            await asyncio.gather(*self.background_tasks, return_exceptions=True)
        # Cogs stop their loops in cog_unload.
        for name in list(self.extensions):
            try:
                await self.unload_extension(name)
            except Exception:
                log.exception("extension %s failed to unload", name)
        await super().close()
        services = getattr(self, "services", None)
        if services is not None:
            services.uploads.close()  # kills the torrent workers; never waits
            if not services.http.closed:
                await services.http.close()
            await services.engine.dispose()

async def run_bot(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then close everything cleanly."""
    import signal

    if settings.discord_api_base:
        from bot.discord_api_base import use_discord_api_base

        use_discord_api_base(settings.discord_api_base)
    tune_gc()
    bot = VigieBot(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    started = time.monotonic()
    async with bot:
        runner = asyncio.create_task(bot.start(settings.discord_token.get_secret_value()), name="discord")
        stopper = asyncio.create_task(stop.wait(), name="signals")
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("signal received, shutting down after %.0f s", time.monotonic() - started)
            await bot.close()
            await asyncio.gather(runner, return_exceptions=True)
        else:
            stopper.cancel()
            runner.result()
