"""One slow poll never holds the others (issue 9, item 3): each poll has a deadline, the
scheduler's timer does not wait for a cycle's slowest poll, and an abandoned poll loses and
doubles nothing. The real pipeline against the fake La Cale and a real SQLite database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.db.models import SeenRelease
from bot.services.alerts.fetch import key_id
from bot.services.alerts.scheduler import AlertScheduler
from tests.fakes.lacale import SEARCH, FakeLaCale
from tests.support.alert_harness import Pipeline, lacale, sqlite_pipeline  # noqa: F401  (lacale: fixture)

GUILD = 111_111_111_111_111_111
OTHER = 555_555_555_555_555_555
CHANNEL = 222_222_222_222_222_222
OTHER_CHANNEL = 333_333_333_333_333_333


@pytest.fixture
async def p(tmp_path, lacale: FakeLaCale) -> AsyncIterator[Pipeline]:  # type: ignore[no-untyped-def]
    async with sqlite_pipeline(tmp_path, lacale, GUILD) as built:
        yield built


def scheduler(p: Pipeline, *, interval: float = 60.0, poll_deadline: float) -> AlertScheduler:
    return AlertScheduler(
        p.sessions, p.vault, p.access, p.poller, p.sender, interval=interval, concurrency=4, poll_deadline=poll_deadline
    )


async def seen(p: Pipeline, guild_id: int) -> set[str]:
    async with p.sessions() as session:
        return set((await session.scalars(select(SeenRelease.info_hash).where(SeenRelease.guild_id == guild_id))).all())


async def test_a_poll_past_its_deadline_is_abandoned_then_retried_losing_and_doubling_nothing(p: Pipeline) -> None:
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    before = await seen(p, GUILD)
    torrent = p.fake.add_torrent("Dune.One.2160p")
    p.fake.delay_next(SEARCH, 3.0)  # La Cale hangs on this poll's request (client timeout: 5 s)
    s = scheduler(p, poll_deadline=0.3)
    started = time.monotonic()
    report = await s.run_cycle(spread=0)
    assert time.monotonic() - started < 2.0  # not the 3 s La Cale took
    assert report.outcomes == {"timeout": 1}
    assert await seen(p, GUILD) == before  # nothing marked seen...
    assert await p.deliveries() == []  # ...nor recorded to post
    assert (await p.settings(GUILD)).last_poll_outcome == "timeout"
    p.fake.clear_faults()
    assert (await s.run_cycle(spread=0)).outcomes == {"ok": 1}
    await p.sender.flush()
    await s.run_cycle(spread=0)
    await p.sender.flush()
    assert p.poster.posted_titles() == ["Dune.One.2160p"]  # retried: posted, once
    assert torrent["infoHash"] in await seen(p, GUILD)


async def test_a_gap_answered_query_after_query_is_not_cut_by_the_deadline(p: Pipeline) -> None:
    """The deadline counts time without an answer: a long gap making progress goes on."""
    for i in range(6):
        await p.add_alert(GUILD, f"alert{i}", CHANNEL, query=f"word{i}")
    p.fake.add_torrent("Before")
    await p.cycle()
    for i in range(6):
        p.fake.add_torrent(f"Word{i}.Release")
    for i in range(55):
        p.fake.add_torrent(f"Filler.{i}")
    p.fake.delay_next(SEARCH, 0.2, times=10)  # every answer takes 0.2 s: the gap takes ~1.4 s
    report = await scheduler(p, poll_deadline=0.6).run_cycle(spread=0)
    assert report.outcomes == {"gap": 1}
    await p.sender.flush()
    assert sorted(p.poster.posted_titles()) == [f"Word{i}.Release" for i in range(6)]


async def test_a_hung_poll_never_delays_another_servers_alerts(p: Pipeline) -> None:
    slow_key = p.fake.default_key
    fast_key = p.fake.add_key()
    while key_id(fast_key) < key_id(slow_key):  # the hung server is polled first in a cycle
        fast_key = p.fake.add_key()
    await p.add_guild(OTHER, fast_key)
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.add_alert(OTHER, "dune", OTHER_CHANNEL, query="dune")
    await p.cycle()
    interval = 0.5
    s = scheduler(p, interval=interval, poll_deadline=2.5)
    p.fake.delay_next(SEARCH, 4.0)  # the first request of the next cycle: the slow server's
    tasks = [asyncio.create_task(s.run()), asyncio.create_task(p.sender.run())]
    try:
        await asyncio.sleep(interval)
        p.fake.add_torrent("Dune.Two.2160p")
        published = time.monotonic()
        while OTHER_CHANNEL not in [m.post.channel_id for m in p.poster.messages]:
            assert time.monotonic() - published < 3 * interval + 1.0, (
                "the other server's alert waited for the hung poll"
            )
            await asyncio.sleep(0.02)
        assert CHANNEL not in [m.post.channel_id for m in p.poster.messages]  # still hung
        # The hung poll is abandoned at its deadline, and the server polled again: posted once.
        while CHANNEL not in [m.post.channel_id for m in p.poster.messages]:
            assert time.monotonic() - published < 8.0
            await asyncio.sleep(0.02)
        await asyncio.sleep(4 * interval)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert sorted(p.poster.posted_titles()) == ["Dune.Two.2160p", "Dune.Two.2160p"]


async def test_stopping_the_scheduler_stops_its_polls(p: Pipeline) -> None:
    """Polls left running by the timer are still the scheduler's: stopping it stops them
    (none would be left using the HTTP session the bot closes next)."""
    await p.add_alert(GUILD, "dune", CHANNEL, query="dune")
    await p.cycle()
    p.fake.delay_next(SEARCH, 4.0)
    s = scheduler(p, interval=0.3, poll_deadline=3.0)
    task = asyncio.create_task(s.run())
    await asyncio.sleep(0.8)  # the hung poll outlived its cycle: the timer went on
    assert any(t.get_name().startswith("alert-poll-") for t in asyncio.all_tasks())
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    left = [
        t
        for t in asyncio.all_tasks()
        if not t.done()
        and (
            t.get_name().startswith("alert-poll-")
            or getattr(t.get_coro(), "__qualname__", "") == "CycleFetcher._request"
        )
    ]
    assert not left


async def test_a_poll_still_writing_when_the_next_cycle_begins_is_polled_at_its_turn(p: Pipeline) -> None:
    """The timer does not wait for the last polls of a cycle; a server whose poll is
    still finishing when the next cycle begins is polled at its turn all the same."""
    guilds = [GUILD] + [GUILD + (i << 22) for i in range(1, 4)]
    for gid in guilds[1:]:
        await p.add_guild(gid)
    for gid in guilds:
        await p.add_alert(gid, "dune", CHANNEL, query="dune")
    await p.cycle()
    starts: dict[int, int] = dict.fromkeys(guilds, 0)
    original = p.poller.poll

    async def poll(job, fetcher, **kw):  # type: ignore[no-untyped-def]
        starts[job.guild_id] += 1
        result = await original(job, fetcher, **kw)
        await asyncio.sleep(0.15)  # e.g. waiting for its batch to be written
        return result

    p.poller.poll = poll  # type: ignore[method-assign]
    s = AlertScheduler(p.sessions, p.vault, p.access, p.poller, p.sender, interval=0.4, concurrency=4, tick=0.01)
    task = asyncio.create_task(s.run())
    await asyncio.sleep(2.1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    counts = list(starts.values())
    assert min(counts) >= 4 and max(counts) - min(counts) <= 1, starts
