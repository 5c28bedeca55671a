"""Searching La Cale for members: validation, category expansion, sharing identical
searches, and per-member pacing so one member cannot exhaust the server's key."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum

from bot.errors import UserError
from bot.lacale.errors import KeyBusy
from bot.lacale.limits import MEMBER_SEARCH_MAX_WAIT
from bot.lacale.models import Meta, Torrent
from bot.limits import CATEGORY_MAX, QUERY_MAX, TMDB_ID_MAX
from bot.services.lacale_access import LaCaleAccess, MetaCache

#: La Cale caches each key + query + category answer about 30 s: asking again sooner
#: returns the same list, so identical searches in that window share one request.
SERVER_CACHE_SECONDS = 30.0
#: How long a search may wait out a 429 before the member is told to come back.
INTERACTIVE_RETRY_AFTER = 5.0


class SortOrder(StrEnum):
    NEWEST = "newest"
    SEEDERS = "seeders"
    LARGEST = "largest"
    SMALLEST = "smallest"


def sort_results(results: Sequence[Torrent], order: SortOrder) -> list[Torrent]:
    match order:
        case SortOrder.SEEDERS:
            return sorted(results, key=lambda t: (t.seeders, t.pub_date), reverse=True)
        case SortOrder.LARGEST:
            return sorted(results, key=lambda t: t.size, reverse=True)
        case SortOrder.SMALLEST:
            return sorted(results, key=lambda t: t.size)
    return sorted(results, key=lambda t: t.pub_date, reverse=True)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """What a member asked ``/search`` for, as the command's typed options hand it over:
    the one object passed from the cog to :meth:`SearchService.prepare`."""

    text: str | None = None
    categories: tuple[str, ...] = ()  # slugs (or labels) as typed or picked
    tmdb_id: str | None = None


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A validated search: what is sent to La Cale, and how it is shown back.

    Its fields ARE the shared-results key (:meth:`cache_key` walks them all): a field
    added here is part of the key without anyone having to remember it, so members whose
    searches differ in anything never receive each other's results."""

    text: str | None
    categories: tuple[str, ...]  # the slugs the member chose
    expanded: tuple[str, ...]  # those slugs and their children's, sent as ``cat``
    tmdb_id: str | None

    def cache_key(self, api_key: str) -> tuple[object, ...]:
        """The key's digest (never the key itself) and every field, normalised the way
        La Cale reads it: words without case, categories in any order."""
        return (hashlib.sha256(api_key.encode()).hexdigest(), *(_key_part(getattr(self, f.name)) for f in fields(self)))


def _key_part(value: object) -> object:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, tuple):
        return tuple(sorted(_key_part(v) for v in value))  # type: ignore[type-var]
    return value


def validate_tmdb(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    tmdb = value.strip()
    if len(tmdb) > TMDB_ID_MAX:
        raise UserError("error.too_long", field="tmdb", limit=TMDB_ID_MAX)
    if not tmdb.isdigit():
        raise UserError("search.bad_tmdb")
    return tmdb


def build_query(meta: Meta, text: str | None, category_slugs: Sequence[str], tmdb: str | None) -> SearchQuery:
    """Refuses bad input before anything is sent, naming the limit or the unknown slug."""
    clean = " ".join((text or "").split()) or None
    if clean is not None and len(clean) > QUERY_MAX:
        raise UserError("error.too_long", field="query", limit=QUERY_MAX)
    chosen: list[str] = []
    expanded: list[str] = []
    for raw in category_slugs:
        slug = raw.strip()
        if not slug:
            continue
        cat = meta.category_by_slug(slug)
        if cat is None:
            # Members may type a label instead of picking a slug from autocomplete.
            by_label = meta.categories_by_label(slug)
            if len(by_label) != 1:
                raise UserError("search.unknown_category", category=slug[:CATEGORY_MAX])
            cat = by_label[0]
        chosen.append(cat.slug)
        for child in meta.expand_category(cat.slug):
            if child not in expanded:
                expanded.append(child)
    return SearchQuery(clean, tuple(chosen), tuple(expanded), validate_tmdb(tmdb))


class MemberCooldown:
    """At most ``per_minute`` searches per member in any rolling minute."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._history: dict[int, deque[float]] = {}

    def hit(self, member_id: int) -> float:
        """Count one search now (or raise the wait); returns its time, for :meth:`refund`."""
        now = self._clock()
        history = self._history.setdefault(member_id, deque())
        while history and history[0] <= now - 60.0:
            history.popleft()
        if len(history) >= self._per_minute:
            raise UserError("error.cooldown", seconds=max(1, round(history[0] + 60.0 - now)))
        history.append(now)
        if len(self._history) > 10_000:  # forget members who stopped searching
            self._history = {m: h for m, h in self._history.items() if h and h[-1] > now - 60.0}
        return now

    def refund(self, member_id: int, at: float) -> None:
        """Forget a search counted at ``at`` that La Cale was never asked (refused busy)."""
        history = self._history.get(member_id)
        if history is not None:
            with contextlib.suppress(ValueError):
                history.remove(at)


def _failed(task: asyncio.Task[list[Torrent]]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


@dataclass(slots=True)
class _Shared:
    task: asyncio.Task[list[Torrent]]
    started: float
    done_at: float | None = None


@dataclass(slots=True)
class SearchService:
    access: LaCaleAccess
    meta_cache: MetaCache
    cooldown: MemberCooldown
    clock: Callable[[], float] = time.monotonic
    #: Longest a search may wait for its key's turn before being refused with the wait.
    max_wait: float = MEMBER_SEARCH_MAX_WAIT
    _shared: dict[tuple[object, ...], _Shared] = field(default_factory=dict)
    #: Requests actually sent to La Cale (benchmarks read it).
    requests_sent: int = 0

    async def meta(self, api_key: str) -> Meta:
        return await self.meta_cache.get(api_key)

    async def prepare(self, api_key: str, request: SearchRequest) -> SearchQuery:
        """The request checked and its categories resolved against the key's metadata
        (fetched only when a category was given)."""
        meta = await self.meta_cache.get(api_key) if any(c.strip() for c in request.categories) else Meta()
        return build_query(meta, request.text, request.categories, request.tmdb_id)

    async def search(self, api_key: str, query: SearchQuery, *, member_id: int | None = None) -> list[Torrent]:
        """Results newest first; identical searches within the server's cache window share
        one request (and one in flight is joined, not repeated).

        A search that needs a request of its own is refused with
        :class:`~bot.lacale.errors.KeyBusy` when the key's slots are booked more than
        ``max_wait`` ahead: the member learns the wait at once, the refusal
        does not count against their cooldown, and the key's alert polls never find more
        than a few seconds of member searches ahead of them."""
        cache_key = query.cache_key(api_key)
        now = self.clock()
        shared = self._shared.get(cache_key)
        if shared is not None and shared.done_at is not None and now - shared.done_at > SERVER_CACHE_SECONDS:
            shared = None
        if shared is not None and _failed(shared.task):
            shared = None
        if shared is None:
            # Refused before the member's cooldown counts it: the refusal cost nothing.
            self.access.limiters.get(api_key).check_search(self.max_wait)
        counted = self.cooldown.hit(member_id) if member_id is not None else None
        if shared is None:
            task = asyncio.create_task(self._fetch(api_key, query), name="search")
            shared = _Shared(task, now)
            self._shared[cache_key] = shared
            task.add_done_callback(functools.partial(self._finished, cache_key, shared))
            self._prune(now)
        try:
            return await asyncio.shield(shared.task)
        except KeyBusy:
            # Refused by the limiter after all (searches admitted in the same instant):
            # nothing was asked, so nothing is counted either.
            if member_id is not None and counted is not None:
                self.cooldown.refund(member_id, counted)
            raise

    async def _fetch(self, api_key: str, query: SearchQuery) -> list[Torrent]:
        self.requests_sent += 1
        client = self.access.client(api_key, max_retry_after=INTERACTIVE_RETRY_AFTER, search_max_wait=self.max_wait)
        results = await client.search(query.text, tmdb_id=query.tmdb_id, categories=query.expanded)
        unique: dict[str, Torrent] = {}
        for torrent in results:
            unique.setdefault(torrent.info_hash, torrent)
        return sort_results(list(unique.values()), SortOrder.NEWEST)

    def _finished(self, cache_key: tuple[object, ...], shared: _Shared, task: asyncio.Task[list[Torrent]]) -> None:
        shared.done_at = self.clock()
        if _failed(task):
            # Errors are not shared with later searches: drop the entry.
            if self._shared.get(cache_key) is shared:
                del self._shared[cache_key]

    def _prune(self, now: float) -> None:
        if len(self._shared) < 512:
            return
        for k, s in list(self._shared.items()):
            if s.done_at is not None and now - s.done_at > SERVER_CACHE_SECONDS:
                del self._shared[k]
