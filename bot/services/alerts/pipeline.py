"""The one place the alert pipeline is wired: recorder → poller → sender → scheduler, and
the :class:`AlertService` of ``/alert`` that wakes the sender.

The cog, the tests' harness and the benchmarks all build it here, so a new part, a new
link between parts or a new setting is added once and every user of the pipeline gets
it (three hand-written copies had already drifted apart: different ownership and post
pacing between the cog and the cluster benchmark).

:meth:`AlertPipeline.start` and :meth:`AlertPipeline.stop` own the two background tasks
(the sender and the scheduler); their owner (the cog) only calls them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cluster.ownership import Ownership
from bot.limits import WATCHES_PER_GUILD_DEFAULT, WATCHES_PER_MEMBER_DEFAULT
from bot.observability.metrics import Metrics
from bot.services.alerts.deliver import AlertPoster, DeliverySender, PostPacer
from bot.services.alerts.fetch import SiteMeta
from bot.services.alerts.poll import GuildPoller
from bot.services.alerts.record import Recorder
from bot.services.alerts.scheduler import TICK, AlertScheduler, Clock, Sleep
from bot.services.alerts.service import AlertService
from bot.services.guilds import GuildService
from bot.services.lacale_access import LaCaleAccess
from bot.services.vault import KeyVault
from bot.services.watches import WatchService

#: Starts a background task (``VigieBot.spawn`` keeps it referenced and cancels it at close).
Spawn = Callable[..., "asyncio.Task[Any]"]

SENDER_TASK = "alert-sender"
SCHEDULER_TASK = "alert-scheduler"


def _create_task(coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
    return asyncio.create_task(coro, name=name)


@dataclass(eq=False)
class AlertPipeline:
    """The wired parts. Build it with :meth:`build`; read the parts freely (tests drive
    ``scheduler.run_cycle`` and ``sender.flush`` themselves instead of starting it)."""

    site_meta: SiteMeta
    recorder: Recorder
    poller: GuildPoller
    sender: DeliverySender
    scheduler: AlertScheduler
    alerts: AlertService
    #: What ``/watch`` commands do (members' own alerts, by DM, on the same pipeline).
    watches: WatchService
    #: The whole bot's post budget (posts per second, ``DISCORD_REST_RATE``); each process
    #: paces its posts at its share. ``None``: no pacing beyond discord.py's rate limits.
    rest_rate: float | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        *,
        sessions: async_sessionmaker[AsyncSession],
        vault: KeyVault,
        access: LaCaleAccess,
        guilds: GuildService,
        site_meta: SiteMeta,
        poster: AlertPoster,
        interval: float,
        concurrency: int = 8,
        sender_concurrency: int = 8,
        retention_days: int = 90,
        ownership: Ownership = Ownership(),
        rest_rate: float | None = None,
        metrics: Metrics | None = None,
        record_delay: float = 1.0,
        record_batch: int = 100,
        tick: float = TICK,
        poll_deadline: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        watches_per_member: int = WATCHES_PER_MEMBER_DEFAULT,
        watches_per_guild: int = WATCHES_PER_GUILD_DEFAULT,
    ) -> AlertPipeline:
        """``interval``/``concurrency``: the scheduler's cycle and polls in flight;
        ``sender_concurrency``: channels posted to at once; ``record_delay``/``record_batch``:
        how long and how many polls' writes the recorder gathers into one transaction;
        ``tick``, ``poll_deadline``, ``clock`` and ``sleep``: see :class:`AlertScheduler`;
        ``watches_per_member``/``watches_per_guild``: the ``/watch`` limits."""
        metrics = metrics or Metrics()
        recorder = Recorder(sessions, max_delay=record_delay, max_batch=record_batch)
        sender = DeliverySender(sessions, poster, concurrency=sender_concurrency, metrics=metrics)
        poller = GuildPoller(
            sessions,
            site_meta,
            poster,
            mark_key_refused=guilds.mark_key_refused,
            recorder=recorder,
            retention_days=retention_days,
        )
        scheduler = AlertScheduler(
            sessions,
            vault,
            access,
            poller,
            sender,
            interval=interval,
            concurrency=concurrency,
            retention_days=retention_days,
            tick=tick,
            poll_deadline=poll_deadline,
            clock=clock,
            sleep=sleep,
            metrics=metrics,
        )
        # A new alert's backfill is recorded as pending: the sender posts it at once.
        alerts = AlertService(sessions, guilds, access, site_meta, on_pending=sender.wake)
        watches = WatchService(
            sessions,
            guilds,
            access,
            site_meta,
            per_member=watches_per_member,
            per_guild=watches_per_guild,
            on_pending=sender.wake,
        )
        pipeline = cls(site_meta, recorder, poller, sender, scheduler, alerts, watches, rest_rate=rest_rate)
        pipeline.set_ownership(ownership)
        return pipeline

    def set_ownership(self, ownership: Ownership) -> None:
        """This process's servers, for every part at once (the poller's check is the last
        guard behind the scheduler's SQL; the sender claims only these servers' posts), and
        its share of the post budget. Called again before :meth:`start` when the cluster
        slot is learnt late."""
        self.sender.ownership = self.poller.ownership = self.scheduler.ownership = ownership
        self.sender.pacer = PostPacer(self.rest_rate / ownership.cluster_count) if self.rest_rate is not None else None

    @property
    def ownership(self) -> Ownership:
        return self.scheduler.ownership

    def start(
        self, *, spawn: Spawn = _create_task, before_polls: Callable[[], Awaitable[object]] | None = None
    ) -> None:
        """Start the sender at once (pending posts of a previous run need only REST) and
        the scheduler after ``before_polls`` (the bot waits for the gateway, so that admin
        notices can find system channels). Returns without waiting for either."""
        if self.tasks:
            raise RuntimeError("the alert pipeline is already started")
        self.tasks = [
            spawn(self.sender.run(), name=SENDER_TASK),
            spawn(self._run_scheduler(before_polls), name=SCHEDULER_TASK),
        ]

    async def _run_scheduler(self, before_polls: Callable[[], Awaitable[object]] | None) -> None:
        if before_polls is not None:
            await before_polls()
        await self.scheduler.run()

    async def stop(self) -> None:
        """Cancel both tasks and wait for them (a poll in flight stops before the database
        sessions it uses are closed)."""
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
