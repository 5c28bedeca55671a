"""A local La Cale that follows every documented rule, for tests and benchmarks.

It implements the contract in ``shared/lacale-api.md`` (auth by header, ``apikey`` or
``passkey``; limits; search normalisation; upload validation, 409, 30/min) plus what the
live service was seen doing (``drift=True``, empty searches refused, parent categories
not expanding to children) and scripted faults (5xx, 429, Cloudflare pages, bad JSON,
delays, answers lost after the work was done).

Usage::

    async with FakeLaCale(keys=["k1"]) as fake:
        fake.add_torrent(title="One.Piece.S01E01.1080p", category_label="Séries TV")
        fake.fail_next("/api/external", status=500, times=2)
        ...  # point a client at fake.base_url

Standalone: ``python -m tests.fakes.lacale --port 8081 --key KEY`` prints its base URL.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import hashlib
import heapq
import itertools
import json
import math
import re
import secrets
import signal
import sys
import time
import unicodedata
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

DEFAULT_KEY = "fake-lacale-key-0123456789abcdef"
DEFAULT_SCOPES = frozenset({"read", "upload:write"})
TRACKER_ANNOUNCE = "https://tracker.la-cale.space/announce"
META_FIXTURE = Path(__file__).with_name("lacale_meta.json")
MAX_RESULTS = 50

SEARCH = "/api/external"
META = "/api/external/meta"
UPLOAD = "/api/external/upload"
DOWNLOAD = "/api/torrents/download"

CLOUDFLARE_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    '<meta http-equiv="refresh" content="390"></head><body>'
    '<div id="challenge-running">Checking if the site connection is secure</div>'
    "<noscript>Enable JavaScript and cookies to continue</noscript></body></html>"
)


# -- bencode ------------------------------------------------------------------------------
class Raw(bytes):
    """Already-bencoded bytes, emitted verbatim (keeps an uploaded info dict byte-exact)."""


def bencode(value: Any) -> bytes:
    """Minimal bencode (dict keys sorted as the format requires)."""
    if isinstance(value, Raw):
        return bytes(value)
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return b"%d:%s" % (len(value), bytes(value))
    if isinstance(value, (list, tuple)):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode("utf-8") if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def _bdecode(data: bytes, i: int) -> tuple[Any, int]:
    head = data[i : i + 1]
    if head == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1 : end]), end + 1
    if head == b"l":
        i += 1
        items: list[Any] = []
        while data[i : i + 1] != b"e":
            if i >= len(data):
                raise ValueError("unterminated list")
            item, i = _bdecode(data, i)
            items.append(item)
        return items, i + 1
    if head == b"d":
        i += 1
        out: dict[bytes, Any] = {}
        while data[i : i + 1] != b"e":
            if i >= len(data):
                raise ValueError("unterminated dict")
            key, i = _bdecode(data, i)
            if not isinstance(key, bytes):
                raise ValueError("dict key is not a string")
            out[key], i = _bdecode(data, i)
        return out, i + 1
    if head.isdigit():
        colon = data.index(b":", i)
        start = colon + 1
        end = start + int(data[i:colon])
        if end > len(data):
            raise ValueError("string past the end")
        return data[start:end], end
    raise ValueError("not bencode")


def decode_torrent(data: bytes) -> tuple[dict[bytes, Any], bytes]:
    """The torrent's top dict and the raw bytes of its ``info`` dict (what the hash covers)."""
    if not data.startswith(b"d"):
        raise ValueError("not a bencoded dict")
    i = 1
    top: dict[bytes, Any] = {}
    raw_info = b""
    while data[i : i + 1] != b"e":
        if i >= len(data):
            raise ValueError("unterminated torrent")
        key, i = _bdecode(data, i)
        start = i
        top[key], i = _bdecode(data, i)
        if key == b"info":
            raw_info = data[start:i]
    if not isinstance(top.get(b"info"), dict):
        raise ValueError("no info dict")
    return top, raw_info


def make_torrent(
    name: str = "Release.2025.1080p.WEB.x264",
    *,
    size: int = 1_000_000,
    source: str | None = "lacale",
    announce: str = TRACKER_ANNOUNCE,
    salt: str = "",
) -> bytes:
    """A small valid single-file .torrent (``salt`` changes the info hash, not the name)."""
    piece_length = 262_144
    pieces = max(1, math.ceil(size / piece_length))
    seed = hashlib.sha1(f"{name}|{size}|{salt}".encode(), usedforsecurity=False).digest()
    info: dict[str, Any] = {
        "name": name,
        "length": size,
        "piece length": piece_length,
        "pieces": (seed * pieces)[: 20 * pieces],
        "private": 1,
    }
    if source is not None:
        info["source"] = source
    if salt:
        info["x-salt"] = salt
    return bencode({"announce": announce, "created by": "fake-lacale", "info": info})


def info_hash_of(torrent: bytes) -> str:
    """v1 info hash (hex) of a .torrent."""
    _, raw = decode_torrent(torrent)
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


# -- text ---------------------------------------------------------------------------------
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize(text: str) -> str:
    """La Cale's documented normalisation (lower case, no accents), punctuation as spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(_NON_ALNUM.sub(" ", plain).split())


def slugify(text: str) -> str:
    return normalize(text).replace(" ", "-") or "torrent"


def _random_id(prefix: str = "c") -> str:
    """Opaque, cuid-like (the real ids are not all of one format either)."""
    return prefix + secrets.token_hex(12)


def _trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# -- records ------------------------------------------------------------------------------
@dataclass(slots=True)
class KeyInfo:
    key: str
    passkey: str
    scopes: frozenset[str]


@dataclass(slots=True)
class Entry:
    """One torrent of the catalogue."""

    guid: str
    title: str
    norm: str
    size: int
    pub_date: datetime
    category_label: str
    category_slug: str
    seeders: int
    leechers: int
    info_hash: str
    tmdb_id: str | None
    approved: bool
    slug: str
    info_raw: bytes
    seq: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[float, int]:
        return (self.pub_date.timestamp(), self.seq)


@dataclass(slots=True)
class SeenRequest:
    """What the fake received: tests assert on ``url`` (no key in it!) and ``key``."""

    method: str
    path: str
    url: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    key: str | None
    #: ``time.monotonic()`` at arrival: requests from several bot processes on one clock.
    at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class UploadedFile:
    filename: str | None
    content_type: str
    content: bytes


@dataclass(slots=True)
class UploadRecord:
    """One upload past the key, scope and rate-limit checks, accepted (200) or refused
    (400/409, with ``error``). Faults and 401/403/429 answers are only in the counters."""

    key: str
    fields: dict[str, list[str]]
    files: dict[str, UploadedFile]
    tags: list[str]
    status: int = 0
    error: str | None = None
    info_hash: str | None = None  # of the torrent as uploaded
    stored_hash: str | None = None  # after the site added the source flag
    source_flag_added: bool = False
    id: str | None = None
    slug: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == 200


@dataclass(slots=True)
class Fault:
    """A scripted misbehaviour for the next request on a path.

    ``status`` set: answer that instead of handling (after ``delay``). ``late`` set: handle
    normally (an upload IS stored) and hold the answer ``late`` seconds. ``drop``: close the
    connection without an answer. ``stream`` > 0 (with ``status``): a body of that many
    bytes, ``body`` first then filler, generated lazily chunk by chunk while the client
    reads (never held whole), with a ``Content-Length`` or chunked (``chunked``).
    """

    status: int | None = None
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    late: float = 0.0
    drop: bool = False
    stream: int = 0
    chunked: bool = False


class _Refusal(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


# -- the server ---------------------------------------------------------------------------
class FakeLaCale:
    """See the module docstring. All attributes are plain and safe to poke from a test."""

    def __init__(
        self,
        keys: Iterable[str] = (DEFAULT_KEY,),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        meta: Mapping[str, Any] | None = None,
        drift: bool = False,
        refuse_empty: bool = False,
        expand_parents: bool = False,
        cache_seconds: float = 0.0,
        upload_limit: int = 30,
        upload_window: float = 60.0,
        require_nfo: bool = False,
        auto_approve: bool = True,
        record_requests: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.port = port
        self.drift = drift
        self.refuse_empty = refuse_empty
        self.expand_parents = expand_parents
        self.cache_seconds = cache_seconds
        self.upload_limit = upload_limit
        self.upload_window = upload_window
        self.require_nfo = require_nfo
        self.auto_approve = auto_approve
        self.record_requests = record_requests
        self._clock = clock
        self._offset = 0.0
        self._keys: dict[str, KeyInfo] = {}
        for key in keys:
            self.add_key(key)
        self.meta: dict[str, Any] = dict(meta) if meta is not None else json.loads(META_FIXTURE.read_text("utf-8"))
        self._index_meta()
        # catalogue, sorted oldest -> newest (iterated reversed)
        self._entries: list[Entry] = []
        self._by_hash: dict[str, Entry] = {}
        self._by_cat: dict[str, list[Entry]] = defaultdict(list)
        self._by_tmdb: dict[str, list[Entry]] = defaultdict(list)
        self._by_trigram: dict[str, set[int]] = defaultdict(set)  # for fast substring search
        self._by_seq: dict[int, Entry] = {}
        self._known_hashes: set[str] = set()  # incl. hashes as uploaded, before the source flag
        self._seq = itertools.count()
        self._last_auto_date: datetime | None = None
        # observation
        self.requests: list[SeenRequest] = []
        self.path_counts: Counter[str] = Counter()
        self.key_counts: Counter[str] = Counter()
        self.uploads: list[UploadRecord] = []
        #: Bytes of :meth:`oversize_next` bodies written to clients so far.
        self.streamed_bytes = 0
        #: Oversize bodies whose stream ended (written whole or cut by the client).
        self.streams_finished = 0
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._upload_times: dict[str, deque[float]] = defaultdict(deque)
        self._cache: dict[tuple[str, str, tuple[str, ...], str], tuple[float, bytes]] = {}
        self._runner: web.AppRunner | None = None

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("FakeLaCale not started")
        return f"http://{self.host}:{self.port}"

    @property
    def default_key(self) -> str:
        return next(iter(self._keys))

    async def start(self) -> FakeLaCale:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024 * 1024)
        app.router.add_get(SEARCH, self._search)
        app.router.add_get(META, self._meta)
        app.router.add_post(UPLOAD, self._upload)
        app.router.add_get(DOWNLOAD + "/{info_hash}", self._download)
        app.router.add_get("/torrents/{slug}", self._page)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeLaCale:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- clock --------------------------------------------------------------------------
    def now(self) -> float:
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward (search cache, upload window)."""
        self._offset += seconds

    # -- keys ---------------------------------------------------------------------------
    def add_key(
        self, key: str | None = None, *, scopes: Iterable[str] = DEFAULT_SCOPES, passkey: str | None = None
    ) -> str:
        """Register a key (random if None); ``scopes`` without "upload:write" → 403 on upload."""
        key = key or secrets.token_hex(16)
        self._keys[key] = KeyInfo(
            key, passkey or hashlib.sha256(b"passkey:" + key.encode()).hexdigest()[:32], frozenset(scopes)
        )
        return key

    def remove_key(self, key: str) -> None:
        self._keys.pop(key, None)

    def passkey_of(self, key: str) -> str:
        return self._keys[key].passkey

    # -- faults -------------------------------------------------------------------------
    def inject(self, path: str, fault: Fault, *, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests on ``path`` (exact path, route
        pattern, or ``/api/torrents/download`` for every download)."""
        for _ in range(times):
            self._faults[path].append(fault)

    def fail_next(
        self,
        path: str,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: float | str | None = None,
        error: str | None = None,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        content_type: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer ``status`` (with ``{"error": error}`` or ``body``) instead of handling.

        ``fail_next(path, status=200, body=[...])`` serves a wrong-shaped success."""
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        if body is None:
            payload = json.dumps({"error": error or _default_error(status)}).encode()
            ctype = "application/json"
        elif isinstance(body, (dict, list)):
            payload, ctype = json.dumps(body).encode(), "application/json"
        else:
            payload = body.encode() if isinstance(body, str) else body
            ctype = "text/plain"
        self.inject(path, Fault(status, payload, content_type or ctype, headers, delay=delay), times=times)

    def challenge_next(self, path: str, *, status: int = 403, times: int = 1) -> None:
        """Cloudflare's HTML challenge page instead of the API."""
        self.inject(
            path,
            Fault(status, CLOUDFLARE_PAGE.encode(), "text/html", {"Server": "cloudflare", "cf-mitigated": "challenge"}),
            times=times,
        )

    def invalid_json_next(self, path: str, *, status: int = 200, times: int = 1) -> None:
        """A JSON content type with a body that is not JSON."""
        self.inject(path, Fault(status, b'{"title": "One.Piece", "guid": ', "application/json"), times=times)

    def delay_next(self, path: str, seconds: float, *, times: int = 1) -> None:
        """Wait ``seconds`` before handling (a slow server; longer than the client's timeout
        for a timeout test). The request is handled afterwards if the server is still up."""
        self.inject(path, Fault(delay=seconds), times=times)

    def answer_late_next(self, path: str, seconds: float, *, times: int = 1) -> None:
        """Handle the request (an upload is stored), then hold the answer ``seconds``:
        the client times out although the work was done (the timeout-then-409 path)."""
        self.inject(path, Fault(late=seconds), times=times)

    def drop_next(self, path: str, *, times: int = 1) -> None:
        """Close the connection without answering."""
        self.inject(path, Fault(drop=True), times=times)

    def oversize_next(
        self,
        path: str,
        size: int,
        *,
        chunked: bool = False,
        status: int = 200,
        start: bytes = b'[{"title": "',
        content_type: str = "application/json",
        times: int = 1,
    ) -> None:
        """Answer ``size`` bytes (``start``, then filler), streamed lazily: with a truthful
        ``Content-Length``, or ``chunked`` without one. :attr:`streamed_bytes` counts what
        was actually written to the client, to tell how early it stopped reading."""
        self.inject(path, Fault(status, start, content_type, stream=size, chunked=chunked), times=times)

    async def _stream_body(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        response = web.StreamResponse(status=fault.status or 200, headers=fault.headers)
        response.content_type = fault.content_type
        if fault.chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = fault.stream
        await response.prepare(request)
        filler = b"x" * (64 * 1024)
        remaining = fault.stream
        first = fault.body[: fault.stream]
        try:
            if first:
                await response.write(first)
                self.streamed_bytes += len(first)
                remaining -= len(first)
            while remaining > 0:
                chunk = filler[:remaining]
                # write() waits for the client to drain its buffer: a client that stops
                # reading stops the stream, and the count says where.
                await response.write(chunk)
                self.streamed_bytes += len(chunk)
                remaining -= len(chunk)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client closed the connection: what it read is counted
        finally:
            self.streams_finished += 1
        return response

    def clear_faults(self) -> None:
        self._faults.clear()

    def clear_cache(self) -> None:
        self._cache.clear()

    def _take_fault(self, request: web.Request) -> Fault | None:
        if not self._faults:
            return None
        candidates = [request.path]
        resource = request.match_info.route.resource
        if resource is not None:
            canonical = resource.canonical
            candidates += [canonical, canonical.split("/{", 1)[0]]
        for name in candidates:
            queue = self._faults.get(name)
            if queue:
                fault = queue.popleft()
                if not queue:
                    del self._faults[name]
                return fault
        return None

    # -- observation --------------------------------------------------------------------
    def count(self, path: str | None = None, *, key: str | None = None) -> int:
        """Requests seen on a route (``/api/external``, ``/api/external/meta``,
        ``/api/external/upload``, ``/api/torrents/download``) and/or by a key."""
        if key is not None and path is None:
            return self.key_counts[key]
        if key is None:
            return self.path_counts[path] if path is not None else sum(self.path_counts.values())
        return sum(1 for r in self.requests if r.key == key and _route_of(r.path) == path)

    def reset_counters(self) -> None:
        self.requests.clear()
        self.path_counts.clear()
        self.key_counts.clear()

    @property
    def accepted_uploads(self) -> list[UploadRecord]:
        return [u for u in self.uploads if u.accepted]

    # -- catalogue ----------------------------------------------------------------------
    def add_category(self, name: str, slug: str, *, parent: str | None = None) -> dict[str, Any]:
        """A category in ``/meta`` (a root, or a child of the category whose slug is
        ``parent``), shaped like the real ones: leaves have ``"children": null``. The real
        tree has an « XXX » root (slug ``xxx``) that this fake's default tree leaves out."""
        category: dict[str, Any] = {
            "id": f"cat_{slug}",
            "name": name,
            "slug": slug,
            "icon": None,
            "parentId": None,
            "children": None,
        }
        if parent is None:
            self.meta.setdefault("categories", []).append(category)
        else:
            above = self._cat_by_slug[parent]
            category["parentId"] = above["id"]
            above["children"] = [*(above.get("children") or ()), category]
        self._index_meta()
        return category

    def add_torrent(
        self,
        title: str = "Release.2025.1080p.WEB.x264",
        *,
        category_label: str | None = None,
        category_slug: str | None = None,
        size: int = 1_500_000_000,
        seeders: int = 10,
        leechers: int = 1,
        tmdb_id: str | int | None = None,
        pub_date: datetime | None = None,
        info_hash: str | None = None,
        approved: bool = True,
        guid: str | None = None,
        link: str | None = None,
    ) -> dict[str, Any]:
        """Add a torrent; returns the item as the API lists it (documented shape).

        Category by label (as results show it) or slug; default "Films". Without a
        ``pub_date`` each torrent is newer than the previous one. ``link``: the ``link``
        results give for it (``{base}`` is the fake's address), e.g. one carrying a key."""
        slug = self._category_slug(category_label, category_slug)
        info: dict[str, Any] = {
            "name": title,
            "length": size,
            "piece length": 262_144,
            "pieces": hashlib.sha1(f"{title}|{next(self._seq)}".encode(), usedforsecurity=False).digest(),
            "private": 1,
            "source": "lacale",
        }
        raw = bencode(info)
        entry = self._store(
            title=title,
            category_slug=slug,
            size=size,
            seeders=seeders,
            leechers=leechers,
            tmdb_id=str(tmdb_id) if tmdb_id is not None else None,
            pub_date=pub_date,
            info_hash=(info_hash or hashlib.sha1(raw, usedforsecurity=False).hexdigest()).lower(),
            approved=approved,
            info_raw=raw,
            guid=guid,
        )
        if link is not None:
            entry.extra["link"] = link
        return self._item(entry, drift=False)

    def torrents(self) -> list[dict[str, Any]]:
        """The whole catalogue as API items, newest first."""
        return [self._item(e, drift=False) for e in reversed(self._entries)]

    def _category_slug(self, label: str | None, slug: str | None) -> str:
        if slug is not None:
            if slug not in self._cat_by_slug:
                raise ValueError(f"unknown category slug {slug!r}")
            return slug
        label = label or "Films"
        found = self._slug_by_label.get(normalize(label))
        if found is None:
            raise ValueError(f"unknown category label {label!r}")
        return found

    def _store(
        self,
        *,
        title: str,
        category_slug: str,
        size: int,
        seeders: int,
        leechers: int,
        tmdb_id: str | None,
        pub_date: datetime | None,
        info_hash: str,
        approved: bool,
        info_raw: bytes,
        guid: str | None = None,
    ) -> Entry:
        if info_hash in self._by_hash:
            raise ValueError(f"info hash {info_hash} already in the catalogue")
        entry = Entry(
            guid=guid or _random_id(),
            title=title,
            norm=" " + normalize(title) + " ",
            size=size,
            pub_date=self._next_date(pub_date),
            category_label=self._cat_by_slug[category_slug]["name"],
            category_slug=category_slug,
            seeders=seeders,
            leechers=leechers,
            info_hash=info_hash,
            tmdb_id=tmdb_id,
            approved=approved,
            slug=f"{slugify(title)[:60]}-{secrets.token_hex(3)}",
            info_raw=info_raw,
            seq=next(self._seq),
        )
        key = Entry.sort_key.fget  # type: ignore[attr-defined]
        bisect.insort(self._entries, entry, key=key)
        bisect.insort(self._by_cat[category_slug], entry, key=key)
        if tmdb_id:
            bisect.insort(self._by_tmdb[tmdb_id], entry, key=key)
        self._by_hash[info_hash] = entry
        self._by_seq[entry.seq] = entry
        for gram in _trigrams(entry.norm):
            self._by_trigram[gram].add(entry.seq)
        self._known_hashes.add(info_hash)
        # The search cache is NOT cleared: like the real one, it serves stale answers.
        return entry

    def _next_date(self, given: datetime | None) -> datetime:
        if given is not None:
            return given if given.tzinfo else given.replace(tzinfo=UTC)
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the API has ms precision
        if self._last_auto_date is not None and now <= self._last_auto_date:
            now = self._last_auto_date + timedelta(milliseconds=1)
        self._last_auto_date = now
        return now

    # -- meta indexes -------------------------------------------------------------------
    def _index_meta(self) -> None:
        self._cat_by_slug: dict[str, dict[str, Any]] = {}
        self._cat_by_id: dict[str, dict[str, Any]] = {}
        self._slug_by_label: dict[str, str] = {}
        self._descendants: dict[str, list[str]] = {}

        def walk(cats: Sequence[dict[str, Any]] | None) -> list[str]:
            slugs: list[str] = []
            for cat in cats or ():
                below = walk(cat.get("children"))
                self._cat_by_slug[cat["slug"]] = cat
                self._cat_by_id[cat["id"]] = cat
                self._slug_by_label.setdefault(normalize(cat["name"]), cat["slug"])
                self._descendants[cat["slug"]] = [cat["slug"], *below]
                slugs += [cat["slug"], *below]
            return slugs

        walk(self.meta.get("categories"))
        tags = [t for g in self.meta.get("tagGroups") or () for t in g.get("tags") or ()]
        tags += list(self.meta.get("ungroupedTags") or ())
        self._tag_ids = {t["id"] for t in tags}

    # -- HTTP plumbing ------------------------------------------------------------------
    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        key = _key_from_request(request)
        route = _route_of(request.path)
        self.path_counts[route] += 1
        if key is not None:
            self.key_counts[key] += 1
        if self.record_requests:
            self.requests.append(
                SeenRequest(
                    request.method,
                    request.path,
                    str(request.url),
                    list(request.query.items()),
                    dict(request.headers),
                    key,
                )
            )
        fault = self._take_fault(request)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.drop:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        if fault is not None and fault.status is not None and fault.stream:
            return await self._stream_body(request, fault)
        if fault is not None and fault.status is not None:
            return web.Response(
                status=fault.status, body=fault.body, content_type=fault.content_type, headers=fault.headers
            )
        try:
            response = await handler(request)
        except _Refusal as refusal:
            response = web.json_response({"error": refusal.message}, status=refusal.status, headers=refusal.headers)
        if fault is not None and fault.late:
            await asyncio.sleep(fault.late)
        return response

    def _auth(self, key: str | None) -> KeyInfo:
        if not key:
            raise _Refusal(401, "API key manquant")
        info = self._keys.get(key)
        if info is None:
            raise _Refusal(403, "Access denied")
        return info

    # -- handlers -----------------------------------------------------------------------
    async def _meta(self, request: web.Request) -> web.Response:
        self._auth(_key_from_request(request))
        return web.json_response(self.meta)

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=f"<html><body>{request.match_info['slug']}</body></html>", content_type="text/html")

    async def _search(self, request: web.Request) -> web.Response:
        info = self._auth(_key_from_request(request))
        q = request.query.get("q", "")
        cats = request.query.getall("cat", [])
        tmdb = request.query.get("tmdbId", "")
        self._check_search(q, cats, tmdb)
        cache_key = (info.key, q, tuple(cats), tmdb)
        if self.cache_seconds > 0:
            hit = self._cache.get(cache_key)
            if hit is not None and hit[0] > self.now():
                return web.Response(body=hit[1], content_type="application/json")
        items = [self._item(e, drift=self.drift) for e in self._find(q, cats, tmdb)]
        body = json.dumps(items).encode()
        if self.cache_seconds > 0:
            self._cache[cache_key] = (self.now() + self.cache_seconds, body)
        return web.Response(body=body, content_type="application/json")

    def _check_search(self, q: str, cats: list[str], tmdb: str) -> None:
        if len(q) > 200:
            raise _Refusal(400, "Requête trop longue (q max 200 caractères)")
        if len(tmdb) > 64:
            raise _Refusal(400, "Requête trop longue (tmdbId max 64 caractères)")
        for cat in cats:
            if len(cat) > 64:
                raise _Refusal(400, "Requête trop longue (cat max 64 caractères)")
            if cat not in self._cat_by_slug:
                raise _Refusal(400, f"catégorie invalide: {cat}")
        if self.refuse_empty and not q.strip() and not tmdb.strip():
            raise _Refusal(400, "The API no longer accepts empty requests")

    def _find(self, q: str, cats: list[str], tmdb: str) -> list[Entry]:
        """Newest first, 50 at most; walks the smallest index and stops at 50 matches."""
        words = [] if q.strip() == "*" else normalize(q).split()
        wanted: set[str] | None = None
        if cats:
            wanted = set()
            for cat in cats:
                wanted.update(self._descendants[cat] if self.expand_parents else [cat])
        narrowed = None if tmdb else self._by_words(words)
        if tmdb:
            source: Iterator[Entry] = reversed(self._by_tmdb.get(tmdb, []))
        elif narrowed is not None:
            source = iter(narrowed)
        elif wanted is not None:
            lists = [reversed(self._by_cat[c]) for c in wanted if self._by_cat.get(c)]
            source = heapq.merge(*lists, key=lambda e: e.sort_key, reverse=True)
        else:
            source = reversed(self._entries)
        out: list[Entry] = []
        for entry in source:
            if not entry.approved:
                continue
            if wanted is not None and entry.category_slug not in wanted:
                continue
            if tmdb and entry.tmdb_id != tmdb:
                continue
            if words and not all(w in entry.norm for w in words):
                continue
            out.append(entry)
            if len(out) >= MAX_RESULTS:
                break
        return out

    def _by_words(self, words: list[str]) -> list[Entry] | None:
        """Candidates for rare words, newest first, from the trigram index; None when a
        scan is as good (no word of 3+ letters, or a word so common that walking the
        newest-first list stops early anyway). Candidates are re-checked by the caller."""
        grams = set().union(*(_trigrams(w) for w in words if len(w) >= 3)) if words else set()
        if not grams:
            return None
        postings = sorted((self._by_trigram.get(g, set()) for g in grams), key=len)
        # Scanning newest-first costs about 50·n/p entries for a word in p of n titles;
        # the index costs about p: use it when p² < 50·n.
        if len(postings[0]) ** 2 > MAX_RESULTS * max(1, len(self._entries)):
            return None
        found = set(postings[0])
        for posting in postings[1:]:
            found &= posting
            if not found:
                break
        return sorted((self._by_seq[seq] for seq in found), key=lambda e: e.sort_key, reverse=True)

    def _item(self, entry: Entry, *, drift: bool) -> dict[str, Any]:
        base = self.base_url if self._runner is not None else f"http://{self.host}:{self.port}"
        item: dict[str, Any] = {
            "title": entry.title,
            "guid": entry.guid,
            "size": entry.size,
            "pubDate": _iso(entry.pub_date),
            "link": f"{base}{DOWNLOAD}/{entry.info_hash}",
            "category": entry.category_label,
            "seeders": entry.seeders,
            "leechers": entry.leechers,
            "infoHash": entry.info_hash,
        }
        if drift:
            # Feb 2026: link became the page (once on localhost:3000), downloadLink carried a
            # short-lived token, new fields appeared.
            localhost = int(entry.info_hash[0], 16) % 2 == 1
            item["link"] = ("http://localhost:3000" if localhost else base) + f"/torrents/{entry.slug}"
            item["downloadLink"] = f"{base}{DOWNLOAD}/{entry.info_hash}?token={secrets.token_urlsafe(12)}"
            item["uploader"] = "Anonyme"
            item["freeleech"] = entry.seq % 3 == 0
            item["tags"] = None
        if "link" in entry.extra:
            item["link"] = entry.extra["link"].replace("{base}", base)
        return item

    async def _download(self, request: web.Request) -> web.Response:
        info = self._auth(_key_from_request(request))
        entry = self._by_hash.get(request.match_info["info_hash"].lower())
        if entry is None:
            raise _Refusal(404, "Torrent introuvable")
        body = bencode(
            {
                "announce": f"{TRACKER_ANNOUNCE}?passkey={info.passkey}",
                "created by": "La Cale",
                "info": Raw(entry.info_raw),
            }
        )
        return web.Response(
            body=body,
            content_type="application/x-bittorrent",
            headers={"Content-Disposition": f'attachment; filename="{entry.slug}.torrent"'},
        )

    async def _upload(self, request: web.Request) -> web.Response:
        form = await _read_form(request)
        key = _key_from_request(request) or _first(form.fields.get("passkey")) or _first(form.fields.get("apikey"))
        if key is not None and _key_from_request(request) is None:
            self.key_counts[key] += 1
            if self.requests and self.record_requests:
                self.requests[-1].key = key
        info = self._auth(key)
        if "upload:write" not in info.scopes:
            raise _Refusal(403, "Cette clé API n'a pas le scope upload:write")
        self._rate_limit_upload(info.key)
        record = UploadRecord(key=info.key, fields=form.fields, files=form.files, tags=form.fields.get("tags", []))
        self.uploads.append(record)
        try:
            result = self._accept_upload(form, record)
        except _Refusal as refusal:
            record.status, record.error = refusal.status, refusal.message
            raise
        record.status = 200
        return web.json_response(result)

    def _rate_limit_upload(self, key: str) -> None:
        times = self._upload_times[key]
        now = self.now()
        while times and times[0] <= now - self.upload_window:
            times.popleft()
        if len(times) >= self.upload_limit:
            wait = max(1, math.ceil(times[0] + self.upload_window - now))
            raise _Refusal(429, "Trop de requêtes, réessayez plus tard", {"Retry-After": str(wait)})
        times.append(now)

    def _accept_upload(self, form: _Form, record: UploadRecord) -> dict[str, Any]:
        fields = form.fields
        missing = [n for n in ("title", "categoryId") if not _first(fields.get(n), "").strip()]
        if "file" not in form.files:
            missing.append("file")
        if self.require_nfo and "nfoFile" not in form.files:
            missing.append("nfoFile")
        if missing:
            raise _Refusal(400, "Champs manquants: " + ", ".join(missing))
        category = self._cat_by_id.get(_first(fields["categoryId"]).strip())
        if category is None:
            raise _Refusal(400, "catégorie invalide")
        unknown = [t for t in record.tags if t not in self._tag_ids]
        if unknown:
            raise _Refusal(400, "tags invalides: " + ", ".join(unknown))
        tmdb_type = _first(fields.get("tmdbType"))
        if tmdb_type is not None and tmdb_type not in ("MOVIE", "TV"):
            raise _Refusal(400, "tmdbType invalide (MOVIE ou TV)")
        tmdb_id = _first(fields.get("tmdbId"))
        if tmdb_id is not None and len(tmdb_id) > 64:
            raise _Refusal(400, "Requête trop longue (tmdbId max 64 caractères)")
        cover = _first(fields.get("coverUrl"))
        if cover is not None and not cover.startswith("https://"):
            raise _Refusal(400, "coverUrl invalide (URL https attendue)")
        try:
            top, raw_info = decode_torrent(form.files["file"].content)
        except (ValueError, IndexError, RecursionError):
            raise _Refusal(400, "torrent illisible") from None
        uploaded_hash = hashlib.sha1(raw_info, usedforsecurity=False).hexdigest()
        info = top[b"info"]
        stored_raw = raw_info
        if info.get(b"source") != b"lacale":
            # The site adds its source flag: the stored torrent gets another hash.
            stored_raw = bencode({**dict(info.items()), b"source": b"lacale"})
        stored_hash = hashlib.sha1(stored_raw, usedforsecurity=False).hexdigest()
        if uploaded_hash in self._known_hashes or stored_hash in self._known_hashes:
            raise _Refusal(409, "Torrent déjà existant (même InfoHash)")
        entry = self._store(
            title=_first(fields["title"]).strip(),
            category_slug=category["slug"],
            size=_torrent_size(info),
            seeders=0,
            leechers=0,
            tmdb_id=tmdb_id,
            pub_date=None,
            info_hash=stored_hash,
            approved=self.auto_approve,
            info_raw=stored_raw,
        )
        self._known_hashes.add(uploaded_hash)
        record.info_hash, record.stored_hash = uploaded_hash, stored_hash
        record.source_flag_added = stored_hash != uploaded_hash
        record.id, record.slug = entry.guid, entry.slug
        return {"success": True, "id": entry.guid, "slug": entry.slug, "link": f"{self.base_url}/torrents/{entry.slug}"}


# -- request helpers ----------------------------------------------------------------------
@dataclass(slots=True)
class _Form:
    fields: dict[str, list[str]]
    files: dict[str, UploadedFile]


async def _read_form(request: web.Request) -> _Form:
    """Every text field with its repeats kept (``tags``!), every file read in memory."""
    fields: dict[str, list[str]] = defaultdict(list)
    files: dict[str, UploadedFile] = {}
    if not request.content_type.startswith("multipart/"):
        if request.content_type == "application/x-www-form-urlencoded":
            post = await request.post()
            for name, value in post.items():
                fields[name].append(str(value))
        return _Form(dict(fields), files)
    try:
        post = await request.post()
    except ValueError:
        raise _Refusal(400, "multipart illisible") from None
    for name, value in post.items():
        if isinstance(value, web.FileField):
            with value.file:
                files[name] = UploadedFile(value.filename, value.content_type, value.file.read())
        else:
            fields[name].append(str(value))
    return _Form(dict(fields), files)


def _key_from_request(request: web.Request) -> str | None:
    return request.headers.get("X-Api-Key") or request.query.get("apikey") or request.query.get("passkey") or None


def _route_of(path: str) -> str:
    return DOWNLOAD if path.startswith(DOWNLOAD + "/") else path


def _first(values: list[str] | None, default: Any = None) -> Any:
    return values[0] if values else default


def _torrent_size(info: dict[bytes, Any]) -> int:
    if isinstance(info.get(b"length"), int):
        return int(info[b"length"])
    return sum(int(f.get(b"length", 0)) for f in info.get(b"files") or () if isinstance(f, dict))


def _default_error(status: int) -> str:
    return {
        400: "Requête invalide",
        401: "API key manquant",
        403: "Access denied",
        404: "Introuvable",
        409: "Torrent déjà existant",
        429: "Trop de requêtes",
    }.get(status, "Erreur serveur")


# -- standalone ---------------------------------------------------------------------------
_DEMO = [
    ("One.Piece.S01E01.1080p.WEB.x264-LACALE", "Séries HD", "37854"),
    ("Le.Comte.de.Monte-Cristo.2024.FRENCH.1080p.BluRay.x265", "Films HD", "1084736"),
    ("Astérix.et.Obélix.Mission.Cléopâtre.2002.MULTI.2160p", "Films HD", "2899"),
    ("Dune.Part.Two.2024.MULTI.1080p.WEB", "Films", "693134"),
    ("Arcane.S02.MULTI.1080p.WEB", "Séries TV", "94605"),
    ("Daft.Punk.Discovery.2001.FLAC", "FLAC", None),
    ("Debian.12.5.amd64.DVD", "Linux", None),
]


def _seed_demo(fake: FakeLaCale, count: int) -> None:
    for i in range(count):
        title, label, tmdb = _DEMO[i % len(_DEMO)]
        suffix = f".v{i // len(_DEMO) + 1}" if i >= len(_DEMO) else ""
        fake.add_torrent(title + suffix, category_label=label, tmdb_id=tmdb, seeders=10 + i, leechers=i % 4)


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeLaCale(
        keys=args.key or [DEFAULT_KEY],
        host=args.host,
        port=args.port,
        drift=args.drift,
        refuse_empty=args.refuse_empty,
        expand_parents=args.expand_parents,
        cache_seconds=args.cache_seconds,
    )
    _seed_demo(fake, args.seed)
    await fake.start()
    print(fake.base_url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.lacale", description="Run a fake La Cale API locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--key", action="append", help="accepted API key (repeatable)")
    parser.add_argument("--seed", type=int, default=len(_DEMO), help="number of demo torrents")
    parser.add_argument("--drift", action="store_true", help="answer like the drifted live service")
    parser.add_argument("--refuse-empty", action="store_true", help="refuse searches without terms")
    parser.add_argument("--expand-parents", action="store_true", help="a parent category includes its children")
    parser.add_argument("--cache-seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
