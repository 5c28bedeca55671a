"""When to poll whom. No matching, no recording: it wires fetch → match → record →
deliver (``GuildPoller.poll`` then ``DeliverySender.wake``) on a timetable.

- every ``interval`` seconds, each due server of this process's shards is polled once;
- the polls are spread evenly over the interval (server *i* of *n* starts at
  ``i·interval/n``) so La Cale sees a steady trickle, not a burst every minute;
- at most ``concurrency`` polls run at once; each key's own pace (2 s between searches,
  a pause after a 429) is kept by its limiter, so a slow or throttled key only delays
  its own server; polls search with priority over members' queued searches of the key;
- one slow poll never holds the others: each poll has a deadline (``poll_deadline``,
  half the interval and 10 s at least by default) counted from its start and moved on
  by each answer La Cale gives it, so a poll waiting for La Cale is abandoned (nothing
  recorded, retried at the next cycle, see :meth:`GuildPoller.poll`) while a gap's many
  targeted queries, answered one after the other, go on; and the timer does not wait for
  a cycle's slowest polls: the next cycle starts on time, skipping a server whose poll is
  still running at its turn;
- clock and sleep are injectable: tests and the benchmark run cycles without waiting
  (deadlines are real time: they are about La Cale keeping a poll waiting).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cluster.ownership import Ownership
from bot.db.types import utcnow
from bot.observability.metrics import Metrics
from bot.services.alerts import queries
from bot.services.alerts.deliver import DeliverySender
from bot.services.alerts.fetch import POLL_PROGRESS, CycleFetcher, PollProgress, key_id
from bot.services.alerts.poll import GuildJob, GuildPoller, PollResult
from bot.services.alerts.record import prune
from bot.services.lacale_access import LaCaleAccess
from bot.services.vault import KeyDecryptError, KeyVault
from bot.states import PollOutcome

log = logging.getLogger("vigie.alerts.scheduler")

Clock = Callable[[], float]

#: Shortest pause between two groups of poll starts (seconds).
TICK = 1.0
#: A poll may wait this fraction of the interval for an answer from La Cale...
POLL_DEADLINE_FRACTION = 0.5
#: ...but never less than this (a short interval must not cut a slow-but-working request).
POLL_DEADLINE_MIN = 10.0
Sleep = Callable[[float], Awaitable[object]]


def ownership_of_shards(shard_ids: list[int] | tuple[int, ...] | None, shard_count: int | None) -> Ownership:
    """The :class:`Ownership` of a process running ``shard_ids`` of ``shard_count``
    (discord.py's ``shard_ids``/``shard_count``; ``None`` means every shard). Without a
    cluster layout, the shards must be one cluster's share (``s % n == k``); any other
    subset cannot be told in SQL and is refused."""
    if shard_ids is None or not shard_count:
        return Ownership()
    wanted = tuple(sorted(set(shard_ids)))
    for clusters in range(1, shard_count + 1):
        for slot in range(clusters):
            candidate = Ownership(shard_count, clusters, slot)
            if candidate.shard_ids == wanted:
                return candidate
    raise ValueError(f"shards {list(wanted)} of {shard_count} are not one cluster's share (s % n == k)")


@dataclass(slots=True)
class CycleReport:
    guilds: int = 0
    requests: int = 0
    new_deliveries: int = 0
    #: Polls by outcome, keyed by the outcome's word (plain strings: logs and benchmark
    #: reports print them as words, not as enum members).
    outcomes: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0

    def count(self, outcome: PollOutcome) -> None:
        word = str(outcome)
        self.outcomes[word] = self.outcomes.get(word, 0) + 1


class _PollSlot:
    """One poll's place among the ``concurrency`` polls in flight. Given back when the
    poll stops asking La Cale (``fetched``) or ends, whichever comes first, once."""

    __slots__ = ("_released", "_semaphore", "answered")

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore = semaphore
        self._released = False
        #: Set once La Cale has answered all this poll will ask: its deadline stops there.
        self.answered = asyncio.Event()

    def release(self) -> None:
        self.answered.set()
        if not self._released:
            self._released = True
            self._semaphore.release()


@dataclass(slots=True)
class _Cycle:
    """A cycle whose polls are started: what finishing it needs."""

    report: CycleReport
    fetcher: CycleFetcher
    tasks: list[asyncio.Task[PollResult | None]]


class AlertScheduler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: KeyVault,
        access: LaCaleAccess,
        poller: GuildPoller,
        sender: DeliverySender | None,
        *,
        interval: float,
        concurrency: int = 8,
        ownership: Ownership = Ownership(),
        retention_days: int = 90,
        prune_every: float = 3600.0,
        tick: float = TICK,
        poll_deadline: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        now: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._access = access
        self._poller = poller
        self._sender = sender
        self.interval = interval
        self._concurrency = max(1, concurrency)
        #: This process's servers (set before :meth:`run` starts if learnt later).
        self.ownership = ownership
        self._retention = timedelta(days=retention_days)
        self._prune_every = prune_every
        self._tick = tick
        self._clock = clock
        self._sleep = sleep
        self._now = now
        self._last_prune: float | None = None
        self.last_report: CycleReport | None = None
        #: Seconds a poll may go without an answer from La Cale before it is abandoned.
        self.poll_deadline = (
            poll_deadline if poll_deadline is not None else max(POLL_DEADLINE_MIN, interval * POLL_DEADLINE_FRACTION)
        )
        # Shared by overlapping cycles: a previous cycle's last polls count against it.
        self._slots = asyncio.Semaphore(self._concurrency)
        #: Servers whose poll is running (a server is never polled twice at once).
        self._polling: set[int] = set()
        self._finishing: set[asyncio.Task[CycleReport]] = set()
        self._metrics = metrics or Metrics()

    async def run(self) -> None:
        """Cycles forever, one every ``interval``. The next cycle does not wait for the
        previous one's slowest polls (they finish, or are abandoned at their deadline, in
        the background); it waits only for the previous cycle to have started all of its
        polls, so two cycles never start polls at once."""
        try:
            while True:
                started = self._clock()
                try:
                    cycle = await self._start_cycle(None)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("alert cycle failed")
                else:
                    task = asyncio.create_task(self._finish_cycle(cycle), name="alert-cycle-end")
                    self._finishing.add(task)
                    task.add_done_callback(self._cycle_ended)
                try:
                    await self.prune_if_due()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("pruning old deliveries failed")
                await self._sleep(max(0.0, started + self.interval - self._clock()))
        finally:
            for task in list(self._finishing):
                task.cancel()
            if self._finishing:
                await asyncio.gather(*self._finishing, return_exceptions=True)

    def _cycle_ended(self, task: asyncio.Task[CycleReport]) -> None:
        self._finishing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("alert cycle failed", exc_info=task.exception())

    async def run_cycle(self, *, spread: float | None = None) -> CycleReport:
        """Poll every due server once, their starts spread over ``spread`` seconds
        (default: the interval); returns when all polls finished or were abandoned."""
        return await self._finish_cycle(await self._start_cycle(spread))

    async def _start_cycle(self, spread: float | None) -> _Cycle:
        """Start this cycle's polls, spread over ``spread`` seconds; returns once the last
        one is started."""
        report = CycleReport(started=self._clock())
        async with self._sessions() as session:
            due = await queries.due_guilds(session, ownership=self.ownership)
            # Members' personal watches: each member's key is a poll of its own (its own
            # pacing, its own page: what a server fetches is never read with their key).
            due += await queries.due_members(session, ownership=self.ownership)
        report.guilds = len(due)
        jobs: list[GuildJob] = []
        for guild in due:
            try:
                api_key = self._vault.decrypt(guild.api_key_encrypted)
            except KeyDecryptError:
                if guild.personal_user is not None:
                    log.error(
                        "member %s: personal key unreadable (SECRET_KEY changed?); not polled", guild.personal_user
                    )
                else:
                    log.error("guild %s: stored key unreadable (SECRET_KEY changed?); not polled", guild.guild_id)
                continue
            jobs.append(
                GuildJob(
                    guild.guild_id,
                    api_key,
                    guild.locale,
                    guild.log_channel_id,
                    guild.alerts_version,
                    personal_user=guild.personal_user,
                )
            )
        # Servers sharing a key are polled one after the other: their identical requests
        # are then answered from the fetcher's short memory.
        jobs.sort(key=lambda j: key_id(j.api_key))
        await self._poller.prepare(jobs)
        fetcher = CycleFetcher(self._access)
        window = self.interval if spread is None else spread
        step = window / len(jobs) if jobs else 0.0
        # Starts are grouped on ticks of at least ``tick`` seconds: still evenly spread (a
        # thousand servers a minute start sixteen by sixteen, every second), but the event
        # loop wakes up once per group instead of once per server: that costs about 40 %
        # less CPU than one start every 60 ms, measured on the benchmark.
        per_tick = max(1, int(self._tick / step)) if step > 0 else len(jobs) or 1
        tasks: list[asyncio.Task[PollResult | None]] = []
        try:
            for index, job in enumerate(jobs):
                delay = report.started + (index - index % per_tick) * step - self._clock()
                if delay > 0:
                    await self._sleep(delay)
                await self._slots.acquire()
                if job.guild_id in self._polling:
                    # Its previous poll is still running at its turn (a long gap being
                    # filled): that one goes on, this one is not started.
                    self._slots.release()
                    report.count(PollOutcome.STILL_POLLING)
                    continue
                slot = _PollSlot(self._slots)
                self._polling.add(job.guild_id)
                poll, progress = self._start_poll(job, fetcher, slot)
                task = asyncio.create_task(
                    self._watch_poll(job, poll, progress, slot), name=f"alert-poll-{job.guild_id}"
                )
                # A callback, not a ``finally``: it runs even for a task cancelled unstarted.
                task.add_done_callback(functools.partial(self._poll_ended_callback, poll, slot, job.guild_id))
                tasks.append(task)
        except BaseException:
            # Stopped while starting: the polls already started stop too.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            fetcher.close()
            raise
        return _Cycle(report, fetcher, tasks)

    async def _finish_cycle(self, cycle: _Cycle) -> CycleReport:
        """Wait for the cycle's polls (each bounded by its deadline), write what is left
        to write, report."""
        report = cycle.report
        try:
            results = await asyncio.gather(*cycle.tasks)
        except BaseException:
            for task in cycle.tasks:
                task.cancel()
            raise
        finally:
            cycle.fetcher.close()
        await self._poller.recorder.flush()
        for result in results:
            if result is None:
                continue
            report.count(result.outcome)
            report.new_deliveries += result.new_deliveries
        report.requests = cycle.fetcher.requests
        report.finished = self._clock()
        self.last_report = report
        self._metrics.cycle_done(report, results)
        log.info(
            "alert cycle: %d servers, %d La Cale requests, %d new deliveries, %.1f s, %s",
            report.guilds,
            report.requests,
            report.new_deliveries,
            report.finished - report.started,
            report.outcomes,
        )
        return report

    def _start_poll(
        self, job: GuildJob, fetcher: CycleFetcher, slot: _PollSlot
    ) -> tuple[asyncio.Task[PollResult], PollProgress]:
        """The poll itself, in a task of its own (so that it can be abandoned)."""
        progress = PollProgress()
        token = POLL_PROGRESS.set(progress)  # copied into the poll task's context
        try:
            # ``fetched``: the slot bounds La Cale requests in flight, so a poll waiting for
            # its batch to be written gives it back early; its deadline stops there too.
            poll = asyncio.create_task(
                self._poller.poll(job, fetcher, fetched=slot.release), name=f"alert-poll-{job.guild_id}-run"
            )
        finally:
            POLL_PROGRESS.reset(token)
        return poll, progress

    def _poll_ended_callback(
        self, poll: asyncio.Task[PollResult], slot: _PollSlot, guild_id: int, _task: asyncio.Task[object]
    ) -> None:
        self._poll_ended(poll, slot, guild_id)

    def _poll_ended(self, poll: asyncio.Task[PollResult], slot: _PollSlot, guild_id: int) -> None:
        if not poll.done():
            poll.cancel()
        slot.release()
        self._polling.discard(guild_id)

    async def _watch_poll(
        self, job: GuildJob, poll: asyncio.Task[PollResult], progress: PollProgress, slot: _PollSlot
    ) -> PollResult | None:
        """The poll's result within its deadline; ``None`` when it crashed."""
        try:
            result = await self._within_deadline(job, poll, progress, slot.answered)
            if result.new_deliveries and self._sender is not None:
                self._sender.wake()
            return result
        except asyncio.CancelledError:
            # The bot stops: the poll stops too, before the session it uses is closed.
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)
            raise
        except Exception:
            log.exception("guild %s: poll crashed", job.guild_id)
            return None

    async def _within_deadline(
        self, job: GuildJob, poll: asyncio.Task[PollResult], progress: PollProgress, answered: asyncio.Event
    ) -> PollResult:
        """The poll's result; or, once it has gone ``poll_deadline`` seconds without an
        answer from La Cale (and before it started writing), the poll cancelled and a
        "timeout" outcome."""
        while not answered.is_set():
            remaining = progress.last + self.poll_deadline - time.monotonic()
            if remaining <= 0:
                poll.cancel()
                await asyncio.gather(poll, return_exceptions=True)
                if poll.cancelled():
                    return self._poller.abandoned(job, time.monotonic() - progress.last)
                break  # it finished just before being cancelled: its result stands
            waiter = asyncio.ensure_future(answered.wait())
            try:
                await asyncio.wait({poll, waiter}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            if poll.done():
                break
        return await poll

    async def prune_if_due(self) -> None:
        now = self._clock()
        if self._last_prune is not None and now - self._last_prune < self._prune_every:
            return
        self._last_prune = now
        async with self._sessions.begin() as session:
            deliveries, seen = await prune(session, cutoff=self._now() - self._retention)
        if deliveries or seen:
            log.info("pruned %d deliveries and %d seen releases older than %s", deliveries, seen, self._retention)
        self._access.limiters.prune()
