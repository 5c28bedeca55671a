"""Reading .torrent files in a small pool of worker processes, with a time limit and at
most one file in flight per member.

Why processes, and not ``asyncio.to_thread``:

* the default executor of the event loop is shared: aiohttp's DNS resolver runs
  ``getaddrinfo`` there. Six slow parses occupied it and the bot could open no connection
  at all (issue 9). This pool never touches it;
* a thread cannot be stopped, and it holds the GIL while torf works a byte at a time: the
  event loop itself slowed down. A process can be killed when its time is up, and runs
  at a lower priority (``nice``) so the bot's own process keeps the CPU it needs;
* the caps in :mod:`bot.torrents` keep any file under ~1 s of CPU; the time limit is the
  second line, for whatever they did not foresee.

Each slot is a one-worker ``ProcessPoolExecutor`` (``spawn``: forking a process that runs
an event loop and threads is unsafe), created on first use: a bot that never sees an
upload starts no process. A slot whose job ran out of time is killed and replaced; the
other slot's job is not disturbed. ``close()`` kills every worker at once (nothing they
do needs to be finished).

This module imports no more than :mod:`bot.torrents`: workers import it to run the jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Hashable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any, TypeVar

from bot.errors import UserError
from bot.torrents import (
    DEFAULT_MAX_BYTES,
    LACALE_SOURCE,
    TorrentInfo,
    has_lacale_source,
    read_torrent,
    set_source,
)

__all__ = ["TIME_LIMIT", "WORKERS", "TorrentPool", "read_job", "site_hash_job", "source_fix_job"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Worker processes: two, so a member's ordinary file is not queued behind another's
#: hostile one, and no more (each is a Python interpreter with torf, ~25 MiB).
WORKERS = 2

#: Seconds a job may run once it has a worker. The caps keep any file around half a second
#: of CPU (a second for the source-flag rewrite); the first job also pays the worker's start
#: (~0.3 s), and a niced worker on a busy machine gets the CPU last: wide margin.
TIME_LIMIT = 15.0

#: Scheduling priority of the workers: below the bot, which answers everyone else.
WORKER_NICE = 10


# ---------------------------------------------------------------------------------------
# Jobs (run in a worker; pickled by reference, so module-level functions)


def read_job(data: bytes, max_bytes: int) -> TorrentInfo:
    """:func:`read_torrent`, answered without the raw bytes: the caller has them, and
    sending 10 MiB back through a pipe is a copy for nothing."""
    return replace(read_torrent(data, max_bytes=max_bytes), raw=b"")


def source_fix_job(info: TorrentInfo) -> TorrentInfo:
    """The torrent with ``info.source = "lacale"``, read back. Without the flag La Cale
    adds it itself, which changes the info hash: the member's client would then seed a
    torrent the site does not know."""
    if has_lacale_source(info):
        return info
    cap = max(DEFAULT_MAX_BYTES, len(info.raw) + 4096)
    # ``info`` was read (and checked) already: set_source need not read it again.
    return read_torrent(set_source(info, LACALE_SOURCE, max_bytes=cap), max_bytes=cap)


def site_hash_job(info: TorrentInfo) -> str:
    """The info hash La Cale gives the torrent (its own once the source flag is set)."""
    return source_fix_job(info).info_hash


def _worker_start(nice: int) -> None:
    # Ctrl+C in a terminal reaches the whole process group: the bot shuts its workers
    # down itself, they need not print a KeyboardInterrupt each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice:
        with contextlib.suppress(OSError):  # not permitted here: run at normal priority
            os.nice(nice)


# ---------------------------------------------------------------------------------------
# The pool


class TorrentPool:
    """Runs the jobs above in worker processes (see the module docstring).

    :meth:`run` refuses a second job for the same ``owner`` (a member) while the first is
    in flight, waits for a free worker, and gives a job ``time_limit`` seconds once it has
    one. Keyed by member: members never wait on each other's limit.
    """

    def __init__(self, *, workers: int = WORKERS, time_limit: float = TIME_LIMIT, nice: int = WORKER_NICE) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self.time_limit = time_limit
        self._nice = nice
        #: Idle slots; None is a slot whose process is not started (or was killed).
        self._idle: list[ProcessPoolExecutor | None] = [None] * workers
        self._live: set[ProcessPoolExecutor] = set()
        self._free: asyncio.Semaphore | None = None
        self._owners: set[Hashable] = set()
        self._closed = False
        #: Jobs stopped at their time limit (for logs and tests).
        self.timeouts = 0

    def busy(self, owner: Hashable) -> bool:
        return owner in self._owners

    async def run(self, fn: Callable[..., T], /, *args: Any, owner: Hashable) -> T:
        """``fn(*args)`` in a worker.

        :raises UserError: ``upload.torrent.busy`` when ``owner`` already has a job in
            flight; ``upload.torrent.timeout`` when the job ran out of time (its worker is
            killed). The job's own exceptions (``TorrentFileError``...) pass through.
        """
        if self._closed:
            raise RuntimeError("the torrent pool is closed")
        # No await between the check and the claim: two commands cannot both pass.
        if owner in self._owners:
            raise UserError("upload.torrent.busy")
        self._owners.add(owner)
        try:
            if self._free is None:
                self._free = asyncio.Semaphore(self.workers)
            async with self._free:
                return await self._run_in_slot(fn, args)
        finally:
            self._owners.discard(owner)

    async def _run_in_slot(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        executor = self._idle.pop() or self._start()
        healthy = False
        try:
            try:
                submitted = executor.submit(fn, *args)
            except BrokenProcessPool:
                # Its worker died while idle (killed from outside): use a fresh one.
                self._kill(executor)
                executor = self._start()
                submitted = executor.submit(fn, *args)
            future = asyncio.wrap_future(submitted)
            done, _ = await asyncio.wait({future}, timeout=self.time_limit)
            if not done:
                future.cancel()
                self.timeouts += 1
                log.warning(
                    "torrent job %s stopped after %.0f s: worker killed", getattr(fn, "__name__", fn), self.time_limit
                )
                raise UserError("upload.torrent.timeout", seconds=f"{self.time_limit:g}")
            try:
                result = future.result()
            except BrokenProcessPool:
                log.error("torrent worker died during %s", getattr(fn, "__name__", fn))
                raise
            except BaseException:
                healthy = True  # the job raised (TorrentFileError...): the worker is fine
                raise
            healthy = True
            return result
        finally:
            # Cancelled, timed out or broken: the worker may still be busy; kill it so the
            # next job gets a fresh one instead of waiting behind it.
            if healthy and not self._closed:
                self._idle.append(executor)
            else:
                self._kill(executor)
                self._idle.append(None)

    def _start(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_start,
            initargs=(self._nice,),
        )
        self._live.add(executor)
        return executor

    def _kill(self, executor: ProcessPoolExecutor) -> None:
        self._live.discard(executor)
        # No public way to stop a running job before Python 3.14 (terminate_workers()).
        processes = list((getattr(executor, "_processes", None) or {}).values())
        for process in processes:
            with contextlib.suppress(OSError, ValueError, AttributeError):  # already gone
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Kill every worker now (never blocks: the bot's shutdown has a deadline)."""
        self._closed = True
        for executor in list(self._live):
            self._kill(executor)
        self._idle = [None] * self.workers

    def worker_pids(self) -> list[int]:
        """Process ids of the started workers (for tests and benchmarks)."""
        pids: list[int] = []
        for executor in self._live:
            pids.extend((getattr(executor, "_processes", None) or {}).keys())
        return pids
