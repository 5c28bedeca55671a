"""Which slot of the cluster this process holds, fenced by PostgreSQL.

A *slot* ``k`` of ``CLUSTER_COUNT`` is the right to run the shards ``{s : s % CLUSTER_COUNT
== k}`` and their servers' work (see :mod:`bot.cluster.ownership`). It is a PostgreSQL
*session* advisory lock ``(NS_SLOT, k)`` held by one dedicated connection for the process's
whole life, taken **before** the gateway connects:

- the server releases it the moment that connection dies (a process killed with SIGKILL:
  a standby takes its slot within one retry, about half a second);
- a process that finds no free slot waits as a hot standby (logged in, database migrated)
  and retries every ``retry`` seconds;
- the connection is the fence: if it is lost (``pg_terminate_backend``, a network cut, a
  database restart) another process may take the slot at once, so this one stops all work
  at once and exits with ExitCode.DATABASE for its supervisor to restart it (fail-stop).
  The connection also sets ``idle_session_timeout`` (a lease): a process frozen or cut off
  from the database without the server noticing loses its slot after ``lease`` seconds,
  while its own watchdog has stopped it well before (``ping_every + ping_timeout``).

The same connection holds a *shared* lock ``(NS_LAYOUT, code of (SHARD_COUNT,
CLUSTER_COUNT))``: every process of one layout holds it together, and a process started
with another layout while they run sees it in ``pg_locks`` and refuses to start. Checking
and taking happen under one transaction lock (``NS_START``) so that two processes with
different layouts starting at once cannot both pass.

On SQLite there is one process by definition: slot 0 of 1, no lock (``standalone``).
Nothing here imports discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.cluster.ownership import Ownership
from bot.db.advisory import HELD_BY_ME, LOCKS_IN_NAMESPACE, NS_LAYOUT, NS_SLOT, NS_START
from bot.exit_codes import ExitCode

log = logging.getLogger("vigie.cluster")

#: Standby retry period: a freed slot is taken within this (the design note measured 9 ms
#: for the server to free a killed holder's lock).
RETRY_SECONDS = 0.5
#: The watchdog's period and how long a ping may take before the fence counts as lost.
PING_EVERY = 2.0
PING_TIMEOUT = 5.0
#: Server-side lease (``idle_session_timeout``): well above PING_EVERY + PING_TIMEOUT, so a
#: process always fences itself before the server frees its slot for someone else.
LEASE_SECONDS = 20


class LayoutMismatch(Exception):
    """Another running process uses a different SHARD_COUNT/CLUSTER_COUNT; ``str()`` is
    the one line for the operator (``vigie`` exits with ExitCode.USAGE)."""


@dataclass(frozen=True, slots=True)
class Layout:
    """How the bot is cut: the same on every process. ``shard_count`` None: Discord's
    recommendation (one process only)."""

    shard_count: int | None
    cluster_count: int = 1

    @property
    def code(self) -> int:
        """Both numbers in one positive 32-bit lock key (SHARD_COUNT ≤ 32767 by the settings)."""
        return ((self.shard_count or 0) << 16) | self.cluster_count

    @classmethod
    def from_code(cls, code: int) -> Layout:
        return cls(code >> 16 or None, code & 0xFFFF)

    def describe(self) -> str:
        shards = f"SHARD_COUNT={self.shard_count}" if self.shard_count else "SHARD_COUNT unset"
        return f"{shards}, CLUSTER_COUNT={self.cluster_count}"


def fail_stop(reason: str) -> None:
    """Stop everything now: no post, no answer, no poll after this. A graceful close would
    keep working for seconds while another process may already run the same shards; the
    outbox and Discord's nonces make an abrupt stop safe (it is what SIGKILL does)."""
    # Printed, not logged: the supervisor's log must carry it even if logging is broken.
    print(  # noqa: T201
        f"vigie: database: {reason}; stopping now so that the supervisor restarts this process",
        file=sys.stderr,
        flush=True,
    )
    for handler in logging.getLogger().handlers:
        # A broken log handler must not keep us running.
        with contextlib.suppress(Exception):
            handler.flush()
    os._exit(ExitCode.DATABASE)


class ClusterMembership:
    """What ``bot.cluster`` is: this process's slot and what it owns.

    ``ownership`` says which servers are this process's; it is meaningful once
    ``slot_held`` is True (before that, a standby shows the slot it waits for)."""

    def __init__(self, layout: Layout, *, slot: int = 0, held: bool = False, keeper: SlotKeeper | None = None) -> None:
        self.layout = layout
        self.slot = slot
        self._held = held
        self.keeper = keeper
        self.ownership = Ownership(layout.shard_count or layout.cluster_count, layout.cluster_count, slot)

    @classmethod
    def standalone(cls, shard_count: int | None = None) -> ClusterMembership:
        """One process owning everything (SQLite): slot 0 of 1, held, nothing to lock."""
        return cls(Layout(shard_count, 1), slot=0, held=True)

    @classmethod
    def not_a_member(cls) -> ClusterMembership:
        """A one-shot tool (``vigie sync``): owns nothing, runs no background work."""
        return cls(Layout(None, 1), slot=0, held=False)

    @property
    def slot_held(self) -> bool:
        if self.keeper is not None:
            return self._held and self.keeper.alive
        return self._held

    @property
    def fenced(self) -> bool:
        """The slot is a PostgreSQL lock (other processes may exist)."""
        return self.keeper is not None

    def use_shard_count(self, shard_count: int) -> None:
        """SHARD_COUNT unset: Discord's recommendation, learned once logged in (one process
        owns every shard then, so only the shard list changes)."""
        self.ownership = Ownership(shard_count, self.layout.cluster_count, self.slot)

    async def take_slot(self, wanted: int | None) -> int:
        """Hold a slot (waiting as a standby when none is free); returns its number."""
        if self.keeper is None:
            self._held = True
            return self.slot
        self.slot = await self.keeper.take_slot(wanted)
        self.ownership = Ownership(self.ownership.shard_count, self.layout.cluster_count, self.slot)
        self._held = True
        return self.slot

    async def close(self) -> None:
        """Give the slot up (the process is stopping: its work has ended)."""
        self._held = False
        if self.keeper is not None:
            await self.keeper.close()


def connect_arguments(database_url: str) -> tuple[list[Any], dict[str, Any]]:
    """asyncpg.connect's arguments for a ``postgresql+asyncpg://`` URL, as SQLAlchemy
    derives them for its own pool (same host, credentials, ssl and other query options)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(database_url, poolclass=NullPool)
    args, kwargs = engine.dialect.create_connect_args(make_url(database_url))
    for adapter_only in ("async_creator_fn", "prepared_statement_cache_size", "prepared_statement_name_func"):
        kwargs.pop(adapter_only, None)
    return list(args), dict(kwargs)


class SlotKeeper:
    """The dedicated PostgreSQL connection holding the layout lock and (once taken) a slot,
    and its watchdog. ``on_lost(reason)`` is called once if the connection or a lock is
    lost (default: :func:`fail_stop`)."""

    def __init__(
        self,
        database_url: str,
        layout: Layout,
        *,
        on_lost: Callable[[str], None] = fail_stop,
        retry: float = RETRY_SECONDS,
        ping_every: float = PING_EVERY,
        ping_timeout: float = PING_TIMEOUT,
        lease: int = LEASE_SECONDS,
    ) -> None:
        self.database_url = database_url
        self.layout = layout
        self._on_lost = on_lost
        self._retry = retry
        self._ping_every = ping_every
        self._ping_timeout = ping_timeout
        self._lease = lease
        self._conn: Any = None  # asyncpg.Connection
        self._use = asyncio.Lock()  # one query at a time on the connection
        self._watchdog: asyncio.Task[None] | None = None
        self._waiting: asyncio.Task[Any] | None = None
        self._closing = False
        self._lost = False
        self.slot: int | None = None

    @property
    def alive(self) -> bool:
        return self._conn is not None and not self._lost and not self._closing

    async def open(self) -> None:
        """Connect, check the layout against the running processes and join it.
        Raises LayoutMismatch (the connection is closed then)."""
        import asyncpg

        args, kwargs = connect_arguments(self.database_url)
        kwargs.setdefault("timeout", 10)
        self._conn = await asyncpg.connect(*args, **kwargs)
        try:
            await self._conn.execute("SET application_name = 'vigie cluster slot'")
            try:  # PostgreSQL 14+: the server frees a silent holder's locks (see module doc)
                await self._conn.execute(f"SET idle_session_timeout = '{int(self._lease)}s'")
            except asyncpg.PostgresError:
                log.info("PostgreSQL before 14: no idle_session_timeout lease on the slot connection")
            await self._join_layout()
        except BaseException:
            await self._conn.close()
            self._conn = None
            raise
        self._conn.add_termination_listener(self._terminated)
        self._watchdog = asyncio.create_task(self._watch(), name="cluster-slot-watchdog")

    async def _join_layout(self) -> None:
        conn = self._conn
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", NS_START)
            others = {
                row["key"]
                for row in await conn.fetch(LOCKS_IN_NAMESPACE, NS_LAYOUT)
                if row["granted"] and row["key"] != self.layout.code
            }
            if others:
                theirs = ", ".join(sorted(Layout.from_code(code).describe() for code in others))
                raise LayoutMismatch(
                    f"other Vigie processes on this database run with {theirs}, this one with "
                    f"{self.layout.describe()}: every process must use the same values (stop them all to change the layout)"
                )
            # Session level, although taken inside a transaction: it outlives the commit.
            await conn.execute("SELECT pg_advisory_lock_shared($1, $2)", NS_LAYOUT, self.layout.code)

    async def take_slot(self, wanted: int | None) -> int:
        """Slot ``wanted``, or the first free one when None; waits as a standby."""
        candidates = list(range(self.layout.cluster_count)) if wanted is None else [wanted]
        # close() ends a standby's wait by cancelling it (the process is stopping).
        self._waiting = asyncio.current_task()
        waiting_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            for slot in candidates:
                async with self._use:
                    self._check_alive()
                    taken = await self._conn.fetchval(
                        "SELECT pg_try_advisory_lock($1, $2)", NS_SLOT, slot, timeout=self._ping_timeout
                    )
                if taken:
                    self._waiting = None
                    self.slot = slot
                    if waiting_since is not None:
                        log.info("took cluster slot %d after %.1f s as a standby", slot, loop.time() - waiting_since)
                    return slot
            if waiting_since is None:
                waiting_since = loop.time()
                which = f"slot {wanted} is" if wanted is not None else f"all {self.layout.cluster_count} slots are"
                log.info(
                    "%s held by other processes: waiting as a hot standby (retrying every %.1f s)", which, self._retry
                )
            await asyncio.sleep(self._retry)

    def keep_running_at_close(self) -> None:
        """The watchdog keeps fencing while the bot closes (the close cancels every other
        task running Vigie's code first; see bot/app.py ``_keep_current_task``)."""
        if self._watchdog is not None:
            self._watchdog._vigie_keep = True  # type: ignore[attr-defined]

    def _check_alive(self) -> None:
        if self._lost or self._conn is None or self._conn.is_closed():
            raise ConnectionError("the cluster slot connection is closed")

    async def _watch(self) -> None:
        """Every ``ping_every`` s: the connection answers in time, and the slot's lock is
        still this backend's (a transaction-mode pooler would have moved us elsewhere)."""
        while not self._closing:
            await asyncio.sleep(self._ping_every)
            if self._closing:
                return
            try:
                async with self._use:
                    self._check_alive()
                    slot = self.slot
                    held = await self._conn.fetchval(
                        HELD_BY_ME,
                        NS_SLOT if slot is not None else NS_LAYOUT,
                        slot if slot is not None else self.layout.code,
                        timeout=self._ping_timeout,
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._closing:
                    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    self._lose(f"lost the connection that holds {self._what()} ({detail})")
                return
            if not held and not self._closing:
                self._lose(
                    f"{self._what()} is no longer held by this process's connection (a pooler in transaction mode, "
                    "such as PgBouncer's, breaks advisory locks: connect directly or in session mode)"
                )
                return

    def _what(self) -> str:
        return f"cluster slot {self.slot}" if self.slot is not None else "its place in the cluster"

    def _terminated(self, _connection: object) -> None:
        if not self._closing:
            self._lose(f"the database closed the connection that holds {self._what()}")

    def _lose(self, reason: str) -> None:
        if self._lost:
            return
        self._lost = True
        log.debug("fence lost: %s", reason)
        self._on_lost(reason)

    async def close(self) -> None:
        """Release everything by closing the connection (the server frees its locks)."""
        self._closing = True
        waiting, self._waiting = self._waiting, None
        if waiting is not None and waiting is not asyncio.current_task() and not waiting.done():
            waiting.cancel()
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        if self._conn is not None and not self._conn.is_closed():
            try:
                await asyncio.wait_for(self._conn.close(), 2)
            except Exception:
                self._conn.terminate()
        self._conn = None
