"""How the bot reaches La Cale: one shared HTTP session, one pacing state per key, and
the metadata cache that autocomplete and validation read from."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from bot.lacale.client import LaCaleClient, RequestObserver
from bot.lacale.errors import LaCaleError
from bot.lacale.limits import LimiterRegistry
from bot.lacale.models import Meta

log = logging.getLogger(__name__)


class LaCaleAccess:
    """Factory of clients that share the process's session and per-key limiters."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        timeout: float = 20.0,
        search_interval: float = 2.0,
        limiters: LimiterRegistry | None = None,
        backoff_base: float = 0.5,
        max_retries: int = 3,
        observe: RequestObserver | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.limiters = limiters or LimiterRegistry(search_interval=search_interval)
        self.backoff_base = backoff_base
        self.max_retries = max_retries
        #: Every client's exchanges are told to it (the bot's metrics).
        self.observe = observe

    def client(
        self,
        api_key: str,
        *,
        max_retry_after: float = 60.0,
        search_priority: bool = False,
        search_max_wait: float | None = None,
    ) -> LaCaleClient:
        """``max_retry_after``: how long a 429 may be waited out before it is reported
        (a member in Discord wants "retry in N s" rather than a long silence).
        ``search_priority`` (alert polls) and ``search_max_wait`` (member searches): how
        this client's searches share the key's pacing with the others' (see
        :class:`~bot.lacale.limits.KeyLimiter`)."""
        return LaCaleClient(
            api_key,
            base_url=self.base_url,
            session=self.session,
            limiter=self.limiters.get(api_key),
            timeout=self.timeout,
            backoff_base=self.backoff_base,
            max_retries=self.max_retries,
            max_retry_after=max_retry_after,
            search_priority=search_priority,
            search_max_wait=search_max_wait,
            observe=self.observe,
        )


#: After ``/meta`` failed for a key (refused, rate-limited, La Cale down), :meth:`MetaCache.peek`
#: starts no new fetch for that key for this long: autocomplete calls it on every keystroke,
#: and a refused key would otherwise cost one request per keystroke. Long enough to cover
#: a member typing a word or two, short enough that a key La Cale accepts again (or a site
#: back up) is noticed within a minute. Awaited callers (:meth:`MetaCache.get`) still ask.
META_FAILURE_MEMORY_SECONDS = 60.0
#: Failures remembered at most (one short entry per key): a process with more distinct
#: failing keys than that within a minute only forgets the oldest early.
_MAX_FAILURES = 4096


def _cache_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(slots=True)
class _Entry:
    meta: Meta
    fetched_at: float


class MetaCache:
    """``/meta`` per key: fetched on first need, served for ``ttl`` seconds, then served
    stale while one background refresh runs. Autocomplete reads it with :meth:`peek`, so
    a keystroke never waits for La Cale.

    Keyed by a hash of the key (the key itself is never held here); concurrent misses for
    the same key share one request. A failed fetch is remembered per key for
    ``failure_memory`` seconds, during which :meth:`peek` serves what it has (or nothing)
    without asking La Cale again.
    """

    def __init__(
        self,
        access: LaCaleAccess,
        *,
        ttl: float = 3600.0,
        failure_memory: float = META_FAILURE_MEMORY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._access = access
        self._ttl = ttl
        self._failure_memory = failure_memory
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Task[Meta]] = {}
        #: Cache key → when its last fetch failed (insertion order = oldest first).
        self._failed: dict[str, float] = {}

    async def get(self, api_key: str) -> Meta:
        """Fresh or stale-but-usable metadata; waits for La Cale only on a miss."""
        ck = _cache_key(api_key)
        entry = self._entries.get(ck)
        if entry is not None:
            if self._clock() - entry.fetched_at >= self._ttl:
                self._refresh(ck, api_key)
            return entry.meta
        # shield: one caller giving up (interaction timeout) must not cancel the
        # request that other callers are waiting on.
        return await asyncio.shield(self._refresh(ck, api_key))

    def peek(self, api_key: str) -> Meta | None:
        """Cached metadata or ``None`` (then a fetch starts in the background)."""
        ck = _cache_key(api_key)
        entry = self._entries.get(ck)
        if (entry is None or self._clock() - entry.fetched_at >= self._ttl) and not self._failed_recently(ck):
            self._refresh(ck, api_key)
        return entry.meta if entry else None

    def put(self, api_key: str, meta: Meta) -> None:
        """Store metadata fetched elsewhere (a key check already called ``/meta``)."""
        ck = _cache_key(api_key)
        self._entries[ck] = _Entry(meta, self._clock())
        self._failed.pop(ck, None)

    def drop(self, api_key: str) -> None:
        ck = _cache_key(api_key)
        self._entries.pop(ck, None)
        self._failed.pop(ck, None)

    def _failed_recently(self, ck: str) -> bool:
        failed_at = self._failed.get(ck)
        if failed_at is None:
            return False
        if self._clock() - failed_at < self._failure_memory:
            return True
        del self._failed[ck]
        return False

    def _remember_failure(self, ck: str) -> None:
        self._failed.pop(ck, None)  # re-inserted last: the dict stays oldest first
        self._failed[ck] = self._clock()
        while len(self._failed) > _MAX_FAILURES:
            del self._failed[next(iter(self._failed))]

    def _refresh(self, ck: str, api_key: str) -> asyncio.Task[Meta]:
        task = self._inflight.get(ck)
        if task is None:
            task = asyncio.create_task(self._fetch(ck, api_key), name="meta-refresh")
            self._inflight[ck] = task
            task.add_done_callback(lambda t: self._done(ck, t))
        return task

    async def _fetch(self, ck: str, api_key: str) -> Meta:
        meta = await self._access.client(api_key).meta()
        self._entries[ck] = _Entry(meta, self._clock())
        self._failed.pop(ck, None)
        return meta

    def _done(self, ck: str, task: asyncio.Task[Meta]) -> None:
        self._inflight.pop(ck, None)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._remember_failure(ck)
            # Awaited callers get the error themselves; a background refresh only logs.
            if isinstance(exc, LaCaleError):
                log.info("metadata refresh failed: %s", type(exc).__name__)
            else:
                log.error("metadata refresh crashed", exc_info=exc)
