"""Fixtures for end-to-end tests against the fake Discord (tests/fakes/discord/).

``fake_discord`` is a started FakeDiscord (failing the test if the bot hit a route the fake
does not know); ``run_bot(bot, fake)`` runs a real discord.py client against it::

    async def test_search(fake_discord):
        guild = fake_discord.add_guild(name="La Cale")
        async with run_bot(make_bot(), fake_discord) as bot:
            rec = await fake_discord.invoke("search", query="dune")
            assert (await rec.wait_final())["content"]
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from bot.discord_api_base import use_discord_api_base
from tests.fakes.discord import FakeDiscord, FakeDiscordError

#: Where discord.py points when no fake is running: a closed loopback port, never the internet.
_NOWHERE = "http://127.0.0.1:9/api/v10"


@pytest.fixture(autouse=True)
def _no_real_discord() -> None:
    use_discord_api_base(_NOWHERE, gateway="ws://127.0.0.1:9/gateway")


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    # run_bot() drops discord.py's 5 s pause between logins, so the fake does not refuse
    # quick re-IDENTIFYs here (it still records them); multi-process tests turn it on.
    async with FakeDiscord(enforce_identify_rate=False) as fake:
        yield fake
        assert not fake.unhandled, f"the bot used routes the fake Discord does not implement: {fake.unhandled}"


@contextlib.asynccontextmanager
async def run_bot(
    bot: discord.Client,
    fake: FakeDiscord,
    *,
    token: str | None = None,
    expect_sync: bool | int = True,
    timeout: float = 10.0,
    fast_ready: bool = True,
    api_base: str | None = None,
) -> AsyncIterator[Any]:
    """Starts ``bot`` against ``fake`` in a task, waits until it is ready (and, with
    ``expect_sync``, until it synced its commands at least once, or ``expect_sync`` times),
    yields it, then closes it. An exception raised by the bot task is re-raised.

    ``fast_ready`` keeps tests fast: it lowers discord.py's ``guild_ready_timeout`` (2 s of
    silence after the last GUILD_CREATE before ``on_ready``) to 50 ms and drops the 5 s pause
    discord.py makes before each IDENTIFY but the first (``before_identify_hook``).

    ``api_base``: where the REST traffic goes instead of the fake itself (a REST proxy in
    front of it); the gateway stays the fake's."""
    use_discord_api_base(api_base or fake.api_base, gateway=fake.gateway_url)
    if fast_ready:
        bot._connection.guild_ready_timeout = min(bot._connection.guild_ready_timeout, 0.05)

        async def before_identify_hook(shard_id: int | None, *, initial: bool = False) -> None:
            return None

        bot.before_identify_hook = before_identify_hook  # type: ignore[method-assign]
    syncs_before = fake.sync_count
    task = asyncio.create_task(bot.start(token or fake.token), name="fake-discord-bot")

    async def ready() -> None:
        while getattr(bot, "_ready", discord.utils.MISSING) is discord.utils.MISSING:
            await asyncio.sleep(0.005)  # login has not run the setup hook yet
        await bot.wait_until_ready()
        if expect_sync:
            await fake.wait_for_sync(timeout, count=syncs_before + int(expect_sync))

    waiter = asyncio.create_task(ready())
    try:
        done, _ = await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            waiter.cancel()
            task.result()  # raises what stopped the bot
            raise FakeDiscordError("the bot stopped before being ready")
        if waiter not in done:
            waiter.cancel()
            raise FakeDiscordError(f"the bot was not ready after {timeout}s\n{fake._diagnostics()}")
        waiter.result()
        yield bot
    finally:
        if not waiter.done():
            waiter.cancel()
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)


# -- the real Vigie bot against both fakes ---------------------------------------------------

from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

from bot.app import VigieBot  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from tests.fakes.discord import FakeChannel, FakeGuild, FakeMember, InteractionRecord  # noqa: E402
from tests.fakes.lacale import FakeLaCale  # noqa: E402

MANAGE_GUILD = 1 << 5
SECRET_KEY = "test-secret-key-for-vigie-0123456789"


@dataclass
class VigieWorld:
    """The real bot, logged into a fake Discord, talking to a fake La Cale, with one
    server: ``admin`` has Manage Server, ``member`` has no special permission."""

    discord: FakeDiscord
    lacale: FakeLaCale
    settings: Settings
    guild: FakeGuild
    channel: FakeChannel
    admin: FakeMember
    member: FakeMember
    bot: VigieBot | None = None
    #: The REST base the bot uses when it is not the fake's own (a proxy in front of it).
    api_base: str | None = None
    #: Why the bot's cluster slot was lost (on PostgreSQL): a real process stops at once
    #: with status 7 (bot/cluster/membership.py ``fail_stop``); the test process must not.
    slot_lost: list[str] = field(default_factory=list)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    @property
    def key(self) -> str:
        """The fake La Cale's default (valid) key."""
        return self.lacale.default_key

    async def start(self, *, expect_sync: bool | int = True, **overrides: Any) -> VigieBot:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        bot = VigieBot(settings, on_slot_lost=self.slot_lost.append)
        self.bot = await self._stack.enter_async_context(
            run_bot(bot, self.discord, expect_sync=expect_sync, api_base=self.api_base)
        )
        # Tests do not wait seconds between retries of a failing La Cale.
        bot.services.lacale.backoff_base = 0.01
        return bot

    async def stop(self) -> None:
        await self._stack.aclose()
        self._stack = contextlib.AsyncExitStack()
        self.bot = None

    async def restart(self, **overrides: Any) -> VigieBot:
        """A new bot process on the same database (commands unchanged: no new sync)."""
        await self.stop()
        return await self.start(expect_sync=False, **overrides)

    async def invoke(
        self, command: str, *, by: FakeMember | None = None, locale: str = "en-US", **options: Any
    ) -> InteractionRecord:
        return await self.discord.invoke(
            command, by=by or self.admin, in_channel=self.channel, locale=locale, **options
        )

    async def register_key(
        self, key: str | None = None, *, by: FakeMember | None = None, locale: str = "en-US"
    ) -> InteractionRecord:
        """``/setup key`` then the modal, as an admin would; returns the modal's record."""
        opened = await self.invoke("setup key", by=by, locale=locale)
        await opened.wait_response()
        submitted = await self.discord.submit_modal(
            opened, {"vigie:secret:apikey": key or self.key}, by=by or self.admin, locale=locale
        )
        await submitted.wait_final()
        return submitted

    async def register_member_key(self, member: FakeMember, key: str, *, locale: str = "en-US") -> InteractionRecord:
        opened = await self.invoke("key set", by=member, locale=locale)
        await opened.wait_response()
        submitted = await self.discord.submit_modal(opened, {"vigie:secret:apikey": key}, by=member, locale=locale)
        await submitted.wait_final()
        return submitted


def vigie_settings(
    tmp_path: Path, discord_fake: FakeDiscord, lacale: FakeLaCale, guild_id: int, **overrides: Any
) -> Settings:
    values: dict[str, Any] = dict(
        discord_token=discord_fake.token,
        secret_key=SECRET_KEY,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'vigie.sqlite3'}",
        lacale_base_url=lacale.base_url,
        discord_api_base=discord_fake.api_base,
        dev_guild_id=guild_id,
        search_min_interval_seconds=0.0,
        http_timeout_seconds=2.0,
        log_level="DEBUG",
    )
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
async def lacale() -> AsyncIterator[FakeLaCale]:
    async with FakeLaCale() as fake:
        yield fake


@pytest.fixture
async def world(tmp_path: Path, fake_discord: FakeDiscord, lacale: FakeLaCale) -> AsyncIterator[VigieWorld]:
    """A started Vigie in a server named "La Cale FR" (no key registered yet)."""
    guild = fake_discord.add_guild(name="La Cale FR", preferred_locale="fr")
    channel = fake_discord.add_channel(guild, "general")
    admin = fake_discord.add_member(guild, name="admin", permissions=MANAGE_GUILD | (1 << 10) | (1 << 11), locale="fr")
    member = fake_discord.add_member(guild, name="member", locale="en-US")
    w = VigieWorld(
        discord=fake_discord,
        lacale=lacale,
        settings=vigie_settings(tmp_path, fake_discord, lacale, guild.id),
        guild=guild,
        channel=channel,
        admin=admin,
        member=member,
    )
    await w.start()
    try:
        yield w
    finally:
        await w.stop()


def alerts_cog(world: VigieWorld) -> Any:
    """The running bot's alerts cog: its scheduler and sender are what tests drive."""
    assert world.bot is not None
    found = world.bot.get_cog("Alerts")
    assert found is not None
    return found


async def alert_cycle(world: VigieWorld) -> Any:
    """One poll of every server (and member key), then whatever the sender has to send."""
    report = await alerts_cog(world).scheduler.run_cycle(spread=0)
    await alerts_cog(world).sender.flush()
    return report
