"""Several processes on one database: each sender posts only its own servers' rows, claims
are all-or-nothing and carry their owner, a claimed row is re-sent only by its owner with
its own nonce, and each process paces its posts at its share of DISCORD_REST_RATE.

Every test runs on SQLite and on a real PostgreSQL (tests/support/postgres.py); each "process" is
a sender with its own engine (its own connections) on the same database, and all of them
post to one recording Discord that, like Discord, answers a repeated nonce with the
message it already created."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cluster.ownership import Ownership
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_database
from bot.db.models import Alert, Delivery, DeliveryStatus, GuildSettings
from bot.services.alerts.deliver import (
    FLUSH_LIMIT,
    AdminNotice,
    DeliverySender,
    GapNotice,
    ReleasePost,
    claim,
)
from bot.services.alerts.queries import due_guilds
from tests.support.alert_harness import RecordingPoster
from tests.support.postgres import empty_public_schema, postgres_url  # noqa: F401  (fixture)

SHARDS = 4


def guild_on(shard: int, n: int = 0) -> int:
    """A server id that Discord puts on ``shard`` (of ``SHARDS``)."""
    return ((shard + SHARDS * (n + 1)) << 22) | 7


def sender(
    sessions: async_sessionmaker[AsyncSession], poster: object, ownership: Ownership, **kw: object
) -> DeliverySender:
    return DeliverySender(sessions, poster, ownership=ownership, **kw)  # type: ignore[arg-type]


@dataclass
class Process:
    """One process's view: its slot, its engine, the posts it made."""

    ownership: Ownership
    sessions: async_sessionmaker[AsyncSession]
    discord: RecordingPoster
    posts: list[ReleasePost] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    async def send_releases(self, post: ReleasePost) -> int:
        self.posts.append(post)
        self.times.append(asyncio.get_running_loop().time())
        return await self.discord.send_releases(post)

    async def send_gap_notice(self, notice: GapNotice) -> None:
        await self.discord.send_gap_notice(notice)

    async def notify_admins(self, notice: AdminNotice) -> None:
        await self.discord.notify_admins(notice)


@dataclass
class Cluster:
    url: str
    discord: RecordingPoster
    engines: list[object] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _admin: async_sessionmaker[AsyncSession] | None = None

    def process(self, slot: int, clusters: int = 2) -> Process:
        engine = create_engine(self.url)
        self.engines.append(engine)
        return Process(Ownership(SHARDS, clusters, slot), create_sessionmaker(engine), self.discord)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The test's own connections (setting up, reading the outcome)."""
        if self._admin is None:
            self._admin = self.process(0, 1).sessions
        return self._admin

    async def backlog(self, guild_id: int, channels: int, releases: int) -> list[int]:
        """A server with one alert per channel and ``releases`` pending rows in each."""
        sessions = self.sessions
        async with sessions.begin() as session:
            if await session.get(GuildSettings, guild_id) is None:
                session.add(GuildSettings(guild_id=guild_id, locale="en"))
                await session.flush()
            alert_ids = []
            for c in range(channels):
                alert = Alert(
                    guild_id=guild_id, name=f"a{next(self._ids)}", channel_id=guild_id + c + 1, criteria={"query": "x"}
                )
                session.add(alert)
                await session.flush()
                alert_ids.append((alert.id, alert.channel_id))
            values = [
                {
                    "alert_id": alert_id,
                    "guild_id": guild_id,
                    "channel_id": channel_id,
                    "info_hash": f"{guild_id:x}-{channel_id:x}-{r}",
                    "release": {"title": f"R{r}", "category": "Films"},
                    "status": DeliveryStatus.PENDING,
                    "attempts": 0,
                }
                for r in range(releases)
                for alert_id, channel_id in alert_ids
            ]
            if values:
                await session.execute(insert(Delivery), values)
        return [a for a, _ in alert_ids]

    async def rows(self) -> list[Delivery]:
        async with self.sessions() as session:
            return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


@pytest.fixture(params=["sqlite", "postgres"])
async def cluster(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Cluster]:  # type: ignore[no-untyped-def]
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        await empty_public_schema(engine)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'vigie.sqlite3'}"
        engine = create_engine(url)
    await upgrade_database(engine)
    await engine.dispose()
    built = Cluster(url, RecordingPoster())
    try:
        yield built
    finally:
        for e in built.engines:
            await e.dispose()  # type: ignore[attr-defined]


async def drain(*processes: Process, **kw: object) -> None:
    senders = [sender(p.sessions, p, p.ownership, **kw) for p in processes]
    for _ in range(20):
        reports = await asyncio.gather(*(s.flush() for s in senders))
        if not any(r.messages or r.more for r in reports):
            return
    raise AssertionError("the senders never ran out of posts")


async def test_two_slots_post_only_their_own_servers_each_once(cluster: Cluster) -> None:
    for shard in range(SHARDS):
        for n in range(2):
            await cluster.backlog(guild_on(shard, n), channels=2, releases=12)
    a, b = cluster.process(0), cluster.process(1)
    await drain(a, b)

    rows = await cluster.rows()
    assert len(rows) == SHARDS * 2 * 2 * 12
    assert all(r.status == DeliveryStatus.DELIVERED for r in rows)  # nothing missed
    for process in (a, b):
        assert process.posts and all(process.ownership.owns(post.guild_id) for post in process.posts)
    posted = [(m.post.channel_id, r.info_hash) for m in cluster.discord.messages for r in m.post.releases]
    assert len(posted) == len(set(posted)) == len(rows)  # nothing doubled
    assert cluster.discord.sends == len(cluster.discord.messages)  # not even a deduplicated repeat
    slots = {r.guild_id: r.claimed_by for r in rows}
    assert all(slot == (0 if Ownership(SHARDS, 2, 0).owns(g) else 1) for g, slot in slots.items())
    assert all(r.claimed_at is not None for r in rows)


async def test_one_shards_backlog_does_not_starve_another_shards_posts(cluster: Cluster) -> None:
    """Shard 0's backlog, older and larger than one flush, comes first in id order; with
    the ownership test applied after the LIMIT, slot 1's flush saw only slot 0's rows."""
    await cluster.backlog(guild_on(0), channels=3, releases=FLUSH_LIMIT // 3 + 40)
    await cluster.backlog(guild_on(1), channels=1, releases=3)
    slot1 = cluster.process(1)
    report = await sender(slot1.sessions, slot1, slot1.ownership).flush()
    assert report.deliveries == 3
    assert [p.guild_id for p in slot1.posts] == [guild_on(1)]


async def test_due_servers_are_selected_in_sql_for_the_slot(cluster: Cluster) -> None:
    for shard in range(SHARDS):
        await cluster.backlog(guild_on(shard), channels=1, releases=0)
    async with cluster.sessions.begin() as session:
        await session.execute(update(GuildSettings).values(api_key_encrypted="x"))
    async with cluster.sessions() as session:
        due = [g.guild_id for g in await due_guilds(session, ownership=Ownership(SHARDS, 2, 1))]
    assert due == sorted([guild_on(1), guild_on(3)])


async def test_a_claim_of_slot_0_is_resent_only_by_slot_0_with_its_nonce(cluster: Cluster) -> None:
    guild = guild_on(2)  # slot 0 of 2
    await cluster.backlog(guild, channels=1, releases=3)
    await cluster.backlog(guild_on(3), channels=1, releases=1)  # slot 1 has work too
    slot0, slot1 = cluster.process(0), cluster.process(1)
    cluster.discord.crash_after_accept = 1  # Discord posts it; slot 0 dies before marking
    with pytest.raises(asyncio.CancelledError):
        await sender(slot0.sessions, slot0, slot0.ownership).flush()
    claimed = [r for r in await cluster.rows() if r.guild_id == guild]
    assert {r.claimed_by for r in claimed} == {0} and len({r.batch_nonce for r in claimed}) == 1
    assert all(r.status == DeliveryStatus.PENDING and r.claimed_at is not None for r in claimed)
    nonce = claimed[0].batch_nonce

    await sender(slot1.sessions, slot1, slot1.ownership).flush()
    assert [p.guild_id for p in slot1.posts] == [guild_on(3)]  # slot 0's claim left alone
    assert all(r.status == DeliveryStatus.PENDING for r in await cluster.rows() if r.guild_id == guild)

    restarted = cluster.process(0)  # the next holder of slot 0 (a restart, or a standby)
    await sender(restarted.sessions, restarted, restarted.ownership).flush()
    assert [p.nonce for p in restarted.posts] == [nonce]
    assert len([m for m in cluster.discord.messages if m.post.guild_id == guild]) == 1  # the fake deduplicated it
    assert all(r.status == DeliveryStatus.DELIVERED for r in await cluster.rows())


async def test_after_a_layout_change_the_new_owner_takes_claims_over_with_their_nonce(cluster: Cluster) -> None:
    """Rows claimed under another layout (or before claims had owners) belong to whoever
    owns their server now: re-sent at once, same nonce, and stamped with the new slot."""
    guild = guild_on(1)  # slot 1 of 2; slot 0 of 1
    await cluster.backlog(guild, channels=2, releases=2)
    ids = [r.id for r in await cluster.rows()]
    async with cluster.sessions.begin() as session:
        assert await claim(session, ids[:2], "vfromslot1", slot=1)
        assert await claim(session, ids[2:], "vlegacy", slot=1)
        await session.execute(update(Delivery).where(Delivery.id.in_(ids[2:])).values(claimed_by=None, claimed_at=None))
    alone = cluster.process(0, clusters=1)
    await sender(alone.sessions, alone, alone.ownership).flush()
    assert sorted(p.nonce for p in alone.posts) == ["vfromslot1", "vlegacy"]
    rows = await cluster.rows()
    assert all(r.status == DeliveryStatus.DELIVERED and r.claimed_by == 0 for r in rows)


async def test_a_partial_claim_conflict_rolls_the_whole_batch_back(cluster: Cluster) -> None:
    await cluster.backlog(guild_on(0), channels=1, releases=3)
    a, b, c = [r.id for r in await cluster.rows()]
    async with cluster.sessions.begin() as session:
        assert await claim(session, [b], "vother", slot=1)
    async with cluster.sessions.begin() as session:
        assert not await claim(session, [a, b, c], "vmine", slot=0)
        assert await claim(session, [c], "vlone", slot=0)  # the transaction goes on
    rows = {r.id: r for r in await cluster.rows()}
    assert (rows[a].batch_nonce, rows[a].claimed_by, rows[a].claimed_at) == (None, None, None)
    assert (rows[b].batch_nonce, rows[b].claimed_by) == ("vother", 1)
    assert (rows[c].batch_nonce, rows[c].claimed_by) == ("vlone", 0)


async def test_concurrent_overlapping_claims_on_postgres_one_wins_whole(postgres_url: str) -> None:
    """Two transactions claim overlapping batches at once: the second waits for the
    first's row lock, finds a row taken, and rolls its whole batch back."""
    engine = create_engine(postgres_url)
    await empty_public_schema(engine)
    await upgrade_database(engine)
    await engine.dispose()
    c = Cluster(postgres_url, RecordingPoster())
    try:
        await c.backlog(guild_on(0), channels=1, releases=3)
        a, b, x = [r.id for r in await c.rows()]
        first, second = c.process(0).sessions, c.process(1).sessions
        async with first.begin() as s1:
            assert await claim(s1, [a, b], "vfirst", slot=0)
            async with second.begin() as s2:
                late = asyncio.ensure_future(claim(s2, [b, x], "vsecond", slot=1))
                await asyncio.sleep(0.3)
                assert not late.done()  # waiting for the first claimer's row lock
                await s1.commit()
                assert not await late
        rows = {r.id: r for r in await c.rows()}
        assert [rows[i].batch_nonce for i in (a, b, x)] == ["vfirst", "vfirst", None]
    finally:
        for e in c.engines:
            await e.dispose()  # type: ignore[attr-defined]


def windows(times: Sequence[float], width: float = 1.0) -> int:
    """The most posts in any window of ``width`` seconds (closed on both ends)."""
    best = 0
    for i, start in enumerate(times):
        best = max(best, sum(1 for t in times[i:] if t <= start + width))
    return best


@pytest.mark.parametrize("cluster", ["sqlite"], indirect=True)  # the pacer's timing: the database plays no part
async def test_post_rate_is_split_across_processes(cluster: Cluster) -> None:
    """DISCORD_REST_RATE=10 over CLUSTER_COUNT=2: each process at most 5 posts a second.

    Tolerance: the bucket holds one token, so posts are 0.2 s apart and a closed 1 s
    window can hold 6 (both ends); the loop may wake a timer up to its clock resolution
    early, which cannot add a seventh. Over the whole run, the mean is at most 5/s."""
    for shard in range(SHARDS):
        await cluster.backlog(guild_on(shard), channels=6, releases=1)  # 12 messages per slot, 6+ channels at once
    a, b = cluster.process(0), cluster.process(1)
    rate = 10.0 / 2
    await drain(a, b, rate=rate)
    for process in (a, b):
        times = sorted(process.times)
        assert len(times) == 12
        assert windows(times) <= rate + 1
        assert (len(times) - 1) / (times[-1] - times[0]) <= rate * 1.02
    assert len(cluster.discord.messages) == 24


def test_notice_nonces_are_deterministic() -> None:
    since = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    until = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    gap = GapNotice(1, 2, "fr", ("b", "a"), since, until)
    assert gap.nonce == GapNotice(1, 2, "en", ("a", "b"), since, until).nonce and len(gap.nonce) <= 25
    assert gap.nonce != GapNotice(1, 3, "fr", ("a", "b"), since, until).nonce
    assert gap.nonce != GapNotice(1, 2, "fr", ("a", "b"), since, until.replace(hour=12)).nonce
    at = datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
    notice = AdminNotice(1, 9, "fr", "channel_forbidden", ("a",), 2, at)
    assert notice.nonce == AdminNotice(1, 9, "fr", "channel_forbidden", ("a",), 2, at.replace(minute=50)).nonce
    assert notice.nonce != AdminNotice(1, 9, "fr", "channel_missing", ("a",), 2, at).nonce
    assert notice.nonce != AdminNotice(1, 9, "fr", "channel_forbidden", ("a",), 2, at.replace(hour=13)).nonce
    assert len(notice.nonce) <= 25 and notice.nonce != gap.nonce
