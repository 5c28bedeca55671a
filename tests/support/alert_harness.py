"""The real alert pipeline (fetch, match, record, deliver, scheduler) wired against the fake
La Cale and a real database, with a recording Discord stand-in. Used by the pipeline
tests and the benchmark."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.criteria import Criteria
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_database
from bot.db.models import Alert, Delivery, GuildSettings
from bot.services.alerts.deliver import (
    AdminNotice,
    ChannelUnavailable,
    DeliverySender,
    GapNotice,
    PostError,
    ReleasePost,
)
from bot.services.alerts.fetch import SiteMeta
from bot.services.alerts.pipeline import AlertPipeline
from bot.services.alerts.poll import GuildPoller
from bot.services.alerts.scheduler import AlertScheduler
from bot.services.alerts.service import AlertService, AlertSpec
from bot.services.guilds import GuildService
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.vault import KeyVault
from bot.services.watches import WatchService
from tests.fakes.lacale import FakeLaCale
from tests.support.postgres import empty_public_schema

SECRET = b"0" * 32


@dataclass
class Message:
    id: int
    post: ReleasePost

    @property
    def titles(self) -> list[str]:
        return [r.release["title"] for r in self.post.releases]


@dataclass
class RecordingPoster:
    """Discord as the sender sees it: keeps every message, and like Discord drops a re-send
    with a nonce it already accepted in that channel (returning the first message).

    ``fail[channel_id]`` = an exception to raise for that channel; ``crash_after_accept``
    makes the next send succeed on "Discord" and then raise CancelledError, as if the
    process died before hearing the answer."""

    messages: list[Message] = field(default_factory=list)
    gap_notices: list[GapNotice] = field(default_factory=list)
    admin_notices: list[AdminNotice] = field(default_factory=list)
    fail: dict[int, PostError] = field(default_factory=dict)
    #: ``fail_dm[user_id]``: an exception to raise for a DM to that member.
    fail_dm: dict[int, PostError] = field(default_factory=dict)
    crash_after_accept: int = 0
    sends: int = 0
    #: ``time.monotonic()`` of every release post request (the sender's pace).
    times: list[float] = field(default_factory=list)
    _nonces: dict[tuple[int, str], int] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1000))

    async def send_releases(self, post: ReleasePost) -> int:
        self.sends += 1
        self.times.append(time.monotonic())
        error = self.fail_dm.get(post.user_id) if post.user_id is not None else self.fail.get(post.channel_id)
        if error is not None:
            raise error
        existing = self._nonces.get((post.channel_id, post.nonce))
        if existing is not None:
            return existing
        message = Message(next(self._ids), post)
        self.messages.append(message)
        self._nonces[(post.channel_id, post.nonce)] = message.id
        if self.crash_after_accept:
            self.crash_after_accept -= 1
            raise asyncio.CancelledError
        return message.id

    async def send_gap_notice(self, notice: GapNotice) -> None:
        self.gap_notices.append(notice)

    async def notify_admins(self, notice: AdminNotice) -> None:
        self.admin_notices.append(notice)

    def in_channel(self, channel_id: int) -> list[Message]:
        return [m for m in self.messages if m.post.channel_id == channel_id and m.post.user_id is None]

    def to_member(self, user_id: int) -> list[Message]:
        """Direct messages to a member (their watches)."""
        return [m for m in self.messages if m.post.user_id == user_id]

    def posted_titles(self, channel_id: int | None = None) -> list[str]:
        return [t for m in self.messages if channel_id is None or m.post.channel_id == channel_id for t in m.titles]


def forbid(channel_id: int) -> ChannelUnavailable:
    return ChannelUnavailable(missing=False, detail="403 Missing Access")


@dataclass
class Pipeline:
    fake: FakeLaCale
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    access: LaCaleAccess
    vault: KeyVault
    guilds: GuildService
    poster: RecordingPoster
    built: AlertPipeline

    @property
    def site_meta(self) -> SiteMeta:
        return self.built.site_meta

    @property
    def poller(self) -> GuildPoller:
        return self.built.poller

    @property
    def sender(self) -> DeliverySender:
        return self.built.sender

    @property
    def scheduler(self) -> AlertScheduler:
        return self.built.scheduler

    @property
    def alerts(self) -> AlertService:
        return self.built.alerts

    @property
    def watches(self) -> WatchService:
        return self.built.watches

    def restart(self) -> None:
        """A new process on the same database: fresh in-memory state everywhere."""
        meta = MetaCache(self.access)
        self.guilds = GuildService(self.sessions, self.vault, self.access, meta)
        self.built = _build(self.sessions, self.vault, self.access, self.guilds, SiteMeta(meta), self.poster)

    async def add_guild(self, guild_id: int, key: str | None = None, *, locale: str = "en") -> None:
        await self.guilds.register_guild_key(guild_id, key or self.fake.default_key, 1)
        async with self.sessions.begin() as session:
            row = await session.get(GuildSettings, guild_id)
            assert row is not None
            row.locale = locale

    async def add_alert(
        self,
        guild_id: int,
        name: str,
        channel_id: int,
        *,
        backfill: int = 0,
        mention_role_id: int | None = None,
        **criteria: Any,
    ) -> int:
        """``criteria``: fields of :class:`~bot.criteria.Criteria` (``query="dune"``)."""
        spec = AlertSpec(
            name=name, channel_id=channel_id, criteria=Criteria(**criteria), mention_role_id=mention_role_id
        )
        result = await self.alerts.create(guild_id, spec, created_by=1, backfill=backfill)
        return result.alert.id

    async def cycle(self) -> Any:
        """One poll of every due server (no spreading), then one flush of the sender."""
        report = await self.scheduler.run_cycle(spread=0)
        await self.sender.flush()
        return report

    async def alert(self, alert_id: int) -> Alert:
        async with self.sessions() as session:
            alert = await session.get(Alert, alert_id)
            assert alert is not None
            return alert

    async def deliveries(self) -> list[Delivery]:
        async with self.sessions() as session:
            return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())

    async def settings(self, guild_id: int) -> GuildSettings:
        async with self.sessions() as session:
            row = await session.get(GuildSettings, guild_id)
            assert row is not None
            return row


def _build(
    sessions: async_sessionmaker[AsyncSession],
    vault: KeyVault,
    access: LaCaleAccess,
    guilds: GuildService,
    site_meta: SiteMeta,
    poster: RecordingPoster,
) -> AlertPipeline:
    """The production builder; only the recorder gathers writes for less long (tests run
    cycles back to back) and the scheduler runs fewer polls at once."""
    return AlertPipeline.build(
        sessions=sessions,
        vault=vault,
        access=access,
        guilds=guilds,
        site_meta=site_meta,
        poster=poster,
        interval=60.0,
        concurrency=4,
        record_delay=0.01,
        record_batch=4,
    )


@asynccontextmanager
async def pipeline(database_url: str, fake: FakeLaCale, *, migrate: bool = True) -> AsyncIterator[Pipeline]:
    engine = create_engine(database_url)
    if migrate:
        await upgrade_database(engine)
    sessions = create_sessionmaker(engine)
    http = aiohttp.ClientSession()
    try:
        access = LaCaleAccess(http, fake.base_url, search_interval=0.0, backoff_base=0.001, max_retries=1, timeout=5.0)
        vault = KeyVault(__import__("base64").urlsafe_b64encode(SECRET))
        meta = MetaCache(access)
        guilds = GuildService(sessions, vault, access, meta)
        poster = RecordingPoster()
        built = _build(sessions, vault, access, guilds, SiteMeta(meta), poster)
        yield Pipeline(fake, engine, sessions, access, vault, guilds, poster, built)
    finally:
        await http.close()
        await engine.dispose()


@pytest.fixture
async def lacale() -> AsyncIterator[FakeLaCale]:
    """The fake La Cale (import it into a test module to use it as a fixture)."""
    async with FakeLaCale() as fake:
        yield fake


@asynccontextmanager
async def sqlite_pipeline(tmp_path: Path, fake: FakeLaCale, guild_id: int) -> AsyncIterator[Pipeline]:
    """A pipeline on a new SQLite file in ``tmp_path``, with the server ``guild_id``."""
    async with pipeline(f"sqlite+aiosqlite:///{tmp_path / 'vigie.sqlite3'}", fake) as built:
        await built.add_guild(guild_id)
        yield built


@asynccontextmanager
async def postgres_pipeline(url: str, fake: FakeLaCale, guild_id: int) -> AsyncIterator[Pipeline]:
    """A pipeline on the tests' PostgreSQL (its schema emptied first), with the server
    ``guild_id``."""
    engine = create_engine(url)
    await empty_public_schema(engine)
    await engine.dispose()
    async with pipeline(url, fake) as built:
        await built.add_guild(guild_id)
        yield built
