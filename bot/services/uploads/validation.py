"""Checks run before anything reaches La Cale: each refuses one kind of bad input with
its own message (a :class:`~bot.errors.UserError`)."""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from bot.errors import UserError
from bot.formatting import clean_text
from bot.lacale.models import (
    FlatCategory,
    Meta,
    Tag,
    TmdbType,
    normalize_text,
    url_carries_secret,
)
from bot.limits import TMDB_ID_MAX
from bot.redaction import redact_urls
from bot.services.metadata import resolve_tags
from bot.services.uploads.hosts import judge_host
from bot.services.uploads.limits import (
    COVER_URL_MAX,
    DESCRIPTION_MAX,
    MAX_TAGS,
    NFO_EXCERPT_CHARS,
    NFO_EXCERPT_LINES,
    NFO_MAX_BYTES,
    NFO_MIN_CHARS,
    TITLE_MAX,
)
from bot.torrent_pool import TorrentPool, read_job
from bot.torrents import (
    TorrentFileError,
    TorrentInfo,
)

log = logging.getLogger(__name__)

_CONTROL_OK = frozenset("\t\n\r\f\x1a\x1b")  # tabs, newlines, DOS EOF, ANSI art's ESC
_URL_FORBIDDEN = re.compile(r"[\s<>\"`{}|\\^\x00-\x1f\x7f]")
_GROUP_QUALIFIER = re.compile(r"\(([^()]+)\)\s*$")

# ---------------------------------------------------------------------------------------
# Values shown in messages


def code_span(text: str, limit: int = 60) -> str:
    """Member-typed text quoted in a message: inline code renders no Markdown and no
    mention, so it shows exactly as typed (backticks, the one thing that would close it,
    are swapped)."""
    text = clean_text(text)
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
        raise UserError("upload.torrent.not_torrent", filename=code_span(filename))
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
    "too_many_trackers": "upload.torrent.too_many_trackers",
    "too_many_files": "upload.torrent.too_many_files",
    "too_deep": "upload.torrent.too_deep",
    "name_too_long": "upload.torrent.name_too_long",
}


def _count(value: int) -> str:
    """A cap as people read it in both languages: ``10 000`` (narrow no-break space)."""
    return f"{value:,}".replace(",", "\u202f")


def torrent_refusal(exc: TorrentFileError, max_bytes: int) -> UserError:
    """The message for a torrent :mod:`bot.torrents` refused (each reason its own)."""
    # torf's message may quote a tracker URL, passkey and all: masked here, not only by
    # the log filter, so the line is safe whatever handler it reaches.
    log.info("refused .torrent: %s", redact_urls(str(exc)))
    key = _TORRENT_REASON_KEYS[exc.reason]
    if exc.reason == "too_large" or exc.limit is None:
        return UserError(key, limit=_mib(exc.limit or max_bytes))
    return UserError(key, limit=_count(exc.limit))


async def read_torrent_file(data: bytes, max_bytes: int, pool: TorrentPool, *, owner: Hashable) -> TorrentInfo:
    """Parse in the torrent pool's worker processes (never the event loop's default
    executor, which aiohttp's DNS resolver needs) and map failures to messages. ``owner``
    (the member) may have one file being read at a time."""
    try:
        info = await pool.run(read_job, data, max_bytes, owner=owner)
    except TorrentFileError as exc:
        raise torrent_refusal(exc, max_bytes) from None
    return replace(info, raw=data)


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
        raise UserError("upload.category.unknown", category=code_span(value))
    flats = list(meta.walk_categories())
    for found in (
        [f for f in flats if f.category.id == wanted],
        [f for f in flats if f.category.slug.lower() == wanted.lower()],
    ):
        if found:
            return found[0]
    norm = normalize_text(wanted)
    by_label = [f for f in flats if normalize_text(f.category.name) == norm or normalize_text(f.label) == norm]
    if len(by_label) == 1:
        return by_label[0]
    raise UserError("upload.category.unknown", category=code_span(value))


def resolve_tag_list(meta: Meta, typed: str | Sequence[str] | None) -> tuple[Tag, ...]:
    """Names, slugs or ids (the ``/upload`` option's tuple, or one comma-separated text);
    every unknown one is named in the refusal."""
    if not typed or (isinstance(typed, str) and not typed.strip()):
        return ()
    found, unknown = resolve_tags(meta, typed)
    if unknown:
        shown = ", ".join(code_span(item, 40) for item in unknown[:10])
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
        if len(tmdb_id) > TMDB_ID_MAX:
            raise UserError("upload.tmdb.too_long", limit=TMDB_ID_MAX)
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
    if "@" in parts.netloc or port == 0:
        raise UserError("upload.cover.invalid")
    # La Cale's server fetches the image: a host that reaches its own network (metadata
    # endpoints, private addresses, loopback) is refused, whatever its notation.
    verdict = judge_host(parts.hostname or "")
    if verdict.problem == "ip_literal":
        raise UserError("upload.cover.ip_literal", host=code_span(verdict.host))
    if verdict.problem == "local_name":
        raise UserError("upload.cover.local_name", host=code_span(verdict.host))
    if verdict.problem is not None:
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


def tag_choices(
    meta: Meta, category_path: Sequence[str], current: Sequence[Tag], limit: int = MAX_TAGS
) -> tuple[Tag, ...]:
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
