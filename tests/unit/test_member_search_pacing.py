"""How members' searches and alert polls share one key's pacing (issue 9, item 3): polls
take the next slot ahead of queued member searches, a member search that would wait more
than a few seconds is refused at once with the wait, and no two searches of a key are
ever closer than the documented pacing."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from pathlib import Path

import aiohttp
import pytest

from bot.errors import UserError
from bot.lacale.errors import KeyBusy, RateLimited
from bot.lacale.limits import MEMBER_SEARCH_MAX_WAIT, KeyLimiter
from bot.lacale.models import Meta
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.search import MemberCooldown, SearchService, build_query
from bot.ui.errors import describe_error
from tests.fakes.lacale import FakeLaCale

META = Meta.model_validate(json.loads((Path(__file__).parents[1] / "fakes" / "lacale_meta.json").read_text()))
INTERVAL = 2.0


class VirtualTime:
    """A clock that moves only when every task is waiting: to the earliest wake-up."""

    def __init__(self) -> None:
        self.now = 100.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    async def run(self, until: float | None = None) -> None:
        """Wake sleepers in time order until none is left (or the clock reaches ``until``)."""
        await self.settle()
        while self._sleepers and (until is None or self._sleepers[0][0] <= until):
            at, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            future.set_result(None)
            await self.settle()
        if until is not None:
            self.now = max(self.now, until)


async def test_a_poll_goes_before_queued_member_searches_and_the_spacing_holds() -> None:
    t = VirtualTime()
    limiter = KeyLimiter(search_interval=INTERVAL, clock=t.clock, sleep=t.sleep)
    started: list[tuple[str, float]] = []

    async def search(name: str, **kw: object) -> None:
        await limiter.acquire_search(**kw)  # type: ignore[arg-type]
        started.append((name, t.now))

    members = [asyncio.create_task(search(f"member{i}")) for i in range(3)]  # slots 100, 102, 104
    await t.settle()
    t.now = 101.0  # member0 has gone; member1 and member2 are queued
    polls = [asyncio.create_task(search("poll-a", priority=True)), asyncio.create_task(search("poll-b", priority=True))]
    await t.run()
    await asyncio.gather(*members, *polls)
    assert started == [
        ("member0", 100.0),
        ("poll-a", 102.0),  # member1's slot
        ("poll-b", 104.0),  # the next one: polls keep their own order
        ("member1", 106.0),
        ("member2", 108.0),
    ]
    times = [at for _, at in started]
    assert all(b - a >= INTERVAL for a, b in itertools.pairwise(times))


async def test_a_poll_on_an_idle_key_goes_at_once_and_a_member_after_it_waits_its_turn() -> None:
    t = VirtualTime()
    limiter = KeyLimiter(search_interval=INTERVAL, clock=t.clock, sleep=t.sleep)
    await limiter.acquire_search(priority=True)
    assert t.now == 100.0
    member = asyncio.create_task(limiter.acquire_search(max_wait=MEMBER_SEARCH_MAX_WAIT))
    await t.run()
    await member
    assert t.now == 102.0


async def test_a_member_search_is_refused_at_once_with_the_wait_beyond_a_few_seconds() -> None:
    t = VirtualTime()
    limiter = KeyLimiter(search_interval=INTERVAL, clock=t.clock, sleep=t.sleep)
    admitted = [asyncio.create_task(limiter.acquire_search(max_wait=4.0)) for _ in range(3)]  # waits 0, 2, 4 s
    await t.settle()
    with pytest.raises(KeyBusy) as refused:
        await limiter.acquire_search(max_wait=4.0)  # would wait 6 s
    assert refused.value.wait == pytest.approx(6.0)
    assert refused.value.retry_after == pytest.approx(2.0)  # accepted again two seconds later
    assert isinstance(refused.value, RateLimited)
    assert limiter.search_wait() == pytest.approx(6.0)  # the refusal reserved nothing
    await t.run(until=102.0)
    limiter.check_search(4.0)  # two seconds later, it would be accepted
    await t.run()
    await asyncio.gather(*admitted)
    # Without a bound (the CLI, /alert add) a search still queues.
    queued = [asyncio.create_task(limiter.acquire_search()) for _ in range(5)]
    await t.run()
    await asyncio.gather(*queued)


async def test_a_429_pause_is_still_reported_as_such() -> None:
    t = VirtualTime()
    limiter = KeyLimiter(search_interval=INTERVAL, clock=t.clock, sleep=t.sleep)
    limiter.pause(30)
    with pytest.raises(RateLimited) as caught:
        limiter.check_search(MEMBER_SEARCH_MAX_WAIT)
    assert not isinstance(caught.value, KeyBusy)


def test_the_refusal_reads_busy_with_the_wait_in_both_languages() -> None:
    error = KeyBusy("booked", retry_after=2.2, wait=6.2)
    assert describe_error(error, "en-US").text == "La Cale is busy for this server, retry in 3 s."
    assert describe_error(error, "fr").text == "La Cale est très sollicitée pour ce serveur, réessayez dans 3 s."
    assert describe_error(error, "fr").error_id is None


async def test_member_searches_beyond_the_queue_are_refused_and_do_not_count_against_the_cooldown() -> None:
    async with FakeLaCale() as lacale, aiohttp.ClientSession() as session:
        # The service's pacing scaled down: 0.2 s between searches, 0.4 s of wait at most.
        access = LaCaleAccess(session, lacale.base_url, search_interval=0.2, backoff_base=0.01)
        service = SearchService(access, MetaCache(access), MemberCooldown(6), max_wait=0.4)
        key = lacale.default_key
        admitted = [
            asyncio.create_task(service.search(key, build_query(META, f"film {i}", [], None), member_id=i))
            for i in range(3)
        ]
        await asyncio.sleep(0)  # the three are under way, their slots not booked yet
        # Asked in the same instant: refused by the limiter once the three have their slots.
        with pytest.raises(KeyBusy):
            await service.search(key, build_query(META, "one too many", [], None), member_id=99)
        # Asked once the slots are booked: refused before anything is started.
        started = service.requests_sent
        with pytest.raises(KeyBusy):
            await service.search(key, build_query(META, "two too many", [], None), member_id=99)
        assert service.requests_sent == started
        # Joining a search already in flight costs no slot: never refused.
        joined = asyncio.create_task(service.search(key, build_query(META, "film 2", [], None), member_id=98))
        await asyncio.gather(*admitted, joined)
        assert lacale.count("/api/external") == 3
        # The refused member's six searches a minute are intact.
        for i in range(6):
            await asyncio.sleep(0.2)
            await service.search(key, build_query(META, f"again {i}", [], None), member_id=99)
        with pytest.raises(UserError, match="error.cooldown"):
            await service.search(key, build_query(META, "seventh", [], None), member_id=99)
