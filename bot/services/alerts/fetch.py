"""What the alert pipeline asks La Cale, and how little.

Per key and per cycle: ONE newest-page search (no terms; the client already copes with
the server refusing an empty ``q`` by sending ``q=*``). Everything a server's alerts need
is matched locally against that page. Targeted queries are made only where the page
cannot answer: an alert on a TMDB id (results do not carry it) and a possible gap (more
new releases than one page holds). Identical requests by the same key within a cycle
share one answer, whichever guild or alert asked.

Polls search with priority: a poll takes its key's next search slot ahead of members'
queued searches (the key's 2 s spacing is kept; see :class:`~bot.lacale.limits.KeyLimiter`).
Each answer a poll receives is noted in its :class:`PollProgress` (the scheduler abandons
a poll that waited too long for La Cale without any answer).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from bot.criteria import Criteria, normalize_words
from bot.lacale.models import Meta, Torrent
from bot.services.alerts.matching import AlertFilter
from bot.services.lacale_access import LaCaleAccess, MetaCache

log = logging.getLogger("vigie.alerts.fetch")


class PollProgress:
    """When the poll running in this task last heard from La Cale (``time.monotonic``).

    Set by the scheduler in the poll's context (:data:`POLL_PROGRESS`); the fetcher marks
    every answer or error it hands to the poll, so a poll making progress (a gap's many
    targeted queries, two seconds apart) is told apart from one stuck waiting."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = time.monotonic()

    def mark(self) -> None:
        self.last = time.monotonic()


#: The progress of the poll running in the current task (``None`` outside a poll). A
#: context variable: the poll's own tasks (``gather`` of targeted queries) inherit it,
#: and the poller needs no extra parameter.
POLL_PROGRESS: ContextVar[PollProgress | None] = ContextVar("vigie_poll_progress", default=None)


def _retrieve(task: asyncio.Task[list[Torrent]]) -> None:
    """Done callback of a request nobody awaits any more (its poll was abandoned): its
    error, if any, is expected and must not be reported as "never retrieved"."""
    if not task.cancelled():
        task.exception()


@dataclass(frozen=True, slots=True)
class TargetedQuery:
    """One search La Cale can answer. ``text`` is already normalised (the server
    normalises ``q`` the same way), so two spellings of one query are one request."""

    text: str | None = None
    categories: tuple[str, ...] = ()
    tmdb_id: str | None = None

    @property
    def is_newest(self) -> bool:
        return not self.text and not self.categories and not self.tmdb_id

    @classmethod
    def for_alert(cls, alert: AlertFilter, meta: Meta | None) -> TargetedQuery:
        return cls.for_criteria(alert.criteria, meta)

    @classmethod
    def for_criteria(cls, criteria: Criteria, meta: Meta | None) -> TargetedQuery:
        """The narrowest query that still returns every release the criteria may match
        (La Cale filters on words, categories and a TMDB id; the rest is checked locally).

        A TMDB alert asks for the id alone: its words and categories are checked locally,
        so alerts on the same film (and the same film in several servers of one key)
        share one request. Categories are sent expanded to their children, as filtering
        by a parent did not always include them on the server.
        """
        if criteria.tmdb_id:
            return cls(tmdb_id=criteria.tmdb_id)
        slugs: set[str] = set()
        for slug in criteria.categories:
            expanded = meta.expand_category(slug) if meta is not None else []
            slugs.update(expanded or [slug])
        return cls(text=" ".join(normalize_words(criteria.query)) or None, categories=tuple(sorted(slugs)))


def key_id(api_key: str) -> bytes:
    """How a key is told apart without being held (memo keys, ordering)."""
    return hashlib.sha256(api_key.encode()).digest()


class CycleFetcher:
    """One cycle's La Cale requests, memoised per (key, query).

    Concurrent callers of the same request await the same task, so two servers sharing a
    key, or ten alerts on one film, cost one request. A new fetcher per cycle: the server
    caches answers ~30 s and cycles are at least that far apart, so nothing is reused
    across cycles by design.

    Only the ``keep`` most recent answers are kept (a thousand pages of parsed releases
    would hold ~100 MB for nothing): the scheduler polls the servers of one key one after
    the other, so their shared requests are recent when asked again.
    """

    def __init__(self, access: LaCaleAccess, *, keep: int = 16) -> None:
        self._access = access
        self._keep = keep
        self._tasks: OrderedDict[tuple[bytes, TargetedQuery], asyncio.Task[list[Torrent]]] = OrderedDict()
        #: Requests actually started (for logs and the benchmark).
        self.requests = 0

    async def newest(self, api_key: str) -> list[Torrent]:
        """The newest page (raises ``BadRequest`` when the server refuses both an empty
        ``q`` and ``q=*``: the caller then falls back to targeted queries)."""
        return await self.search(api_key, TargetedQuery())

    async def search(self, api_key: str, query: TargetedQuery) -> list[Torrent]:
        memo_key = (key_id(api_key), query)
        task = self._tasks.get(memo_key)
        if task is None:
            task = asyncio.ensure_future(self._request(api_key, query))
            self._tasks[memo_key] = task
            while len(self._tasks) > self._keep:
                _, old = self._tasks.popitem(last=False)
                old.add_done_callback(_retrieve)  # its awaiters had it (or were abandoned)
        else:
            self._tasks.move_to_end(memo_key)
        try:
            # shield: one guild's poll being cancelled must not cancel a request others await.
            return await asyncio.shield(task)
        finally:
            progress = POLL_PROGRESS.get()
            if progress is not None:
                progress.mark()

    async def _request(self, api_key: str, query: TargetedQuery) -> list[Torrent]:
        self.requests += 1
        # Priority: the poll goes before members' queued searches of this key.
        client = self._access.client(api_key, search_priority=True)
        return await client.search(query.text, tmdb_id=query.tmdb_id, categories=query.categories)

    def close(self) -> None:
        """Forget the cycle's requests. One still running is cancelled: the cycle is over,
        so only abandoned polls were waiting for it."""
        for task in self._tasks.values():
            if not task.done():
                task.cancel()
            task.add_done_callback(_retrieve)
        self._tasks.clear()


class SiteMeta:
    """La Cale's category tree for matching, shared by every server.

    The tree is the site's, not the key's: one fresh copy serves every guild, so the alert
    scheduler asks ``/meta`` about once per ``ttl`` for the whole process instead of once
    per key (a thousand keys would otherwise cost a thousand requests an hour). The copy
    goes through :class:`MetaCache`, so commands of that key also benefit.
    """

    def __init__(
        self, meta_cache: MetaCache, *, ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cache = meta_cache
        self._ttl = ttl
        self._clock = clock
        self._meta: Meta | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    def peek(self) -> Meta | None:
        return self._meta

    def put(self, meta: Meta) -> None:
        self._meta = meta
        self._fetched_at = self._clock()

    async def get(self, api_key: str) -> Meta:
        """A copy younger than ``ttl``, refreshed with ``api_key`` when needed; a stale copy
        is served when the refresh fails (the tree rarely changes)."""
        if self._meta is not None and self._clock() - self._fetched_at < self._ttl:
            return self._meta
        async with self._lock:
            if self._meta is not None and self._clock() - self._fetched_at < self._ttl:
                return self._meta
            try:
                meta = await self._cache.get(api_key)
            except Exception:
                if self._meta is not None:
                    log.info(
                        "category tree refresh failed; using the copy from %.0f s ago", self._clock() - self._fetched_at
                    )
                    return self._meta
                raise
            self.put(meta)
            return meta
