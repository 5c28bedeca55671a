"""Uploading a member's .torrent to La Cale: validation, the draft the preview shows, the
source flag, and sending it exactly once.

No Discord here: the cog hands over plain values (bytes, file names, ids, whether the member
may manage the server) and ``bot/ui/upload_view.py`` renders drafts and outcomes. Every
refusal is a :class:`~bot.errors.UserError` with its own message key, raised before
anything reaches La Cale.

Why the sending path is careful:

* La Cale answers 409 for a torrent it already has, and an upload is never retried by the
  client: a timeout or a 5xx may hide an upload that *was* stored. So after such a failure
  the service looks on the site (search by title, then the download route by info hash)
  before the member is offered to send again; and while the database holds an attempt of
  the same file whose fate is unknown, every new attempt (another preview, after a
  restart) looks first.
* A double click on Confirm, or two previews of the same file, must not produce two
  requests: a draft id and the file's original info hash are held while a request is in
  flight, and a draft that ended (uploaded, duplicate) answers its first outcome again.
* Every attempt is stored (``UploadRecord``): written before the request, completed after,
  so even a crash mid-upload leaves a trace in ``/uploads``.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
import secrets
import unicodedata
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import UploadRecord
from bot.db.types import utcnow
from bot.errors import UserError
from bot.lacale.errors import (
    BadRequest,
    Duplicate,
    KeyRefused,
    LaCaleError,
    MissingKey,
    NotFound,
    RateLimited,
    Unavailable,
)
from bot.lacale.models import (
    FlatCategory,
    Meta,
    Tag,
    TmdbType,
    UploadFile,
    UploadRequest,
    UploadResult,
    normalize_text,
    url_carries_secret,
)
from bot.services.catalog import resolve_tags
from bot.services.guilds import GuildService, ResolvedKey
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.search import SearchService, build_query
from bot.torrents import (
    DEFAULT_MAX_BYTES,
    LACALE_SOURCE,
    TorrentFileError,
    TorrentInfo,
    clean_title,
    has_lacale_source,
    read_torrent,
    redact_announce,
    set_source,
)

log = logging.getLogger(__name__)

#: Longest title accepted: the torrent-name default is cut there too (``clean_title``), and
#: it is La Cale's cap on a search (``q``), so the title can be searched after a 409 or a
#: timeout to find the torrent on the site.
TITLE_MAX = 200
#: Uploaders saw La Cale treat an NFO under ~50 characters as invalid.
NFO_MIN_CHARS = 50
#: An NFO is a few KiB of text; 512 KiB leaves room for huge ASCII art and refuses dumps.
NFO_MAX_BYTES = 512 * 1024
#: Below Discord's 6000-character cap on an option, and what a preview can summarise.
DESCRIPTION_MAX = 4000
#: The API's own cap on ``tmdbId``.
TMDB_MAX = 64
COVER_URL_MAX = 2048
#: A select menu holds 25 options: more tags than that could not be edited in the preview.
MAX_TAGS = 25
#: How much of the NFO the preview shows.
NFO_EXCERPT_LINES = 12
NFO_EXCERPT_CHARS = 600
RECENT_LIMIT = 10
#: A server that timed out may still be writing the torrent: wait a little before looking.
VERIFY_DELAY = 2.0
#: Draft states kept in memory (a preview lives 10 minutes; this is far more than enough).
MAX_TRACKED_DRAFTS = 2048

_CONTROL_OK = frozenset("\t\n\r\f\x1a\x1b")  # tabs, newlines, DOS EOF, ANSI art's ESC
_URL_FORBIDDEN = re.compile(r"[\s<>\"`{}|\\^\x00-\x1f\x7f]")
_SLUG = re.compile(r"[A-Za-z0-9._~-]+")
_GROUP_QUALIFIER = re.compile(r"\(([^()]+)\)\s*$")


# ---------------------------------------------------------------------------------------
# Values shown in messages


def _code(text: str, limit: int = 60) -> str:
    """Member-typed text quoted in a message: inline code renders no Markdown and no
    mention, so it shows exactly as typed (backticks, the one thing that would close it,
    are swapped)."""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "`" + (text.replace("`", "'") or " ") + "`"


def _mib(size: int) -> str:
    """A cap in MiB as people write it: ``10``, ``2.5``, ``0.00391`` (tiny test caps)."""
    return f"{size / (1024 * 1024):.3g}"


# ---------------------------------------------------------------------------------------
# Validation: each function refuses one kind of bad input with its own message


def check_torrent_attachment(filename: str, size: int, max_bytes: int) -> None:
    """Called with the attachment's *declared* name and size, before downloading it: a
    200 MiB video attached by mistake is refused without being fetched."""
    if not filename.strip().lower().endswith(".torrent"):
        raise UserError("upload.torrent.not_torrent", filename=_code(filename))
    if size > max_bytes:
        raise UserError("upload.torrent.too_large", limit=_mib(max_bytes))
    if size <= 0:
        raise UserError("upload.torrent.empty")


def check_nfo_attachment(size: int) -> None:
    """Declared size of the .nfo, checked before downloading it."""
    if size > NFO_MAX_BYTES:
        raise UserError("upload.nfo.too_large", limit=NFO_MAX_BYTES // 1024)
    if size <= 0:
        raise UserError("upload.nfo.too_short", minimum=NFO_MIN_CHARS)


_TORRENT_REASON_KEYS = {
    "too_large": "upload.torrent.too_large",
    "empty": "upload.torrent.empty",
    "not_bencode": "upload.torrent.not_bencode",
    "no_info": "upload.torrent.no_info",
    "invalid": "upload.torrent.invalid",
}


async def read_torrent_file(data: bytes, max_bytes: int) -> TorrentInfo:
    """Parse in a thread (torf needs seconds for a 60,000-file torrent: the event loop,
    and every other member's command, must not wait) and map failures to messages."""
    try:
        return await asyncio.to_thread(read_torrent, data, max_bytes=max_bytes)
    except TorrentFileError as exc:
        log.info("refused .torrent: %s", exc)
        raise UserError(_TORRENT_REASON_KEYS[exc.reason], limit=_mib(exc.limit or max_bytes)) from None


def _looks_like_cp437_art(data: bytes) -> bool:
    """Scene NFOs are CP437 (box drawing and blocks sit in 0xB0–0xDF); French text written
    on Windows is CP1252, whose accented letters sit mostly in 0xE0–0xFF."""
    art = sum(1 for b in data if 0xB0 <= b <= 0xDF)
    letters = sum(1 for b in data if b >= 0xE0)
    return art > letters


def decode_nfo(data: bytes) -> str:
    """The NFO as text, or a refusal: too large, not text (a picture, an archive...), or
    too short. UTF-8 (with or without BOM) and UTF-16 with BOM are read as such; anything
    else is CP437 when it looks like ASCII art, CP1252 (then Latin-1) otherwise. The bytes
    sent to La Cale are the original ones: decoding only validates and makes the excerpt."""
    if len(data) > NFO_MAX_BYTES:
        raise UserError("upload.nfo.too_large", limit=NFO_MAX_BYTES // 1024)
    text: str | None = None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise UserError("upload.nfo.not_text") from None
    elif b"\x00" in data:
        raise UserError("upload.nfo.not_text")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            if _looks_like_cp437_art(data):
                text = data.decode("cp437")
            else:
                try:
                    text = data.decode("cp1252")
                except UnicodeDecodeError:
                    text = data.decode("latin-1")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in _CONTROL_OK)
    if "\x00" in text or controls > max(8, len(text) // 100):
        raise UserError("upload.nfo.not_text")
    if len(text.strip()) < NFO_MIN_CHARS:
        raise UserError("upload.nfo.too_short", minimum=NFO_MIN_CHARS)
    return text


def nfo_excerpt(text: str) -> str:
    """The first lines of the NFO, right-trimmed, for the preview."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    excerpt = "\n".join(lines[:NFO_EXCERPT_LINES]).rstrip()
    if len(excerpt) > NFO_EXCERPT_CHARS:
        excerpt = excerpt[: NFO_EXCERPT_CHARS - 1] + "…"
    elif len(lines) > NFO_EXCERPT_LINES:
        excerpt += "\n…"
    return excerpt


def check_title(raw: str) -> str:
    """Control characters become spaces, runs of spaces one; empty or over
    :data:`TITLE_MAX` is refused (never silently cut: the member chose this title)."""
    title = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in raw)
    title = " ".join(title.split())
    if not title:
        raise UserError("upload.title.empty")
    if len(title) > TITLE_MAX:
        raise UserError("upload.title.too_long", limit=TITLE_MAX, length=len(title))
    return title


def resolve_category(meta: Meta, value: str) -> FlatCategory:
    """Autocomplete sends an id; a member may also type a slug or a label."""
    wanted = value.strip()
    if not wanted:
        raise UserError("upload.category.unknown", category=_code(value))
    flats = list(meta.walk_categories())
    for match in (
        lambda f: f.category.id == wanted,
        lambda f: f.category.slug.lower() == wanted.lower(),
    ):
        found = [f for f in flats if match(f)]
        if found:
            return found[0]
    norm = normalize_text(wanted)
    by_label = [f for f in flats if normalize_text(f.category.name) == norm or normalize_text(f.label) == norm]
    if len(by_label) == 1:
        return by_label[0]
    raise UserError("upload.category.unknown", category=_code(value))


def resolve_tag_list(meta: Meta, typed: str | None) -> tuple[Tag, ...]:
    """Comma-separated names, slugs or ids; every unknown one is named in the refusal."""
    if not typed or not typed.strip():
        return ()
    found, unknown = resolve_tags(meta, typed)
    if unknown:
        shown = ", ".join(_code(item, 40) for item in unknown[:10])
        raise UserError("upload.tags.unknown", tags=shown)
    if len(found) > MAX_TAGS:
        raise UserError("upload.tags.too_many", limit=MAX_TAGS)
    return tuple(found)


def check_tmdb(tmdb: str | None, tmdb_type: str | None) -> tuple[str | None, TmdbType | None]:
    """Both or neither: La Cale needs the type to know which TMDB id it is."""
    tmdb_id = (tmdb or "").strip() or None
    kind = (tmdb_type or "").strip().upper() or None
    if kind is not None and kind not in ("MOVIE", "TV"):
        raise UserError("upload.tmdb.bad_type")
    if tmdb_id is not None:
        if not tmdb_id.isascii() or not tmdb_id.isdigit():
            raise UserError("upload.tmdb.not_digits")
        if len(tmdb_id) > TMDB_MAX:
            raise UserError("upload.tmdb.too_long", limit=TMDB_MAX)
        if kind is None:
            raise UserError("upload.tmdb.missing_type")
    elif kind is not None:
        raise UserError("upload.tmdb.missing_id")
    return tmdb_id, kind  # type: ignore[return-value]


def check_cover_url(url: str | None) -> str | None:
    """A well-formed public ``https://`` URL with a host; no credentials in it (it is shown
    in the preview and La Cale fetches it)."""
    value = (url or "").strip()
    if not value:
        return None
    if len(value) > COVER_URL_MAX:
        raise UserError("upload.cover.too_long", limit=COVER_URL_MAX)
    if _URL_FORBIDDEN.search(value):
        raise UserError("upload.cover.invalid")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a non-numeric port
    except ValueError:
        raise UserError("upload.cover.invalid") from None
    if parts.scheme.lower() != "https":
        raise UserError("upload.cover.not_https")
    host = (parts.hostname or "").strip(".")
    if "." not in host:  # a public host has a domain (no "localhost", no bare names)
        raise UserError("upload.cover.invalid")
    if "@" in parts.netloc or port == 0:
        raise UserError("upload.cover.invalid")
    if url_carries_secret(value):
        raise UserError("upload.cover.secret")
    return value


def check_description(description: str | None) -> str | None:
    text = (description or "").strip()
    if not text:
        return None
    if len(text) > DESCRIPTION_MAX:
        raise UserError("upload.description.too_long", limit=DESCRIPTION_MAX)
    return text


def tag_choices(meta: Meta, category_path: Sequence[str], current: Sequence[Tag], limit: int = MAX_TAGS) -> tuple[Tag, ...]:
    """At most ``limit`` tags for the preview's select menu (Discord allows 25 options).

    The metadata does not say which tags fit which category, but groups meant for one
    category name it in parentheses ("Plateforme (Jeux)", "Type (Séries)"). Order: the
    tags already chosen (never dropped), then the groups naming the draft's category (or a
    parent), then the groups naming none, then the ungrouped tags, then the groups meant
    for other categories while room remains.
    """
    path = [normalize_text(p) for p in category_path if p.strip()]

    def fits(qualifier: str) -> bool:
        q = normalize_text(qualifier.strip())
        return bool(q) and any(q in p or p in q for p in path)

    matching: list[Tag] = []
    general: list[Tag] = []
    other: list[Tag] = []
    for group in sorted(meta.tag_groups, key=lambda g: g.order):
        qualifier = _GROUP_QUALIFIER.search(group.name)
        bucket = general if qualifier is None else matching if fits(qualifier.group(1)) else other
        bucket.extend(group.tags)
    out: dict[str, Tag] = {}
    for tag in (*current, *matching, *general, *meta.ungrouped_tags, *other):
        if len(out) >= max(limit, len(current)):
            break
        out.setdefault(tag.id, tag)
    return tuple(out.values())


# ---------------------------------------------------------------------------------------
# Drafts and outcomes


@dataclass(frozen=True, slots=True)
class UploadDraft:
    """Everything that will be sent, validated, plus what the preview explains.

    Immutable: changing the tags or fixing the source flag gives a new draft with the same
    ``id`` (the guard against double sending follows the id and the original info hash).
    The key itself never appears in ``repr``; ``key_fingerprint`` names the account.
    """

    id: str
    guild_id: int | None
    user_id: int
    title: str
    category_id: str
    category_label: str
    category_path: tuple[str, ...]
    tags: tuple[Tag, ...]
    tag_options: tuple[Tag, ...]
    description: str | None
    tmdb_id: str | None
    tmdb_type: TmdbType | None
    cover_url: str | None
    torrent: TorrentInfo
    torrent_filename: str
    nfo: bytes | None = field(repr=False)
    nfo_filename: str | None
    nfo_excerpt: str | None
    #: True once Vigie set ``info.source = "lacale"`` (the member must seed the new file).
    source_fixed: bool
    #: Info hash of the file as the member attached it.
    original_info_hash: str
    key_fingerprint: str
    key_owner: Literal["member", "guild"]
    api_key: str = field(repr=False)

    @property
    def needs_source_fix(self) -> bool:
        return not has_lacale_source(self.torrent)

    @property
    def tag_ids(self) -> tuple[str, ...]:
        return tuple(tag.id for tag in self.tags)

    @property
    def announce_redacted(self) -> tuple[str, ...]:
        """Tracker URLs safe to show: passkeys replaced by ``***``."""
        return tuple(redact_announce(url) for url in self.torrent.announce)


class UploadStatus(str, Enum):
    UPLOADED = "uploaded"
    #: 409: La Cale already has this torrent (same info hash).
    DUPLICATE = "duplicate"
    #: 429 (server or our own 30/min limiter): the draft stays ready to confirm again.
    RATE_LIMITED = "rate_limited"
    #: 403: key invalid or without the ``upload:write`` scope.
    KEY_REFUSED = "key_refused"
    #: 400: La Cale's message is in ``message``.
    REFUSED = "refused"
    #: A timeout or 5xx, then La Cale was checked and does not have it: may send again.
    NOT_STORED = "not_stored"
    #: A timeout or 5xx and the check failed too: the next Confirm checks before sending.
    UNVERIFIED = "unverified"


#: Outcomes after which the preview closes: nothing more can be done with this draft.
FINAL_STATUSES = frozenset({UploadStatus.UPLOADED, UploadStatus.DUPLICATE, UploadStatus.KEY_REFUSED})

#: ``UploadRecord.outcome`` while the request is in flight (left as is by a crash).
OUTCOME_SENDING = "sending"
OUTCOME_FAILED = "failed"


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    status: UploadStatus
    draft: UploadDraft
    #: The torrent's page (or download route) on La Cale: never carries a key.
    link: str | None = None
    retry_after: float | None = None
    #: La Cale's own words for a 400 (scrubbed of the key by the client).
    message: str | None = None
    #: Found on La Cale after the request timed out (or failed with a 5xx).
    after_timeout: bool = False
    record_id: int | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def fixed_torrent(self) -> bytes | None:
        """The rewritten .torrent to hand back (privately) after a successful upload."""
        if self.status is UploadStatus.UPLOADED and self.draft.source_fixed:
            return self.draft.torrent.raw
        return None


@dataclass(frozen=True, slots=True)
class UploadSummary:
    """One line of ``/uploads``."""

    id: int
    title: str
    info_hash: str
    outcome: str
    link: str | None
    key_fingerprint: str | None
    source_fixed: bool
    created_at: datetime
    finished_at: datetime | None


@dataclass(slots=True)
class _DraftState:
    #: Set once the draft ended (uploaded, duplicate, key refused): answered again as is.
    final: UploadOutcome | None = None


def fix_source(draft: UploadDraft) -> UploadDraft:
    """The draft with ``info.source = "lacale"`` set in its torrent.

    Blocking (torf parses the file twice): call through :meth:`UploadService.fix_source`
    or ``asyncio.to_thread``. Without the flag La Cale adds it itself, which changes the
    info hash: the member's client would then seed a torrent the site does not know.
    """
    if has_lacale_source(draft.torrent):
        return draft
    cap = max(DEFAULT_MAX_BYTES, len(draft.torrent.raw) + 4096)
    fixed = read_torrent(set_source(draft.torrent.raw, LACALE_SOURCE, max_bytes=cap), max_bytes=cap)
    return replace(draft, torrent=fixed, source_fixed=True)


def _site_info_hash(info: TorrentInfo) -> str:
    """The info hash La Cale gives a torrent: its own when it carries the flag, else the
    hash after the site adds it (computed the way the site does: canonical bencode)."""
    if has_lacale_source(info):
        return info.info_hash
    cap = max(DEFAULT_MAX_BYTES, len(info.raw) + 4096)
    return read_torrent(set_source(info.raw, LACALE_SOURCE, max_bytes=cap), max_bytes=cap).info_hash


def upload_link(result: UploadResult, base_url: str, info_hash: str) -> str:
    """A link to the new torrent safe to post: the answer's ``link`` only when it points at
    the configured site and carries no credential (it has been ``localhost:3000``), else
    the page built from the slug, else the download route (no key in it)."""
    base = base_url.rstrip("/")
    link = (result.link or "").strip()
    if link.startswith(base + "/") and not url_carries_secret(link):
        return link
    if result.slug and _SLUG.fullmatch(result.slug):
        return f"{base}/torrents/{result.slug}"
    return f"{base}/api/torrents/download/{info_hash}"


def _torrent_filename(name: str) -> str:
    stem = re.sub(r"\.torrent\s*$", "", name.strip(), flags=re.IGNORECASE)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem).strip("._") or "upload"
    return safe[:120] + ".torrent"


def _nfo_filename(name: str | None, torrent_filename: str) -> str:
    stem = re.sub(r"\.(nfo|txt)\s*$", "", (name or "").strip(), flags=re.IGNORECASE)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem).strip("._")
    return (safe or torrent_filename.removesuffix(".torrent"))[:120] + ".nfo"


# ---------------------------------------------------------------------------------------
# The service


class UploadService:
    """Prepares drafts and sends them, at most once each (see the module docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        guilds: GuildService,
        access: LaCaleAccess,
        meta_cache: MetaCache,
        search: SearchService,
        *,
        max_torrent_bytes: int = DEFAULT_MAX_BYTES,
        verify_delay: float = VERIFY_DELAY,
    ) -> None:
        self._sessions = sessions
        self._guilds = guilds
        self._access = access
        self._meta = meta_cache
        self._search = search
        self.max_torrent_bytes = max_torrent_bytes
        self.verify_delay = verify_delay
        self._states: OrderedDict[str, _DraftState] = OrderedDict()
        self._sending: set[str] = set()
        self._hashes_in_flight: set[str] = set()
        self._site_hashes: OrderedDict[str, str] = OrderedDict()
        #: Upload requests handed to the client (a local 30/min refusal counts too).
        self.requests_sent = 0

    @property
    def base_url(self) -> str:
        return self._access.base_url

    # -- who uploads with which key -------------------------------------------------------
    async def authorize(
        self, guild_id: int | None, user_id: int, *, can_manage_guild: bool, role_ids: Collection[int]
    ) -> ResolvedKey:
        """The key this member uploads with.

        A personal key comes first and needs no role: the upload goes out under the
        member's own account. The server's key (the server's account) is lent only to
        members with the server's upload role or Manage Server.
        """
        personal = await self._guilds.member_key(user_id)
        if personal is not None:
            return personal
        if guild_id is None:
            raise UserError("upload.not_allowed_dm")
        settings = await self._guilds.settings(guild_id)
        role_id = settings.upload_role_id
        if not (can_manage_guild or (role_id is not None and role_id in role_ids)):
            raise UserError("upload.not_allowed")
        key = await self._guilds.guild_key(guild_id)
        if key is None:
            raise UserError("upload.no_server_key")
        return key

    # -- drafts -----------------------------------------------------------------------------
    async def prepare(
        self,
        *,
        key: ResolvedKey,
        user_id: int,
        guild_id: int | None,
        torrent: bytes,
        torrent_filename: str,
        category: str,
        title: str | None = None,
        tags: str | None = None,
        description: str | None = None,
        tmdb: str | None = None,
        tmdb_type: str | None = None,
        cover_url: str | None = None,
        nfo: bytes | None = None,
        nfo_filename: str | None = None,
    ) -> UploadDraft:
        """Validate everything (cheap checks first, La Cale's metadata last) into a draft.
        Nothing is sent."""
        typed_title = check_title(title) if title is not None and title.strip() else None
        tmdb_id, kind = check_tmdb(tmdb, tmdb_type)
        cover = check_cover_url(cover_url)
        text = check_description(description)
        check_torrent_attachment(torrent_filename, len(torrent), self.max_torrent_bytes)
        info = await read_torrent_file(torrent, self.max_torrent_bytes)
        excerpt: str | None = None
        if nfo is not None:
            excerpt = nfo_excerpt(decode_nfo(nfo))
        final_title = typed_title or check_title(clean_title(info.name))
        meta = await self._meta.get(key.api_key)
        flat = resolve_category(meta, category)
        chosen = resolve_tag_list(meta, tags)
        filename = _torrent_filename(torrent_filename)
        return UploadDraft(
            id=secrets.token_hex(8),
            guild_id=guild_id,
            user_id=user_id,
            title=final_title,
            category_id=flat.category.id,
            category_label=flat.label,
            category_path=flat.path,
            tags=chosen,
            tag_options=tag_choices(meta, flat.path, chosen),
            description=text,
            tmdb_id=tmdb_id,
            tmdb_type=kind,
            cover_url=cover,
            torrent=info,
            torrent_filename=filename,
            nfo=nfo,
            nfo_filename=_nfo_filename(nfo_filename, filename) if nfo is not None else None,
            nfo_excerpt=excerpt,
            source_fixed=False,
            original_info_hash=info.info_hash,
            key_fingerprint=key.fingerprint,
            key_owner=key.owner,
            api_key=key.api_key,
        )

    async def fix_source(self, draft: UploadDraft) -> UploadDraft:
        """:func:`fix_source` in a thread (torf is slow on huge torrents)."""
        if draft.id in self._sending:
            raise UserError("upload.in_progress")
        fixed = await asyncio.to_thread(fix_source, draft)
        # The hash La Cale would have given the unfixed file is exactly the fixed one's.
        self._remember_site_hash(draft.original_info_hash, fixed.torrent.info_hash)
        return fixed

    def with_tags(self, draft: UploadDraft, tag_ids: Sequence[str]) -> UploadDraft:
        """The draft with the tags picked in the preview's menu (ids among its options)."""
        known = {tag.id: tag for tag in (*draft.tag_options, *draft.tags)}
        unknown = [tag_id for tag_id in tag_ids if tag_id not in known]
        if unknown:
            raise UserError("upload.tags.unknown", tags=", ".join(_code(u, 40) for u in unknown[:10]))
        wanted = set(tag_ids)
        ordered = tuple(tag for tag_id, tag in known.items() if tag_id in wanted)
        if len(ordered) > MAX_TAGS:
            raise UserError("upload.tags.too_many", limit=MAX_TAGS)
        return replace(draft, tags=ordered)

    def discard(self, draft: UploadDraft) -> None:
        """The member cancelled: forget the draft (unless a request is in flight)."""
        if draft.id not in self._sending:
            self._states.pop(draft.id, None)

    def is_sending(self, draft: UploadDraft) -> bool:
        return draft.id in self._sending

    def final_outcome(self, draft: UploadDraft) -> UploadOutcome | None:
        state = self._states.get(draft.id)
        return state.final if state else None

    def _state(self, draft_id: str) -> _DraftState:
        state = self._states.get(draft_id)
        if state is None:
            state = self._states[draft_id] = _DraftState()
            while len(self._states) > MAX_TRACKED_DRAFTS:
                oldest = next(iter(self._states))
                if oldest in self._sending:
                    break
                self._states.popitem(last=False)
        return state

    # -- sending ----------------------------------------------------------------------------
    async def send(self, draft: UploadDraft) -> UploadOutcome:
        """Send the draft once: ONE request, every tag its own repeated ``tags`` field.

        Raises ``UserError("upload.in_progress")`` while the same draft, or another draft
        of the same file, is being sent. A draft that already ended answers its outcome
        again without sending anything.
        """
        state = self._state(draft.id)
        if state.final is not None:
            return state.final
        hashes = {draft.original_info_hash, draft.torrent.info_hash}
        # No await between the check and the claim: two clicks cannot both pass.
        if draft.id in self._sending or hashes & self._hashes_in_flight:
            raise UserError("upload.in_progress")
        self._sending.add(draft.id)
        self._hashes_in_flight |= hashes
        try:
            outcome = await self._send(draft)
        finally:
            self._sending.discard(draft.id)
            self._hashes_in_flight -= hashes
        if outcome.final:
            state.final = outcome
        return outcome

    async def _send(self, draft: UploadDraft) -> UploadOutcome:
        earlier = await self._earlier_records(draft)
        pending = [r.id for r in earlier if r.outcome in (OUTCOME_SENDING, UploadStatus.UNVERIFIED.value)]
        prior = next((r for r in earlier if r.outcome == UploadStatus.UPLOADED.value), None)
        if pending or prior is not None:
            # An earlier request for this file was stored, or may have been (no answer, a
            # crash mid-upload): look on La Cale before anything is sent again. Kept in the
            # database, so neither an expired preview nor a restart forgets it.
            found, link = await self._find_on_site(draft)
            if prior is not None and found is not False:
                link = link or prior.link
                record_id = await self._start_record(draft, outcome=UploadStatus.DUPLICATE.value)
                await self._finish(record_id, UploadStatus.DUPLICATE.value, link=link, detail=f"already uploaded (record {prior.id})")
                return UploadOutcome(UploadStatus.DUPLICATE, draft, link=link, record_id=record_id)
            if pending:
                if found is None:
                    return UploadOutcome(UploadStatus.UNVERIFIED, draft, record_id=pending[0])
                if found:
                    for record_id in pending:
                        await self._finish(record_id, UploadStatus.UPLOADED.value, link=link, detail="found on La Cale after a timeout")
                    return UploadOutcome(UploadStatus.UPLOADED, draft, link=link, after_timeout=True, record_id=pending[0])
                for record_id in pending:
                    await self._finish(record_id, UploadStatus.NOT_STORED.value, detail="checked later: not on La Cale")
            # else: uploaded through Vigie once, but no longer on La Cale (removed): send.

        record_id = await self._start_record(draft)
        client = self._access.client(draft.api_key)
        try:
            self.requests_sent += 1
            result = await client.upload(self._request(draft))
        except Duplicate:
            link = await self._existing_link(draft)
            await self._finish(record_id, UploadStatus.DUPLICATE.value, link=link)
            return UploadOutcome(UploadStatus.DUPLICATE, draft, link=link, record_id=record_id)
        except RateLimited as exc:
            await self._finish(record_id, UploadStatus.RATE_LIMITED.value, detail=f"retry after {exc.retry_after:.0f} s")
            return UploadOutcome(UploadStatus.RATE_LIMITED, draft, retry_after=exc.retry_after, record_id=record_id)
        except (KeyRefused, MissingKey) as exc:
            await self._finish(record_id, UploadStatus.KEY_REFUSED.value, detail=exc.message or None)
            return UploadOutcome(UploadStatus.KEY_REFUSED, draft, message=exc.message or None, record_id=record_id)
        except BadRequest as exc:
            await self._finish(record_id, UploadStatus.REFUSED.value, detail=exc.message or None)
            return UploadOutcome(UploadStatus.REFUSED, draft, message=exc.message or None, record_id=record_id)
        except Unavailable as exc:
            # A timeout (or a 5xx, a cut connection) may hide a stored upload: the request
            # is never repeated blindly, La Cale is checked first.
            log.info("upload of %s failed with %s; checking La Cale", draft.torrent.info_hash, type(exc).__name__)
            return await self._after_failure(draft, record_id)
        except LaCaleError as exc:
            # Refused before sending (InvalidRequest) or an answer that proves nothing stored.
            await self._finish(record_id, OUTCOME_FAILED, detail=type(exc).__name__)
            raise
        except Exception:
            # Unknown fate: the record stays "unverified", so the next attempt checks first.
            await self._finish(record_id, UploadStatus.UNVERIFIED.value, detail="unexpected error")
            raise
        # (CancelledError is left alone: the record stays "sending", which also means "check first".)
        link = upload_link(result, self.base_url, draft.torrent.info_hash)
        await self._finish(record_id, UploadStatus.UPLOADED.value, link=link)
        return UploadOutcome(UploadStatus.UPLOADED, draft, link=link, record_id=record_id)

    async def _after_failure(self, draft: UploadDraft, record_id: int) -> UploadOutcome:
        if self.verify_delay > 0:
            await asyncio.sleep(self.verify_delay)
        found, link = await self._find_on_site(draft)
        if found:
            await self._finish(record_id, UploadStatus.UPLOADED.value, link=link, detail="found on La Cale after a timeout")
            return UploadOutcome(UploadStatus.UPLOADED, draft, link=link, after_timeout=True, record_id=record_id)
        if found is None:
            await self._finish(record_id, UploadStatus.UNVERIFIED.value, detail="no answer, and La Cale could not be checked")
            return UploadOutcome(UploadStatus.UNVERIFIED, draft, record_id=record_id)
        await self._finish(record_id, UploadStatus.NOT_STORED.value, detail="no answer; checked: not on La Cale")
        return UploadOutcome(UploadStatus.NOT_STORED, draft, record_id=record_id)

    def _request(self, draft: UploadDraft) -> UploadRequest:
        return UploadRequest(
            title=draft.title,
            category_id=draft.category_id,
            torrent=UploadFile(draft.torrent_filename, draft.torrent.raw),
            tags=draft.tag_ids,
            description=draft.description,
            tmdb_id=draft.tmdb_id,
            tmdb_type=draft.tmdb_type,
            cover_url=draft.cover_url,
            nfo=UploadFile(draft.nfo_filename or "release.nfo", draft.nfo) if draft.nfo is not None else None,
        )

    # -- looking on La Cale -----------------------------------------------------------------
    async def _hashes(self, draft: UploadDraft) -> set[str]:
        """Every hash under which La Cale may hold this file: as attached, as sent, and as
        the site stores it after adding its source flag (computed once per file: torf is
        slow on huge torrents; a fixed draft already knows it)."""
        site = self._site_hashes.get(draft.original_info_hash)
        if site is None:
            if has_lacale_source(draft.torrent):
                site = draft.torrent.info_hash
            else:
                site = await asyncio.to_thread(_site_info_hash, draft.torrent)
            self._remember_site_hash(draft.original_info_hash, site)
        return {draft.original_info_hash, draft.torrent.info_hash, site}

    def _remember_site_hash(self, original: str, site: str) -> None:
        self._site_hashes[original] = site
        while len(self._site_hashes) > MAX_TRACKED_DRAFTS:
            self._site_hashes.popitem(last=False)

    async def _search_titles(self, draft: UploadDraft, hashes: set[str]) -> tuple[bool | None, str | None]:
        """Search by the title, then by the torrent's name: (found, its link) or
        (None, None) when a search failed and nothing was found."""
        failed = False
        texts = dict.fromkeys(t for t in (draft.title, clean_title(draft.torrent.name)) if t)
        for text in texts:
            try:
                results = await self._search.search(draft.api_key, build_query(Meta(), text, (), None))
            except (LaCaleError, UserError) as exc:
                # La Cale is down or pacing us: a second search would only wait as long.
                log.info("search after upload failed: %s", type(exc).__name__)
                failed = True
                break
            for torrent in results:
                if torrent.info_hash in hashes:
                    return True, torrent.page_url(self.base_url)
        return (None if failed else False), None

    async def _find_on_site(self, draft: UploadDraft) -> tuple[bool | None, str | None]:
        """Whether La Cale has this file: True/False, or None when it could not be told.

        Search lists approved torrents only (and the server caches answers ~30 s), so the
        download route is asked for each candidate hash as well: 404 means absent."""
        hashes = await self._hashes(draft)
        found, link = await self._search_titles(draft, hashes)
        if found:
            return True, link
        unknown = found is None
        client = self._access.client(draft.api_key)
        for info_hash in sorted(hashes):
            try:
                await client.download_torrent(info_hash)  # carries the passkey: dropped at once
            except NotFound:
                continue
            except LaCaleError as exc:
                # Each check already retries; when one fails La Cale is not answering, and
                # asking for the other hashes would keep the member waiting for nothing.
                log.info("download check failed: %s", type(exc).__name__)
                unknown = True
                break
            return True, f"{self.base_url}/api/torrents/download/{info_hash}"
        return (None if unknown else False), None

    async def _existing_link(self, draft: UploadDraft) -> str | None:
        """After a 409: the existing torrent's link when a search by title finds it."""
        found, link = await self._search_titles(draft, await self._hashes(draft))
        return link if found else None

    # -- records ------------------------------------------------------------------------------
    async def _earlier_records(self, draft: UploadDraft) -> list[UploadRecord]:
        """Earlier attempts for this file (any member) that were, or may have been, stored."""
        hashes = await self._hashes(draft)
        outcomes = (UploadStatus.UPLOADED.value, UploadStatus.UNVERIFIED.value, OUTCOME_SENDING)
        async with self._sessions() as session:
            rows = await session.scalars(
                select(UploadRecord)
                .where(UploadRecord.info_hash.in_(hashes), UploadRecord.outcome.in_(outcomes))
                .order_by(UploadRecord.id.desc())
                .limit(50)
            )
            return list(rows)

    async def _start_record(self, draft: UploadDraft, *, outcome: str = OUTCOME_SENDING, detail: str | None = None) -> int:
        async with self._sessions.begin() as session:
            record = UploadRecord(
                guild_id=draft.guild_id,
                user_id=draft.user_id,
                key_fingerprint=draft.key_fingerprint,
                info_hash=draft.torrent.info_hash,
                title=draft.title[:300],
                category_id=draft.category_id[:64],
                outcome=outcome,
                detail=detail,
                source_fixed=draft.source_fixed,
                created_at=utcnow(),
            )
            session.add(record)
            await session.flush()
            return record.id

    async def _finish(self, record_id: int, outcome: str, *, link: str | None = None, detail: str | None = None) -> None:
        values: dict[str, object] = {"outcome": outcome, "finished_at": utcnow()}
        if link is not None:
            values["link"] = link
        if detail is not None:
            values["detail"] = detail[:1000]
        async with self._sessions.begin() as session:
            await session.execute(update(UploadRecord).where(UploadRecord.id == record_id).values(**values))

    async def recent(self, user_id: int, *, limit: int = RECENT_LIMIT) -> list[UploadSummary]:
        """A member's latest attempts, newest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(UploadRecord)
                .where(UploadRecord.user_id == user_id)
                .order_by(UploadRecord.created_at.desc(), UploadRecord.id.desc())
                .limit(limit)
            )
            return [
                UploadSummary(
                    id=row.id,
                    title=row.title,
                    info_hash=row.info_hash,
                    outcome=row.outcome,
                    link=row.link,
                    key_fingerprint=row.key_fingerprint,
                    source_fixed=row.source_fixed,
                    created_at=row.created_at,
                    finished_at=row.finished_at,
                )
                for row in rows
            ]


__all__ = [
    "DESCRIPTION_MAX",
    "MAX_TAGS",
    "NFO_MAX_BYTES",
    "NFO_MIN_CHARS",
    "TITLE_MAX",
    "UploadDraft",
    "UploadOutcome",
    "UploadService",
    "UploadStatus",
    "UploadSummary",
    "check_cover_url",
    "check_description",
    "check_nfo_attachment",
    "check_title",
    "check_tmdb",
    "check_torrent_attachment",
    "decode_nfo",
    "fix_source",
    "nfo_excerpt",
    "read_torrent_file",
    "resolve_category",
    "resolve_tag_list",
    "tag_choices",
    "upload_link",
]
