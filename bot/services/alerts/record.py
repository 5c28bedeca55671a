"""Writing what a poll found, in ONE transaction.

Seen releases and the deliveries they caused are written together: a crash can never
leave a release marked seen without its pending delivery (it would never be posted) nor
a delivery without the release marked seen (it would be matched again: harmless, the
unique (alert, info hash) key makes the second insert a no-op).

Inserts are "insert or ignore" so that two writers (the poller and ``/alert add``, or two
processes during a shard move) racing on the same release both succeed and leave one row.
The statement is chosen by dialect: SQLite and PostgreSQL both spell it
``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Insert

from bot.db.advisory import NS_PRUNE, try_xact_lock
from bot.db.models import Alert, Delivery, DeliveryStatus, GuildSettings, SeenRelease, Watch
from bot.lacale.models import Torrent
from bot.states import PollOutcome


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A match to record: PENDING (to post) or BASELINE (existed when the alert was made).
    An alert's post has ``alert_id`` and ``channel_id``; a member's DM (:meth:`dm`) has
    ``user_id``, the ``watch_id`` that matched and the watch's server in ``guild_id``
    (a member's personal poll records DMs for watches of several servers)."""

    alert_id: int | None
    channel_id: int
    torrent: Torrent
    status: str = DeliveryStatus.PENDING
    #: In an age-restricted category (see :mod:`~bot.services.alerts.destinations`).
    age_restricted: bool = False
    watch_id: int | None = None
    user_id: int | None = None
    guild_id: int | None = None

    @classmethod
    def dm(cls, watch_id: int, user_id: int, guild_id: int, torrent: Torrent) -> NewDelivery:
        return cls(None, 0, torrent, watch_id=watch_id, user_id=user_id, guild_id=guild_id)


def release_payload(torrent: Torrent) -> dict[str, Any]:
    """The release as La Cale described it, to rebuild the card after it left the page."""
    return torrent.model_dump(mode="json", by_alias=True)


def insert_ignore(session: AsyncSession, table: Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` in the session's dialect."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"insert-or-ignore is not written for {dialect}")


async def insert_seen(session: AsyncSession, guild_id: int, torrents: Iterable[Torrent], now: datetime) -> int:
    rows = _seen_rows(guild_id, torrents, now)
    if rows:
        await session.execute(insert_ignore(session, SeenRelease.__table__), rows)  # type: ignore[arg-type]
    return len(rows)


async def insert_deliveries(
    session: AsyncSession, guild_id: int, deliveries: Sequence[NewDelivery], now: datetime
) -> int:
    """Rows in the given order (callers give oldest first: the sender posts by id)."""
    rows = _delivery_rows(guild_id, deliveries, now)
    if rows:
        await session.execute(insert_ignore(session, Delivery.__table__), rows)  # type: ignore[arg-type]
    return len(rows)


async def mark_matched(session: AsyncSession, alert_ids: Sequence[int], now: datetime) -> None:
    """``last_match_at``; ``updated_at`` kept as it is (it versions the alert's criteria:
    a match is not an edit, and must not make the poller reload the alert)."""
    await session.execute(
        update(Alert)
        .where(Alert.id.in_(list(alert_ids)))
        .values(last_match_at=now, updated_at=Alert.updated_at)
        .execution_options(synchronize_session=False)
    )


async def mark_watches_matched(session: AsyncSession, watch_ids: Sequence[int], now: datetime) -> None:
    """``last_match_at`` of watches, their version (``updated_at``) unchanged."""
    await session.execute(
        update(Watch)
        .where(Watch.id.in_(list(watch_ids)))
        .values(last_match_at=now, updated_at=Watch.updated_at)
        .execution_options(synchronize_session=False)
    )


async def record_outcomes(session: AsyncSession, outcomes: Sequence[tuple[int, datetime, PollOutcome]]) -> None:
    """Many quiet polls' outcomes in one executemany."""
    table = GuildSettings.__table__
    await session.execute(
        update(table)  # type: ignore[arg-type]
        .where(table.c.guild_id == bindparam("gid"))
        .values(last_poll_at=bindparam("at"), last_poll_outcome=bindparam("outcome")),
        [{"gid": g, "at": at, "outcome": outcome} for g, at, outcome in outcomes],
    )


async def prune(session: AsyncSession, *, cutoff: datetime) -> tuple[int, int]:
    """Forget deliveries and seen releases recorded before ``cutoff``.

    Pending deliveries are never pruned (they are owed). Matching ignores releases
    published before the same cutoff, so a pruned release can never come back as new.

    Every process runs this; on PostgreSQL only one at a time does the work (a lock tried,
    never waited for: the others have nothing to add and return (0, 0) at once instead of
    queueing behind the same rows' locks). The lock ends with ``session``'s transaction.
    """
    if not await try_xact_lock(session, NS_PRUNE):
        return 0, 0
    deliveries = await session.execute(
        delete(Delivery)
        .where(Delivery.created_at < cutoff, Delivery.status != DeliveryStatus.PENDING)
        .execution_options(synchronize_session=False)
    )
    seen = await session.execute(
        delete(SeenRelease).where(SeenRelease.seen_at < cutoff).execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], deliveries).rowcount or 0, cast(CursorResult[Any], seen).rowcount or 0


@dataclass(slots=True)
class RecordEntry:
    """One poll's result as rows (plain values: no parsed release is kept alive while
    the batch waits, which keeps the garbage collector's work small)."""

    guild_id: int
    seen_rows: list[dict[str, Any]]
    delivery_rows: list[dict[str, Any]]
    matched: list[int]
    now: datetime
    outcome: PollOutcome
    done: asyncio.Future[None] | None = None
    matched_watches: list[int] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        guild_id: int,
        *,
        seen: Iterable[Torrent],
        deliveries: Sequence[NewDelivery],
        now: datetime,
        outcome: PollOutcome,
    ) -> RecordEntry:
        pending = [d for d in deliveries if d.status == DeliveryStatus.PENDING]
        matched = sorted({d.alert_id for d in pending if d.alert_id is not None})
        entry = cls(
            guild_id, _seen_rows(guild_id, seen, now), _delivery_rows(guild_id, deliveries, now), matched, now, outcome
        )
        entry.matched_watches = sorted({d.watch_id for d in pending if d.watch_id is not None})
        return entry


class Recorder:
    """Polls' results written together: one transaction for several servers.

    Each statement costs a round trip to the database thread whatever its size, and a
    thousand servers polled a minute would otherwise cost a thousand transactions of five
    statements. A poll hands over its result and waits for the commit (it must not
    believe a release recorded before it is); the first waiting poll starts a short
    timer, and the batch is written when it rings or when ``max_batch`` polls are
    waiting. Each server's seen releases and deliveries still commit together (a batch
    is one transaction). Quiet polls only note their outcome, written with the next batch
    or by :meth:`flush`.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, max_delay: float = 1.0, max_batch: int = 100
    ) -> None:
        self._sessions = sessions
        self._max_delay = max_delay
        self._max_batch = max(1, max_batch)
        self._waiting: list[RecordEntry] = []
        self._outcomes: dict[int, tuple[datetime, PollOutcome]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()
        self._writes: set[asyncio.Task[None]] = set()
        #: Transactions committed (for the benchmark).
        self.transactions = 0

    async def record(
        self,
        guild_id: int,
        *,
        seen: Iterable[Torrent],
        deliveries: Sequence[NewDelivery],
        now: datetime,
        outcome: PollOutcome,
    ) -> None:
        """Returns once committed; raises what the transaction raised."""
        await self.commit(RecordEntry.of(guild_id, seen=seen, deliveries=deliveries, now=now, outcome=outcome))

    async def commit(self, entry: RecordEntry) -> None:
        entry.done = asyncio.get_running_loop().create_future()
        self._waiting.append(entry)
        if len(self._waiting) >= self._max_batch:
            self._write_now()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_delay, self._write_now)
        await entry.done

    def note_outcome(self, guild_id: int, now: datetime, outcome: PollOutcome) -> None:
        self._outcomes[guild_id] = (now, outcome)

    async def flush(self) -> None:
        """Write everything waiting now (end of a cycle, shutdown)."""
        if self._waiting or self._outcomes:
            self._write_now()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def _write_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        outcomes, self._outcomes = self._outcomes, {}
        task = asyncio.ensure_future(self._write(batch, outcomes))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, batch: list[RecordEntry], outcomes: dict[int, tuple[datetime, PollOutcome]]) -> None:
        try:
            async with self._lock:  # one writer at a time: SQLite has one anyway
                async with self._sessions.begin() as session:
                    seen_rows: list[dict[str, Any]] = []
                    delivery_rows: list[dict[str, Any]] = []
                    matched: dict[int, datetime] = {}
                    matched_watches: dict[int, datetime] = {}
                    for entry in batch:
                        seen_rows += entry.seen_rows
                        delivery_rows += entry.delivery_rows
                        matched.update(dict.fromkeys(entry.matched, entry.now))
                        matched_watches.update(dict.fromkeys(entry.matched_watches, entry.now))
                        outcomes[entry.guild_id] = (entry.now, entry.outcome)
                    if seen_rows:
                        await session.execute(insert_ignore(session, SeenRelease.__table__), seen_rows)  # type: ignore[arg-type]
                    if delivery_rows:
                        await session.execute(insert_ignore(session, Delivery.__table__), delivery_rows)  # type: ignore[arg-type]
                    if matched:
                        await mark_matched(session, sorted(matched), max(matched.values()))
                    if matched_watches:
                        await mark_watches_matched(session, sorted(matched_watches), max(matched_watches.values()))
                    if outcomes:
                        await record_outcomes(session, [(g, at, o) for g, (at, o) in outcomes.items()])
                self.transactions += 1
        except BaseException as exc:
            for entry in batch:
                if entry.done is not None and not entry.done.done():
                    entry.done.set_exception(exc if isinstance(exc, Exception) else RuntimeError("write cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        for entry in batch:
            if entry.done is not None and not entry.done.done():
                entry.done.set_result(None)


def _seen_rows(guild_id: int, torrents: Iterable[Torrent], now: datetime) -> list[dict[str, Any]]:
    return [
        {"guild_id": guild_id, "info_hash": t.info_hash, "pub_date": t.pub_date, "seen_at": now}
        for t in {t.info_hash: t for t in torrents}.values()
    ]


def _delivery_rows(guild_id: int, deliveries: Sequence[NewDelivery], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "alert_id": d.alert_id,
            "watch_id": d.watch_id,
            "user_id": d.user_id,
            "guild_id": d.guild_id if d.guild_id is not None else guild_id,
            "channel_id": d.channel_id,
            "info_hash": d.torrent.info_hash,
            "release": release_payload(d.torrent),
            "pub_date": d.torrent.pub_date,
            "status": d.status,
            "created_at": now,
            "attempts": 0,
            "age_restricted": d.age_restricted,
        }
        for d in deliveries
    ]
