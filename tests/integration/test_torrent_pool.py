"""bot.torrent_pool: .torrent files are read in worker processes (real ones, spawned), with
a time limit that kills the worker, one file in flight per member, and never in the event
loop's default executor (issue 9, item 5)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.errors import UserError
from bot.torrent_pool import TorrentPool, read_job, site_hash_job, source_fix_job
from bot.torrents import MAX_FILES, TorrentFileError, read_torrent
from tests.support.torrent_factory import make_torrent

pytestmark = pytest.mark.asyncio


def wait_for_file(path: str, limit: float) -> int:
    """A job that holds its worker until ``path`` exists (the test decides when)."""
    deadline = time.monotonic() + limit
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()


def gone(pid: int) -> bool:
    """The process ended (reaped, or a zombie waiting for its parent's thread to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.fixture
async def pool() -> AsyncIterator[TorrentPool]:
    pool = TorrentPool(workers=2, time_limit=60.0)
    yield pool
    pool.close()


async def test_torrents_are_read_in_another_process(pool: TorrentPool) -> None:
    data = make_torrent("Good.Release", source="lacale")
    info = await pool.run(read_job, data, 10 << 20, owner=1)
    assert info.name == "Good.Release" and info.info_hash == read_torrent(data).info_hash
    assert info.raw == b"", "the 10 MiB the caller already has are not sent back"
    pid = await pool.run(os.getpid, owner=1)
    assert pid != os.getpid() and pid in pool.worker_pids()


async def test_refusals_cross_the_process_boundary_with_their_reason(pool: TorrentPool) -> None:
    data = make_torrent("Pack", files=[(f"f{i}", 1) for i in range(MAX_FILES + 1)])
    with pytest.raises(TorrentFileError) as exc:
        await pool.run(read_job, data, 10 << 20, owner=1)
    assert (exc.value.reason, exc.value.limit) == ("too_many_files", MAX_FILES)
    # The worker that refused it is still there for the next file.
    assert (await pool.run(read_job, make_torrent("Next"), 10 << 20, owner=1)).name == "Next"


async def test_source_fix_and_site_hash_jobs(pool: TorrentPool) -> None:
    info = read_torrent(make_torrent("Unflagged", source=None))
    fixed = await pool.run(source_fix_job, info, owner=1)
    assert fixed.source == "lacale" and fixed.raw != info.raw
    assert await pool.run(site_hash_job, info, owner=1) == fixed.info_hash


async def test_a_job_over_its_time_limit_is_stopped_and_its_worker_killed(pool: TorrentPool, tmp_path: Path) -> None:
    release = tmp_path / "release"
    other = asyncio.create_task(pool.run(wait_for_file, str(release), 60.0, owner=2))
    while not pool.worker_pids():
        await asyncio.sleep(0.01)
    pool.time_limit = 0.5
    slow = asyncio.create_task(pool.run(time.sleep, 120, owner=1))
    while len(pool.worker_pids()) < 2:
        await asyncio.sleep(0.01)
    before = set(pool.worker_pids())
    with pytest.raises(UserError) as exc:
        await slow
    assert exc.value.key == "upload.torrent.timeout" and exc.value.values == {"seconds": "0.5"}
    assert pool.timeouts == 1
    killed = before - set(pool.worker_pids())
    assert len(killed) == 1, "exactly the worker that ran out of time is killed"
    (pid,) = killed
    for _ in range(500):
        if gone(pid):
            break
        await asyncio.sleep(0.01)
    assert gone(pid), "the worker still runs after its time limit"
    # The other member's job, in the other worker, was not disturbed.
    pool.time_limit = 60.0
    release.touch()
    assert await other in before
    # The slot gets a fresh worker.
    assert (await pool.run(read_job, make_torrent("After"), 10 << 20, owner=1)).name == "After"


async def test_one_file_in_flight_per_member(pool: TorrentPool, tmp_path: Path) -> None:
    release = tmp_path / "release"
    first = asyncio.create_task(pool.run(wait_for_file, str(release), 30.0, owner=111))
    await asyncio.sleep(0.05)
    assert pool.busy(111)
    with pytest.raises(UserError) as exc:
        await pool.run(read_job, make_torrent("Second"), 10 << 20, owner=111)
    assert exc.value.key == "upload.torrent.busy"
    # Keyed by member: another member is not refused, and is served by the other worker.
    other = await pool.run(read_job, make_torrent("Other.Member"), 10 << 20, owner=222)
    assert other.name == "Other.Member" and not first.done()
    release.touch()
    await first
    assert not pool.busy(111)
    assert (await pool.run(read_job, make_torrent("Third"), 10 << 20, owner=111)).name == "Third"


async def test_the_event_loops_default_executor_is_never_used(pool: TorrentPool) -> None:
    # aiohttp resolves host names in the loop's default executor: with it saturated (here
    # its only thread is blocked), torrents must still be read.
    loop = asyncio.get_running_loop()
    blocked = threading.Event()
    executor = ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(executor)
    try:
        occupied = loop.run_in_executor(None, blocked.wait, 60)
        info = await asyncio.wait_for(pool.run(read_job, make_torrent("Free"), 10 << 20, owner=1), 30)
        assert info.name == "Free" and not occupied.done()
    finally:
        blocked.set()
        executor.shutdown(wait=True)


async def test_a_worker_killed_while_idle_is_replaced(pool: TorrentPool) -> None:
    first = await pool.run(os.getpid, owner=1)
    os.kill(first, 9)  # the OOM killer, an operator...
    for _ in range(500):
        if gone(first):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # the pool's manager thread notices
    assert (await pool.run(read_job, make_torrent("Again"), 10 << 20, owner=1)).name == "Again"


async def test_close_kills_the_workers(pool: TorrentPool) -> None:
    await pool.run(read_job, make_torrent("One"), 10 << 20, owner=1)
    pids = pool.worker_pids()
    assert pids
    pool.close()
    for _ in range(500):
        if all(gone(pid) for pid in pids):
            break
        await asyncio.sleep(0.01)
    assert all(gone(pid) for pid in pids)
    with pytest.raises(RuntimeError):
        await pool.run(read_job, make_torrent("Two"), 10 << 20, owner=1)
