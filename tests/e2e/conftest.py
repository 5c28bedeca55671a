"""Fixtures for end-to-end tests against the fake Discord (tests/fakes/discord.py).

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
    async with FakeDiscord() as fake:
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
) -> AsyncIterator[Any]:
    """Starts ``bot`` against ``fake`` in a task, waits until it is ready (and, with
    ``expect_sync``, until it synced its commands at least once, or ``expect_sync`` times),
    yields it, then closes it. An exception raised by the bot task is re-raised.

    ``fast_ready`` keeps tests fast: it lowers discord.py's ``guild_ready_timeout`` (2 s of
    silence after the last GUILD_CREATE before ``on_ready``) to 50 ms and drops the 5 s pause
    discord.py makes before each IDENTIFY but the first (``before_identify_hook``)."""
    use_discord_api_base(fake.api_base, gateway=fake.gateway_url)
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
        try:
            await asyncio.wait_for(task, timeout=5)
        except asyncio.CancelledError:
            pass
