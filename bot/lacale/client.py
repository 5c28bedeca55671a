"""Async client of La Cale's external API.

Everything past this module sees typed models and typed errors only: the live service
drifted from its documentation (extra fields, ``null`` lists, Cloudflare HTML pages,
empty searches refused), so every such variation is absorbed or turned into a
:mod:`bot.lacale.errors` class here, once.

Security rules that shape the code:
- the key travels only in the ``X-Api-Key`` header, never in a URL (URLs end up in logs,
  proxies and error messages);
- redirects are not followed: aiohttp would resend our custom header to wherever the
  ``Location`` points;
- no message, log line or ``repr`` carries the key; server-provided text is scrubbed of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal

import aiohttp
from pydantic import ValidationError

from bot.lacale.errors import (
    BadRequest,
    ConnectionFailed,
    Duplicate,
    InvalidRequest,
    KeyRefused,
    LaCaleError,
    MalformedResponse,
    MissingKey,
    NotFound,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    Timeout,
)
from bot.lacale.limits import KeyLimiter
from bot.lacale.models import Meta, Torrent, UploadRequest, UploadResult
from bot.limits import CATEGORY_MAX, INFO_HASH_MAX, QUERY_MAX, TMDB_ID_MAX

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://la-cale.space"

#: Used when a 429 carries no usable Retry-After.
DEFAULT_RETRY_AFTER = 5.0
#: Largest answers read, by kind. An answer is read in chunks up to its cap and never
#: whole first: a hostile or broken server streaming hundreds of MiB must not grow the
#: bot's memory by as much (a 200 MiB answer once cost 411 MiB).
#: A .torrent is a few hundred KB at most; anything far bigger is not one.
MAX_TORRENT_BYTES = 20 * 1024 * 1024
#: A search page (50 results) is ~50 KB and the metadata a few KB; 8 MiB leaves room
#: for growth without letting one answer weigh on the process.
MAX_JSON_BYTES = 8 * 1024 * 1024
#: Of an error answer only the message is used: the rest is not read.
MAX_ERROR_BYTES = 64 * 1024
_READ_CHUNK = 64 * 1024
#: Server text is quoted in errors; keep it to one readable line.
MAX_MESSAGE = 300

SEARCH_PATH = "/api/external"
META_PATH = "/api/external/meta"
UPLOAD_PATH = "/api/external/upload"
DOWNLOAD_PATH = "/api/torrents/download/"

_INFO_HASH = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_HTML_START = (b"<!doctype", b"<html", b"<head", b"<body", b"<!--")

Params = list[tuple[str, str]]
#: Told of every HTTP exchange with La Cale: (path, the typed error or None, seconds).
RequestObserver = Callable[[str, "BaseException | None", float], None]
Expect = Literal["json", "torrent", "search"]


def is_info_hash(value: str) -> bool:
    """40 hex (v1) or 64 hex (v2) characters, lower case."""
    return bool(_INFO_HASH.match(value))


def parse_retry_after(value: str | None, *, default: float = DEFAULT_RETRY_AFTER) -> float:
    """Seconds to wait from a ``Retry-After`` header: delay in seconds or an HTTP date."""
    if not value:
        return default
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else default  # NaN guard
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class LaCaleClient:
    """One member's (or the operator's) access to La Cale.

    Cheap to create: pass a shared ``session`` (connection pool) and the key's ``limiter``
    from a :class:`~bot.lacale.limits.LimiterRegistry` so that pacing survives the client.
    Without a limiter the client paces nothing between searches (one-shot CLI use) but still
    honours 429 pauses and the upload limit for its own lifetime.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        limiter: KeyLimiter | None = None,
        timeout: float = 20.0,
        max_retries: int = 3,
        max_retry_after: float = 60.0,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
        max_json_bytes: int = MAX_JSON_BYTES,
        max_torrent_bytes: int = MAX_TORRENT_BYTES,
        search_priority: bool = False,
        search_max_wait: float | None = None,
        observe: RequestObserver | None = None,
    ) -> None:
        """``search_priority`` (alert polls): searches take the key's next slot ahead of
        queued ordinary ones. ``search_max_wait`` (members): a search whose slot is further
        away raises :class:`~bot.lacale.errors.KeyBusy` at once instead of queueing. Both
        keep the key's spacing (see :class:`~bot.lacale.limits.KeyLimiter`)."""
        _check_key(api_key)
        if not base_url.startswith(("http://", "https://")):
            raise InvalidRequest("base URL must start with http:// or https://", field="base_url")
        self._key = api_key
        self._base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._limiter = limiter if limiter is not None else KeyLimiter(search_interval=0.0)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retries = max(0, max_retries)
        self._max_retry_after = max_retry_after
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_json_bytes = max_json_bytes
        self._max_torrent_bytes = max_torrent_bytes
        self._search_priority = search_priority
        self._search_max_wait = search_max_wait
        self._observe = observe

    def __repr__(self) -> str:  # the default repr would be harmless, but say it: no key here
        return f"<LaCaleClient base_url={self._base_url!r}>"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def limiter(self) -> KeyLimiter:
        return self._limiter

    # -- lifecycle ----------------------------------------------------------------------
    async def __aenter__(self) -> LaCaleClient:
        self._ensure_session()
        return self

    async def __aexit__(
        self, _exc_type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it (a shared one belongs to its owner)."""
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()
        if self._owns_session:
            self._session = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or (self._owns_session and self._session.closed):
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    # -- public API ---------------------------------------------------------------------
    async def search(
        self,
        query: str | None = None,
        *,
        tmdb_id: str | None = None,
        categories: Sequence[str] = (),
    ) -> list[Torrent]:
        """Approved torrents matching all given filters, newest first (50 at most).

        ``categories`` are slugs sent as-is (repeated ``cat``); expanding a parent into its
        children is the caller's business (:meth:`Meta.expand_category`).
        """
        q = (query or "").strip()
        tmdb = str(tmdb_id).strip() if tmdb_id is not None else ""
        cats = [str(c).strip() for c in categories if str(c).strip()]
        _check_search(q, tmdb, cats)
        params: Params = []
        if tmdb:
            params.append(("tmdbId", tmdb))
        params.extend(("cat", c) for c in cats)
        if q:
            data = await self._search_request([("q", q), *params])
        else:
            data = await self._empty_search(params)
        return list(data)

    async def meta(self) -> Meta:
        """Categories, tag groups and tags: slugs for searching, ids for uploading."""
        data = await self._call("GET", META_PATH, expect="json", retry=True)
        if not isinstance(data, dict):
            raise MalformedResponse("La Cale sent meta data of an unexpected shape")
        try:
            return Meta.model_validate(data)
        except ValidationError as exc:
            raise MalformedResponse(f"La Cale sent meta data of an unexpected shape ({_error_locs(exc)})") from None

    async def upload(self, req: UploadRequest) -> UploadResult:
        """Publish a torrent. Never retried: a timeout may hide a success (a retry would then
        get 409), and a 5xx may have stored it; the caller decides with the member."""
        _check_upload(req)
        self._limiter.acquire_upload()
        data = await self._call(
            "POST", UPLOAD_PATH, expect="json", retry=False, form=lambda: _upload_form(req), upload=True
        )
        return _parse_upload(data, self._scrub)

    async def download_torrent(self, info_hash: str) -> bytes:
        """The .torrent file as La Cale serves it to this key.

        Personal: its announce URL embeds the account's passkey, so it must only ever be
        handed to the key's owner.
        """
        h = info_hash.strip().lower()
        if not is_info_hash(h):
            raise InvalidRequest(
                "info hash must be 40 or 64 hexadecimal characters", field="info_hash", limit=INFO_HASH_MAX
            )
        body = await self._call("GET", DOWNLOAD_PATH + h, expect="torrent", retry=True)
        if not isinstance(body, bytes):
            raise TypeError(f"expected bytes, got {type(body).__name__}")
        return body

    # -- search helpers -----------------------------------------------------------------
    async def _search_request(self, params: Params) -> Any:
        return await self._call("GET", SEARCH_PATH, params=params, expect="search", retry=True, pace=True)

    async def _empty_search(self, params: Params) -> Any:
        """A search without terms: sent without ``q``, or as ``q=*`` once the server refused
        that (it did, for a while). Whichever worked is remembered for every later call."""
        quirks = self._limiter.quirks
        first, second = ("*", "") if quirks.empty_query == "*" else ("", "*")
        try:
            data = await self._search_request(_with_q(first, params))
        except BadRequest as refused:
            log.debug("empty search refused (%s); trying %r", refused.message, second or "no q")
            data = await self._search_request(_with_q(second, params))
            quirks.empty_query = second
            return data
        quirks.empty_query = first
        return data

    # -- transport ----------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        path: str,
        *,
        expect: Expect,
        retry: bool,
        params: Params | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        upload: bool = False,
        pace: bool = False,
    ) -> Any:
        """One logical call: pause check, pacing, then attempts with backoff for GETs."""
        self._limiter.check_paused()
        attempt = 0
        while True:
            if attempt:
                await self._wait_pause()
            if pace:
                await self._limiter.acquire_search(
                    check_pause=not attempt, priority=self._search_priority, max_wait=self._search_max_wait
                )
            try:
                return await self._attempt(method, path, expect=expect, params=params, form=form, upload=upload)
            except RateLimited as exc:
                self._limiter.pause(exc.retry_after)
                if not retry or attempt >= self._max_retries or exc.retry_after > self._max_retry_after:
                    raise
                delay = exc.retry_after
            except (ServerError, Timeout, ConnectionFailed) as exc:
                if not retry or attempt >= self._max_retries:
                    raise
                delay = self._backoff(attempt)
                log.info(
                    "%s %s failed (%s), retry %d/%d in %.2f s",
                    method,
                    path,
                    type(exc).__name__,
                    attempt + 1,
                    self._max_retries,
                    delay,
                )
            attempt += 1
            await asyncio.sleep(delay)

    async def _wait_pause(self) -> None:
        """Before a retry: another call of this key may have been told to wait meanwhile."""
        remaining = self._limiter.paused_for()
        if remaining > self._max_retry_after:
            self._limiter.check_paused()
        if remaining > 0:
            await asyncio.sleep(remaining)

    def _backoff(self, attempt: int) -> float:
        """Exponential, jittered between half and all of the step: many clients retrying
        after one outage spread out instead of hitting the server in waves."""
        ceiling = min(self._backoff_max, self._backoff_base * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)

    async def _attempt(
        self,
        method: str,
        path: str,
        *,
        expect: Expect,
        params: Params | None,
        form: Callable[[], aiohttp.FormData] | None,
        upload: bool,
    ) -> Any:
        """One HTTP exchange, every failure turned into a typed error; each one is told
        to ``observe`` (the bot's metrics), whatever its outcome."""
        if self._observe is None:
            return await self._exchange(method, path, expect=expect, params=params, form=form, upload=upload)
        started = time.monotonic()
        error: BaseException | None = None
        try:
            return await self._exchange(method, path, expect=expect, params=params, form=form, upload=upload)
        except BaseException as exc:
            error = exc
            raise
        finally:
            if not isinstance(error, asyncio.CancelledError):
                self._observe(path, error, time.monotonic() - started)

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        expect: Expect,
        params: Params | None,
        form: Callable[[], aiohttp.FormData] | None,
        upload: bool,
    ) -> Any:
        session = self._ensure_session()
        headers = {
            "X-Api-Key": self._key,
            "Accept": "application/x-bittorrent" if expect == "torrent" else "application/json",
        }
        started = time.monotonic()
        try:
            async with session.request(
                method,
                self._base_url + path,
                params=params,
                data=form() if form is not None else None,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                status = resp.status
                content_type = resp.content_type
                retry_after = resp.headers.get("Retry-After")
                if 200 <= status < 300:
                    body = await _read_capped(
                        resp, self._max_torrent_bytes if expect == "torrent" else self._max_json_bytes, expect
                    )
                else:
                    body = await _read_capped(resp, MAX_ERROR_BYTES, None)
        except TimeoutError:
            raise Timeout(_timeout_message(upload)) from None
        except aiohttp.ClientConnectionError as exc:
            raise ConnectionFailed(f"cannot reach La Cale ({type(exc).__name__})") from None
        except aiohttp.ClientError as exc:
            raise ConnectionFailed(f"exchange with La Cale failed ({type(exc).__name__})") from None
        except OSError as exc:
            raise ConnectionFailed(f"cannot reach La Cale ({exc.strerror or type(exc).__name__})") from None
        except ValueError:  # e.g. aiohttp refusing a malformed URL built from the base URL
            raise ConnectionFailed("cannot reach La Cale (invalid URL)") from None
        log.debug("%s %s -> %d in %.0f ms", method, path, status, (time.monotonic() - started) * 1000)
        if 200 <= status < 300:
            return _decode(body, content_type, expect)
        raise self._error_for(status, body, content_type, retry_after, upload=upload)

    def _error_for(
        self, status: int, body: bytes, content_type: str, retry_after: str | None, *, upload: bool
    ) -> LaCaleError:
        """The typed error for a non-2xx answer."""
        html = _looks_like_html(body, content_type)
        if html and status in (403, 503):
            # Cloudflare's challenge: the service is unreachable for a program, whatever the key.
            return MalformedResponse(f"La Cale answered with a web page (HTTP {status}) instead of the API")
        message = self._scrub(_server_message(body, content_type) if not html else "")
        if status == 400:
            return BadRequest(message or "request refused by La Cale", status=400)
        if status == 401:
            return MissingKey(message or "API key missing")
        if status == 403:
            return KeyRefused(message or "API key refused", upload=upload)
        if status == 404:
            return NotFound(message or "not found", status=404)
        if status == 409:
            return Duplicate(message or "torrent already on La Cale (same info hash)", status=409)
        if status == 429:
            return RateLimited(message or "rate limited by La Cale", retry_after=parse_retry_after(retry_after))
        if status >= 500:
            return ServerError(
                f"La Cale server error (HTTP {status})" + (f": {message}" if message else ""), status=status
            )
        if 300 <= status < 400:
            return MalformedResponse(f"La Cale answered with an unexpected redirect (HTTP {status})", status=status)
        return MalformedResponse(f"La Cale answered with unexpected HTTP {status}", status=status)

    def _scrub(self, text: str) -> str:
        """Server text is echoed to users and logs: never let it carry the key."""
        return text.replace(self._key, "***") if self._key in text else text


# -- request checks (before anything is sent) ---------------------------------------------
def _check_key(api_key: str) -> None:
    """A key that cannot go in a header would make aiohttp raise a bare ValueError later."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise InvalidRequest("an API key is required", field="api_key")
    if not api_key.isascii() or not api_key.isprintable() or any(c.isspace() for c in api_key) or len(api_key) > 512:
        raise InvalidRequest("the API key has characters a key cannot have", field="api_key", limit=512)


def _check_search(q: str, tmdb: str, cats: list[str]) -> None:
    if len(q) > QUERY_MAX:
        raise InvalidRequest(f"search text longer than {QUERY_MAX} characters", field="q", limit=QUERY_MAX)
    if len(tmdb) > TMDB_ID_MAX:
        raise InvalidRequest(f"TMDB id longer than {TMDB_ID_MAX} characters", field="tmdbId", limit=TMDB_ID_MAX)
    for cat in cats:
        if len(cat) > CATEGORY_MAX:
            raise InvalidRequest(f"category longer than {CATEGORY_MAX} characters", field="cat", limit=CATEGORY_MAX)


def _check_upload(req: UploadRequest) -> None:
    if not req.title.strip():
        raise InvalidRequest("a title is required", field="title")
    if not req.category_id.strip():
        raise InvalidRequest("a category is required", field="categoryId")
    if not req.torrent.content:
        raise InvalidRequest("the .torrent file is empty", field="file")
    if not req.torrent.content.startswith(b"d"):
        raise InvalidRequest("the file is not a .torrent", field="file")
    if any(not t.strip() for t in req.tags):
        raise InvalidRequest("empty tag id", field="tags")
    if req.tmdb_id is not None and len(str(req.tmdb_id)) > TMDB_ID_MAX:
        raise InvalidRequest(f"TMDB id longer than {TMDB_ID_MAX} characters", field="tmdbId", limit=TMDB_ID_MAX)
    if req.tmdb_type is not None and str(req.tmdb_type).upper() not in ("MOVIE", "TV"):
        raise InvalidRequest("TMDB type must be MOVIE or TV", field="tmdbType")


def _with_q(q: str, params: Params) -> Params:
    return [("q", q), *params] if q else list(params)


def _upload_form(req: UploadRequest) -> aiohttp.FormData:
    """Multipart body; built per attempt because aiohttp consumes FormData once."""
    form = aiohttp.FormData()
    form.add_field("title", req.title.strip())
    form.add_field("categoryId", req.category_id.strip())
    for tag in req.tags:
        form.add_field("tags", tag.strip())  # repeated field: a JSON array made the server fail
    if req.description:
        form.add_field("description", req.description)
    if req.tmdb_id:
        form.add_field("tmdbId", str(req.tmdb_id).strip())
    if req.tmdb_type:
        form.add_field("tmdbType", str(req.tmdb_type).upper())
    if req.cover_url:
        form.add_field("coverUrl", req.cover_url.strip())
    form.add_field(
        "file",
        req.torrent.content,
        filename=req.torrent.filename or "upload.torrent",
        content_type="application/x-bittorrent",
    )
    if req.nfo is not None:
        form.add_field(
            "nfoFile", req.nfo.content, filename=req.nfo.filename or "release.nfo", content_type="text/plain"
        )
    return form


# -- answer reading and decoding ----------------------------------------------------------
async def _read_capped(resp: aiohttp.ClientResponse, limit: int, expect: Expect | None) -> bytes:
    """The body, read chunk by chunk up to ``limit`` bytes.

    A success larger than ``limit`` is refused: from its ``Content-Length`` before a byte
    is read, or as soon as the chunks pass the limit (chunked, absent or lying length;
    aiohttp decompresses as it reads, so a small gzip bomb is caught too). Leaving the
    ``async with`` with the body unread closes the connection instead of draining it.
    An error answer (``expect`` None) is cut at ``limit`` instead: only its message is used.
    """
    declared = resp.content_length
    what = "a .torrent file" if expect == "torrent" else "an answer"
    if expect is not None and declared is not None and declared > limit:
        raise ResponseTooLarge(
            f"La Cale announced {what} of {declared} bytes, more than the {limit} accepted",
            limit=limit,
            declared=declared,
        )
    body = bytearray()
    async for chunk in resp.content.iter_chunked(_READ_CHUNK):
        room = limit - len(body)
        if len(chunk) > room:
            if expect is None:
                body += chunk[:room]
                break
            raise ResponseTooLarge(
                f"La Cale sent {what} larger than the {limit} bytes accepted; stopped reading",
                limit=limit,
                declared=declared,
                received=len(body) + len(chunk),
            )
        body += chunk
    return bytes(body)


def _looks_like_html(body: bytes, content_type: str) -> bool:
    if content_type in ("text/html", "application/xhtml+xml"):
        return True
    return body[:64].lstrip().lower().startswith(_HTML_START)


def _decode(body: bytes, content_type: str, expect: Expect) -> Any:
    if expect == "torrent":
        if not body.startswith(b"d") or _looks_like_html(body, content_type):
            raise MalformedResponse("La Cale did not send a .torrent file")
        return body
    if _looks_like_html(body, content_type):
        raise MalformedResponse("La Cale answered with a web page instead of the API (Cloudflare?)")
    if expect == "search":
        return _parse_search_body(body)
    try:
        return json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise MalformedResponse("La Cale sent an answer that is not JSON") from None


def _server_message(body: bytes, content_type: str) -> str:
    """The human text of an error body: JSON ``error``/``message``, or the text itself."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                text = value
                break
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                text = value["message"]
                break
    elif isinstance(data, str):
        text = data
    text = " ".join(text.split())
    return text[:MAX_MESSAGE] + ("…" if len(text) > MAX_MESSAGE else "")


def _error_locs(exc: ValidationError) -> str:
    """Where validation failed, without the offending values (they could be anything)."""
    locs = sorted({".".join(str(p) for p in err.get("loc", ())) or "root" for err in exc.errors()})
    return ", ".join(locs[:5])


#: Parsed search answers by the SHA-1 of their bytes. The newest page is the same bytes
#: for every key polling it (and again while the server's ~30 s cache holds): parsing
#: it once instead of once per key is most of a poll cycle's CPU. Torrents are frozen,
#: so sharing them between callers is safe.
_PARSED_PAGES: OrderedDict[bytes, tuple[Torrent, ...]] = OrderedDict()
_PARSED_PAGES_MAX = 256


def _parse_search_body(body: bytes) -> tuple[Torrent, ...]:
    digest = hashlib.sha1(body, usedforsecurity=False).digest()
    cached = _PARSED_PAGES.get(digest)
    if cached is not None:
        _PARSED_PAGES.move_to_end(digest)
        return cached
    try:
        data = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise MalformedResponse("La Cale sent an answer that is not JSON") from None
    parsed = tuple(_parse_search(data))
    _PARSED_PAGES[digest] = parsed
    if len(_PARSED_PAGES) > _PARSED_PAGES_MAX:
        _PARSED_PAGES.popitem(last=False)
    return parsed


def _parse_search(data: Any) -> list[Torrent]:
    """Results, skipping malformed items: one bad row must not hide the 49 good ones.

    A non-empty list where *nothing* parses is a changed shape, reported as such.
    """
    if not isinstance(data, list):
        raise MalformedResponse("La Cale sent search results of an unexpected shape")
    out: list[Torrent] = []
    for index, item in enumerate(data):
        torrent = _parse_item(index, item)
        if torrent is not None:
            out.append(torrent)
    if data and not out:
        raise MalformedResponse("La Cale sent search results none of which could be read")
    return out


def _parse_item(index: int, item: Any) -> Torrent | None:
    if not isinstance(item, dict):
        log.debug("skipping search result #%d: not an object", index)
        return None
    try:
        torrent = Torrent.model_validate(item)
    except (ValidationError, ValueError, TypeError) as exc:
        where = _error_locs(exc) if isinstance(exc, ValidationError) else type(exc).__name__
        log.debug("skipping search result #%d: invalid %s", index, where)
        return None
    if not is_info_hash(torrent.info_hash):
        log.debug("skipping search result #%d: invalid infoHash", index)
        return None
    return torrent


def _parse_upload(data: Any, scrub: Callable[[str], str]) -> UploadResult:
    if not isinstance(data, dict):
        raise MalformedResponse("La Cale sent an upload answer of an unexpected shape")
    if data.get("success") is False:
        message = next((v for k in ("error", "message") if isinstance(v := data.get(k), str) and v.strip()), "")
        raise BadRequest(scrub(" ".join(message.split())[:MAX_MESSAGE]) or "upload refused by La Cale", status=400)
    try:
        return UploadResult.model_validate(data)
    except ValidationError as exc:
        raise MalformedResponse(f"La Cale sent an upload answer of an unexpected shape ({_error_locs(exc)})") from None


def _timeout_message(upload: bool) -> str:
    if upload:
        return "La Cale did not answer in time: the upload may have gone through, check before sending it again"
    return "La Cale did not answer in time"


__all__ = [
    "DEFAULT_BASE_URL",
    "LaCaleClient",
    "is_info_hash",
    "parse_retry_after",
]
