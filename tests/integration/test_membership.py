"""Slots, standby, layout and the identify gate against a real PostgreSQL (in-process;
the same with real ``python -m bot`` processes is in test_processes.py)."""

from __future__ import annotations

import asyncio
import itertools
import time

import asyncpg
import pytest

from bot.cluster.identify import IdentifyGate, session_start_warning
from bot.cluster.membership import Layout, LayoutMismatch, SlotKeeper
from bot.db.advisory import NS_SLOT
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_database
from tests.support.fresh_db import fresh_db, plain, postgres_url  # noqa: F401  (fixtures)


def test_layout_code_round_trips() -> None:
    for layout in (Layout(None, 1), Layout(2, 2), Layout(32767, 40)):
        assert Layout.from_code(layout.code) == layout and 0 < layout.code < 2**31
    assert Layout(None, 1).describe() == "SHARD_COUNT unset, CLUSTER_COUNT=1"


async def test_slots_standby_and_takeover(fresh_db: str) -> None:
    lost: list[str] = []
    keepers = [SlotKeeper(fresh_db, Layout(2, 2), on_lost=lost.append, retry=0.1) for _ in range(3)]
    try:
        for keeper in keepers:
            await keeper.open()
        assert await keepers[0].take_slot(None) == 0
        assert await keepers[1].take_slot(None) == 1
        standby = asyncio.create_task(keepers[2].take_slot(None))
        await asyncio.sleep(0.5)
        assert not standby.done(), "a third process took a slot already held"
        started = time.monotonic()
        await keepers[1].close()  # the holder of slot 1 goes away
        assert await asyncio.wait_for(standby, 2) == 1
        print(f"standby took slot 1 in {time.monotonic() - started:.2f} s")
        # An explicit CLUSTER_ID waits for that slot even when another one frees.
        late = SlotKeeper(fresh_db, Layout(2, 2), on_lost=lost.append, retry=0.1)
        keepers.append(late)
        await late.open()
        wanted = asyncio.create_task(late.take_slot(1))
        await keepers[0].close()
        await asyncio.sleep(0.4)
        assert not wanted.done()
        await keepers[2].close()
        assert await asyncio.wait_for(wanted, 2) == 1
        assert lost == []
    finally:
        for keeper in keepers:
            await keeper.close()


async def test_another_layout_is_refused_while_one_runs(fresh_db: str) -> None:
    running = SlotKeeper(fresh_db, Layout(2, 2))
    await running.open()
    try:
        other = SlotKeeper(fresh_db, Layout(4, 2))
        with pytest.raises(LayoutMismatch) as refused:
            await other.open()
        assert str(refused.value) == (
            "other Vigie processes on this database run with SHARD_COUNT=2, CLUSTER_COUNT=2, this one with "
            "SHARD_COUNT=4, CLUSTER_COUNT=2: every process must use the same values (stop them all to change the layout)"
        )
        same = SlotKeeper(fresh_db, Layout(2, 2))
        await same.open()
        await same.close()
    finally:
        await running.close()
    # Nobody runs any more: the new layout may start.
    other = SlotKeeper(fresh_db, Layout(4, 2))
    await other.open()
    await other.close()


async def test_losing_the_slot_connection_calls_the_fence(fresh_db: str) -> None:
    lost: list[str] = []
    keeper = SlotKeeper(fresh_db, Layout(1, 1), on_lost=lost.append, ping_every=60)
    await keeper.open()
    try:
        assert await keeper.take_slot(None) == 0
        admin = await asyncpg.connect(plain(fresh_db))
        try:
            pids = await admin.fetch(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = $1 AND objid = 0", NS_SLOT
            )
            assert len(pids) == 1
            await admin.execute("SELECT pg_terminate_backend($1)", pids[0]["pid"])
        finally:
            await admin.close()
        for _ in range(50):
            if lost:
                break
            await asyncio.sleep(0.05)
        assert len(lost) == 1 and "cluster slot 0" in lost[0], lost
        assert not keeper.alive
    finally:
        await keeper.close()


async def test_identify_gate_spaces_one_bucket_across_processes(fresh_db: str) -> None:
    """Two processes' gates (two engines) on one database: logins of one bucket are at
    least ``spacing`` apart whichever process makes them; another bucket does not wait."""
    engines = [create_engine(fresh_db), create_engine(fresh_db)]
    try:
        await upgrade_database(engines[0])
        gates = [IdentifyGate(create_sessionmaker(e), spacing=1.0) for e in engines]
        returned: list[tuple[float, int]] = []

        async def login(gate: IdentifyGate, shard_id: int, max_concurrency: int) -> None:
            await gate.wait_turn(shard_id, max_concurrency)
            returned.append((time.monotonic(), shard_id))

        started = time.monotonic()
        # Shards 0, 2, 4, 6 share bucket 0 of max_concurrency 2; shard 1 is bucket 1.
        await asyncio.gather(
            login(gates[0], 0, 2),
            login(gates[1], 2, 2),
            login(gates[0], 4, 2),
            login(gates[1], 6, 2),
            login(gates[1], 1, 2),
        )
        bucket0 = sorted(t for t, shard in returned if shard % 2 == 0)
        gaps = [b - a for a, b in itertools.pairwise(bucket0)]
        assert all(gap >= 0.95 for gap in gaps), gaps
        assert next(t for t, shard in returned if shard == 1) - started < 0.9
    finally:
        for engine in engines:
            await engine.dispose()


def test_session_start_warning_when_logins_run_low() -> None:
    assert session_start_warning({"total": 1000, "remaining": 999, "reset_after": 1}, 4) is None
    line = session_start_warning({"total": 1000, "remaining": 80, "reset_after": 7_200_000}, 4)
    assert line is not None and "only 80 more gateway logins (of 1000" in line and "2.0 h" in line
    assert session_start_warning({"total": 1000, "remaining": 150, "reset_after": 60_000}, 100) is not None


async def test_watchdog_fences_when_the_lock_is_gone_but_the_connection_lives(fresh_db: str) -> None:
    """What a pooler does behind our back (``DISCARD ALL`` between clients, another backend
    in transaction mode): the connection answers but the slot is no longer ours."""
    lost: list[str] = []
    keeper = SlotKeeper(fresh_db, Layout(1, 1), on_lost=lost.append, ping_every=0.1)
    await keeper.open()
    try:
        assert await keeper.take_slot(None) == 0
        async with keeper._use:
            await keeper._conn.execute("SELECT pg_advisory_unlock_all()")
        for _ in range(40):
            if lost:
                break
            await asyncio.sleep(0.05)
        assert len(lost) == 1 and "cluster slot 0 is no longer held" in lost[0] and "PgBouncer" in lost[0], lost
    finally:
        await keeper.close()
