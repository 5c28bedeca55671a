"""A key La Cale refuses is not asked about on every autocomplete keystroke (issue 9,
item 10): a failed ``/meta`` is remembered per key for ``META_FAILURE_MEMORY_SECONDS``."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.services.lacale_access import META_FAILURE_MEMORY_SECONDS, LaCaleAccess, MetaCache
from tests.fakes.lacale import META, FakeLaCale


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle(cache: MetaCache) -> None:
    """Until the background fetch a peek may have started is over."""
    await asyncio.sleep(0)
    for _ in range(200):
        if not cache._inflight:
            return
        await asyncio.sleep(0.005)


async def test_a_failed_fetch_is_remembered_per_key_for_about_a_minute() -> None:
    assert 30 <= META_FAILURE_MEMORY_SECONDS <= 120
    async with FakeLaCale() as lacale, aiohttp.ClientSession() as session:
        access = LaCaleAccess(session, lacale.base_url, backoff_base=0.001)
        clock = Clock()
        cache = MetaCache(access, clock=clock)
        refused, other = lacale.add_key(), lacale.add_key()
        lacale.remove_key(refused)
        for _ in range(20):  # keystrokes
            assert cache.peek(refused) is None
            await settle(cache)
        assert lacale.count(META, key=refused) == 1
        # Another key is not affected by this one's failure (not a shared, constant entry).
        assert cache.peek(other) is None
        await settle(cache)
        assert cache.peek(other) is not None and lacale.count(META, key=other) == 1
        # After the memory, one new try; a key accepted again is served.
        clock.now += META_FAILURE_MEMORY_SECONDS - 1
        cache.peek(refused)
        await settle(cache)
        assert lacale.count(META, key=refused) == 1
        clock.now += 2
        lacale.add_key(refused)
        cache.peek(refused)
        await settle(cache)
        assert lacale.count(META, key=refused) == 2
        assert cache.peek(refused) is not None


async def test_an_awaited_get_still_asks_and_a_put_clears_the_failure() -> None:
    async with FakeLaCale() as lacale, aiohttp.ClientSession() as session:
        access = LaCaleAccess(session, lacale.base_url, backoff_base=0.001)
        cache = MetaCache(access, clock=Clock())
        key = lacale.add_key()
        lacale.remove_key(key)
        cache.peek(key)
        await settle(cache)
        lacale.add_key(key)
        meta = await cache.get(key)  # a command waits for La Cale: it is asked
        assert meta.categories and lacale.count(META, key=key) == 2
        assert cache.peek(key) is meta
