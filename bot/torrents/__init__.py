"""Reading the .torrent files users attach in Discord, under caps.

The package: reading and its caps here; writing the source flag in
:mod:`bot.torrents.source`; default titles and announce masking in
:mod:`bot.torrents.names`. Everything is importable from ``bot.torrents``.

Anything may arrive as an attachment: a picture, a truncated download, a hostile file with
a 10**30-byte string length, a torrent without an ``info`` dictionary... Every failure of
this module is a :class:`TorrentFileError` whose ``reason`` code lets the caller choose the
message shown to the user; nothing else (no torf, bencode, Key/Type/Overflow/Memory/
RecursionError) escapes :func:`read_torrent` or :func:`set_source`.

Decoding and validation are torf's (``torf.Torrent.read_stream``, ``Torrent.validate`` and
its bundled ``flatbencode`` codec). One thing is done here on top of it, by
:func:`_scan`, a structural walk over the raw bytes that builds no values:

* it locates the exact bytes of the top-level ``info`` value, because the info hash is the
  SHA-1 of those *original* bytes. torf recomputes it from its decoded copy, re-encoded;
  that differs from what every BitTorrent client computes as soon as the original is not
  canonical bencode (unsorted keys, ``private`` stored as ``i2e``), and torf cannot hash at
  all an info dict holding a non-UTF-8 key (it raises ``TypeError`` while sorting);
* it refuses what torf's decoder handles badly: a string length larger than the data
  (flatbencode then asks for a buffer of that size: ``MemoryError``/``OverflowError``),
  nesting deep enough to exhaust torf's recursive converters, duplicate dictionary keys
  (ambiguous: which ``info`` would a client hash?);
* it enforces the caps on what a torrent may declare (tracker URLs, files, nesting, name
  lengths, items), each with its own ``reason``, *before* torf sees the file: torf's
  decoding and validation cost 1-3 µs of Python per item, so a hostile 10 MiB file
  (~440,000 tracker URLs, or a million tiny items) would otherwise keep a CPU busy for
  seconds. Everything here is linear in the size of the file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import torf

__all__ = [
    "DEFAULT_MAX_BYTES",
    "LACALE_SOURCE",
    "TorrentFileError",
    "TorrentInfo",
    "clean_title",
    "has_lacale_source",
    "read_torrent",
    "redact_announce",
    "set_source",
]


#: Default cap on the size of a .torrent file (10 MiB).
DEFAULT_MAX_BYTES = 10 * 1024 * 1024

#: How many files :attr:`TorrentInfo.files` keeps (``file_count`` counts them all).
MAX_LISTED_FILES = 1000

# Caps on what a torrent may declare. The budget they serve: the worst file that passes
# them is read in well under a second of CPU (benchmarks/hostile_torrent.py prints it),
# while no torrent a member would really upload comes near them.

#: Deepest nesting of lists/dicts accepted, and most components in one file path (both
#: refused as ``too_deep``). A v1 torrent needs 5 levels, a v2/hybrid "file tree" one level
#: per directory; torf's converters recurse twice per level, so this also keeps far from
#: Python's recursion limit. Real releases stay under ~10 directory levels.
MAX_DEPTH = 64

#: Most tracker URLs in ``announce-list``, all tiers together, duplicates included
#: (``too_many_trackers``). A private torrent carries one; public ones that paste a
#: "best trackers" list reach a few dozen, rarely 100. torf checks each URL (~12 µs).
MAX_TRACKERS = 200

#: Most entries in ``info.files`` (BEP 47 padding files included: they cost the same to
#: read) (``too_many_files``). Films and episodes come in a handful of files, season packs
#: and discographies in hundreds, the largest e-book or comics collections in a few
#: thousand. Reading costs ~25 µs per file: 10,000 files are ~0.25 s of CPU. A larger
#: release can still be uploaded from La Cale's website.
MAX_FILES = 10_000

#: Longest torrent name or file path component, in bytes (``name_too_long``). File systems
#: cap a name at 255 bytes (255 UTF-16 units on Windows: up to 765 bytes of UTF-8). The
#: name also becomes the default title, cleaned character by character.
MAX_NAME_BYTES = 1024

#: Most bencode items (strings, ints, lists, dicts) accepted; beyond it the file is refused
#: as ``invalid``. A 10,000-file torrent (the file cap) is ~80,000 items with 3-level paths,
#: up to ~150,000 with deep paths and per-file checksums. torf's decoder reads a byte at a
#: time and its validation walks every path component: ~3 µs per item at worst, so this
#: bounds the whole read to about half a second of CPU.
MAX_ITEMS = 150_000

#: Longest integer accepted, in characters. Larger ones are not bencode we can read.
_MAX_INT_CHARS = 4300

#: Most integer digits in the whole file (``invalid`` beyond). flatbencode reads integers
#: one digit at a time (~0.13 µs each): 10 MiB of 4,300-digit integers would take a second.
#: A real torrent holds ~10-20 digits per file.
MAX_INT_DIGITS = 1_000_000


REASONS = frozenset(
    {
        "too_large",
        "empty",
        "not_bencode",
        "no_info",
        "invalid",
        "too_many_trackers",
        "too_many_files",
        "too_deep",
        "name_too_long",
    }
)

#: Longest ``detail`` kept: torf quotes offending values (a 9 MiB URL) in its messages.
_DETAIL_MAX = 500


class TorrentFileError(Exception):
    """The bytes given are not a torrent this bot can use.

    ``reason`` is a stable code for the user-facing message:

    * ``"too_large"``: larger than the cap, which is in ``limit`` (bytes);
    * ``"empty"``: zero bytes;
    * ``"not_bencode"``: not a bencoded dictionary at all (not a torrent file);
    * ``"no_info"``: a bencoded dictionary without an ``info`` dictionary;
    * ``"invalid"``: a torrent torf (or this module) refuses: missing name or pieces,
      piece count not matching the size, bad tracker URL, negative file size, more than
      :data:`MAX_ITEMS` items...
    * ``"too_many_trackers"``: more than :data:`MAX_TRACKERS` URLs in ``announce-list``;
    * ``"too_many_files"``: more than :data:`MAX_FILES` entries in ``info.files``;
    * ``"too_deep"``: lists/dicts nested deeper than :data:`MAX_DEPTH`, or a file path of
      more components;
    * ``"name_too_long"``: a torrent name or path component over :data:`MAX_NAME_BYTES`.

    For the caps, ``limit`` holds the cap. ``detail`` is an English technical explanation
    for the logs, never for users (cut at a few hundred characters).
    """

    def __init__(self, reason: str, detail: str = "", *, limit: int | None = None) -> None:
        if reason not in REASONS:  # pragma: no cover - programming error
            raise ValueError(f"unknown TorrentFileError reason: {reason!r}")
        if len(detail) > _DETAIL_MAX:
            detail = detail[: _DETAIL_MAX - 1] + "…"
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.limit = limit

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Raised in a worker process (bot/torrent_pool.py) and pickled back:
        # the default (``cls(*self.args)``) would lose ``reason`` and ``limit``.
        return (_rebuild_error, (self.reason, self.detail, self.limit))


def _rebuild_error(reason: str, detail: str, limit: int | None) -> TorrentFileError:
    return TorrentFileError(reason, detail, limit=limit)


@dataclass(frozen=True)
class TorrentInfo:
    """What the bot needs to know about a torrent file.

    ``files`` holds at most :data:`MAX_LISTED_FILES` ``(path, size)`` pairs; paths start
    with the torrent name, as in torf (``"Name/Sub/file.mkv"``; a single-file torrent's one
    path is its name). ``file_count`` and ``total_size`` cover every file. BEP 47 padding
    files are left out of all three.
    """

    name: str
    info_hash: str
    total_size: int
    file_count: int
    files: tuple[tuple[str, int], ...]
    source: str | None
    private: bool
    piece_size: int
    comment: str | None
    created_by: str | None
    announce: tuple[str, ...]
    raw: bytes

    def __repr__(self) -> str:  # keep raw bytes (and passkeys) out of logs
        return (
            f"TorrentInfo(name={self.name!r}, info_hash={self.info_hash!r}, "
            f"total_size={self.total_size}, file_count={self.file_count}, "
            f"source={self.source!r}, private={self.private}, raw=<{len(self.raw)} bytes>)"
        )


# ---------------------------------------------------------------------------------------
# Structural scan


class _ScanError(Exception):
    def __init__(self, reason: str, detail: str, limit: int | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.limit = limit


@dataclass
class _Scan:
    top_is_dict: bool
    info_span: tuple[int, int] | None = None
    #: Spans of the values of the info dict's keys (only when info is a dict).
    info_values: dict[bytes, tuple[int, int]] | None = None


# What a container is, for the caps (decided once, when it opens).
_PLAIN, _INFO, _TIERS, _TIER, _FILES, _FILE, _PATH = range(7)


class _Frame:
    __slots__ = ("awaiting_key", "count", "is_dict", "key", "keys", "role", "start")

    def __init__(self, is_dict: bool, start: int, role: int) -> None:
        self.is_dict = is_dict
        self.start = start
        self.keys: set[bytes] = set()
        self.key: bytes | None = None
        self.awaiting_key = True
        self.role = role
        #: Strings seen in a _PATH list (its components).
        self.count = 0


def _role(parent: _Frame | None, depth: int, is_dict: bool) -> int:
    """The role of a container opening inside ``parent`` (``depth`` frames open)."""
    if parent is None:
        return _PLAIN
    role, key = parent.role, parent.key
    if depth == 1:  # a value of the top-level dictionary
        if key == b"info" and is_dict:
            return _INFO
        if key == b"announce-list" and not is_dict:
            return _TIERS
    elif role == _TIERS:
        return _PLAIN if is_dict else _TIER
    elif role == _INFO:
        if key == b"files" and not is_dict:
            return _FILES
    elif role == _FILES:
        return _FILE if is_dict else _PLAIN
    elif role == _FILE and key == b"path" and not is_dict:
        return _PATH
    return _PLAIN


_INT_RE = re.compile(rb"-?(?:0|[1-9][0-9]*)\Z")


def _scan(data: bytes) -> _Scan:
    """Walk the bencoded structure of ``data`` without decoding it, in linear time.

    Raises :class:`_ScanError` on anything flatbencode would choke on (or decode in a
    way that makes the info hash ambiguous), and on anything over the caps (tracker URLs,
    files, nesting, name lengths, items). Records where the top-level ``info`` value and
    its direct children lie in ``data``.
    """
    n = len(data)
    stack: list[_Frame] = []
    result = _Scan(top_is_dict=data[:1] == b"d")
    pos = 0
    items = 0
    trackers = 0
    files = 0
    digits = 0

    def bad(detail: str, reason: str = "not_bencode", limit: int | None = None) -> _ScanError:
        return _ScanError(reason, f"{detail} at byte {pos}", limit)

    while True:
        if pos >= n:
            raise bad("unexpected end of data")
        c = data[pos]
        start = pos
        if c != 0x65:
            items += 1
            if items > MAX_ITEMS:
                raise bad(f"more than {MAX_ITEMS} bencode items", "invalid", MAX_ITEMS)
        parent = stack[-1] if stack else None
        is_key = parent is not None and parent.is_dict and parent.awaiting_key

        if c == 0x65:  # 'e': end of the current container
            if parent is None:
                raise bad("unexpected 'e'")
            if parent.is_dict and not parent.awaiting_key:
                raise bad("dictionary key without a value")
            stack.pop()
            start = parent.start
            pos += 1
        elif c == 0x64 or c == 0x6C:  # 'd' / 'l'
            if is_key:
                raise bad("dictionary key is not a string")
            if len(stack) >= MAX_DEPTH:
                raise bad(f"nesting deeper than {MAX_DEPTH} levels", "too_deep", MAX_DEPTH)
            role = _role(parent, len(stack), c == 0x64)
            if role == _FILE:
                files += 1
                if files > MAX_FILES:
                    raise bad(f"more than {MAX_FILES} files", "too_many_files", MAX_FILES)
            elif role == _INFO:
                result.info_values = {}
            stack.append(_Frame(c == 0x64, pos, role))
            pos += 1
            continue
        elif c == 0x69:  # 'i'
            if is_key:
                raise bad("dictionary key is not a string")
            end = data.find(b"e", pos + 1, pos + 2 + _MAX_INT_CHARS)
            if end < 0:
                raise bad("unterminated or oversized integer")
            if not _INT_RE.match(data, pos + 1, end) or data[pos + 1 : end] == b"-0":
                raise bad("malformed integer")
            digits += end - pos - 1
            if digits > MAX_INT_DIGITS:
                raise bad(f"more than {MAX_INT_DIGITS} integer digits", "invalid")
            pos = end + 1
        elif 0x30 <= c <= 0x39:  # string: <length>:<bytes>
            colon = data.find(b":", pos, pos + 21)
            if colon < 0 or not data[pos:colon].isdigit():
                raise bad("malformed string length")
            length = int(data[pos:colon])
            end = colon + 1 + length
            if end > n:
                raise bad("string longer than the remaining data")
            pos = end
            if is_key and parent is not None:
                key = data[colon + 1 : end]
                if key in parent.keys:
                    raise bad(f"duplicate dictionary key {key[:40]!r}", "invalid")
                parent.keys.add(key)
                parent.key = key
                parent.awaiting_key = False
                continue
            if parent is not None and parent.role:
                role = parent.role
                if role == _TIER:
                    trackers += 1
                    if trackers > MAX_TRACKERS:
                        raise bad(f"more than {MAX_TRACKERS} tracker URLs", "too_many_trackers", MAX_TRACKERS)
                elif role == _PATH:
                    parent.count += 1
                    if parent.count > MAX_DEPTH:
                        raise bad(f"file path of more than {MAX_DEPTH} components", "too_deep", MAX_DEPTH)
                    if length > MAX_NAME_BYTES:
                        raise bad(f"path component of {length} bytes", "name_too_long", MAX_NAME_BYTES)
                elif role == _INFO and parent.key == b"name" and length > MAX_NAME_BYTES:
                    raise bad(f"name of {length} bytes", "name_too_long", MAX_NAME_BYTES)
        else:
            raise bad(f"unexpected byte {bytes([c])!r}")

        # A complete value now spans data[start:pos].
        if not stack:
            if pos != n:
                raise bad("trailing data after the top-level value")
            return result
        parent = stack[-1]
        if parent.is_dict:
            if len(stack) == 1 and parent.key == b"info":
                result.info_span = (start, pos)
            elif parent.role == _INFO and parent.key is not None:
                if result.info_values is not None:
                    result.info_values[parent.key] = (start, pos)
            parent.awaiting_key = True


def _raw_value(data: bytes, span: tuple[int, int] | None) -> bytes | int | None:
    """The scalar bencoded at ``span`` (a string or an int); None for anything else."""
    if span is None:
        return None
    start, end = span
    first = data[start]
    if first == 0x69:  # i...e
        return int(data[start + 1 : end - 1])
    if 0x30 <= first <= 0x39:
        return data[data.index(b":", start) + 1 : end]
    return None


# ---------------------------------------------------------------------------------------
# torf


#: torf's own ``creation_date`` property, which the subclass below wraps.
_TORF_CREATION_DATE: property = torf.Torrent.__dict__["creation_date"]


class _Torrent(torf.Torrent):
    """torf.Torrent that leaves the size cap to us and survives silly creation dates.

    torf's own cap (``MAX_TORRENT_FILE_SIZE`` = 10**7) is below our 10 MiB default and
    raises a bare ValueError. Its ``creation_date`` setter converts the integer with
    ``datetime.fromtimestamp``, which raises Overflow/OS/ValueError for real-world junk
    such as millisecond timestamps; such a torrent is perfectly usable, so keep the int.
    """

    MAX_TORRENT_FILE_SIZE = 1 << 62

    @property
    def creation_date(self) -> datetime | None:
        return cast("datetime | None", _TORF_CREATION_DATE.__get__(self))

    @creation_date.setter
    def creation_date(self, value: object) -> None:
        try:
            _TORF_CREATION_DATE.__set__(self, value)
        except (OverflowError, OSError, ValueError):
            if isinstance(value, int) and not isinstance(value, bool):
                # Kept as the file said it: torf's own type says a datetime.
                cast("dict[str, object]", self.metainfo)["creation date"] = value
            else:
                raise


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return None


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TorrentFileError("not_bencode", f"expected bytes, got {type(data).__name__}")


def _is_pad(fileinfo: Mapping[str, object]) -> bool:
    """BEP 47 padding file (``attr`` contains ``p``)."""
    attr = fileinfo.get("attr")
    if isinstance(attr, bytes):
        attr = attr.decode("latin-1")
    return isinstance(attr, str) and "p" in attr


def _check_and_parse(data: bytes, max_bytes: int) -> tuple[_Scan, torf.Torrent]:
    if len(data) > max_bytes:
        raise TorrentFileError("too_large", f"{len(data)} bytes > limit of {max_bytes} bytes", limit=max_bytes)
    if not data:
        raise TorrentFileError("empty", "zero bytes")
    try:
        scan = _scan(data)
    except _ScanError as e:
        raise TorrentFileError(e.reason, e.detail, limit=e.limit) from None
    if not scan.top_is_dict:
        raise TorrentFileError("not_bencode", "top-level value is not a dictionary")
    if scan.info_span is None:
        raise TorrentFileError("no_info", "no 'info' key in the top-level dictionary")
    if scan.info_values is None:
        raise TorrentFileError("no_info", "'info' is not a dictionary")
    try:
        torrent = _Torrent.read_stream(data, validate=True)
    except torf.BdecodeError as e:
        raise TorrentFileError("not_bencode", str(e)) from None
    except torf.MetainfoError as e:
        raise TorrentFileError("invalid", str(e)) from None
    except Exception as e:  # anything else torf lets through (TypeError, Overflow...)
        raise TorrentFileError("invalid", f"{type(e).__name__}: {e}") from None
    return scan, torrent


def _build_info(data: bytes, scan: _Scan, torrent: torf.Torrent) -> TorrentInfo:
    # _check_and_parse refused a file without them: only the types need telling here.
    if scan.info_values is None or scan.info_span is None:
        raise TorrentFileError("no_info", "'info' is not a dictionary")
    info_values = scan.info_values
    metainfo = torrent.metainfo
    info = metainfo["info"]

    name = _text(info.get("name")) or ""
    if not name.strip():
        raise TorrentFileError("invalid", "empty torrent name")

    files: list[tuple[str, int]] = []
    total = 0
    count = 0
    if "length" in info:
        length = info["length"]
        if not isinstance(length, int) or length < 0:
            raise TorrentFileError("invalid", f"bad length: {length!r}")
        files.append((name, length))
        total, count = length, 1
    else:
        for i, fileinfo in enumerate(info["files"]):
            length = fileinfo["length"]
            if not isinstance(length, int) or length < 0:
                raise TorrentFileError("invalid", f"bad length of file #{i}: {length!r}")
            parts = [_text(p) or "" for p in fileinfo["path"]]
            if not parts:
                raise TorrentFileError("invalid", f"empty path for file #{i}")
            if _is_pad(fileinfo):
                continue
            count += 1
            total += length
            if len(files) < MAX_LISTED_FILES:
                files.append(("/".join([name, *parts]), length))

    # Flags read from the original bytes: torf turns any 'private' value into a bool
    # (so the string "0" would read as private) before it even validates it.
    private_raw = _raw_value(data, info_values.get(b"private"))
    private = isinstance(private_raw, int) and private_raw != 0
    source = _text(_raw_value(data, info_values.get(b"source")))

    # Duplicates dropped in order, through a dict: a list's ``in`` made this quadratic
    # (80,000 URLs took 49 s). The scan capped their number anyway.
    announce: dict[str, None] = {}
    first = metainfo.get("announce")
    if isinstance(first, str) and first:
        announce[first] = None
    for tier in metainfo.get("announce-list", ()) or ():
        for url in tier:
            if isinstance(url, str) and url:
                announce.setdefault(url, None)

    start, end = scan.info_span
    return TorrentInfo(
        name=name,
        info_hash=hashlib.sha1(data[start:end], usedforsecurity=False).hexdigest(),
        total_size=total,
        file_count=count,
        files=tuple(files),
        source=source,
        private=private,
        piece_size=int(info["piece length"]),
        comment=_text(metainfo.get("comment")),
        created_by=_text(metainfo.get("created by")),
        announce=tuple(announce),
        raw=data,
    )


def read_torrent(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> TorrentInfo:
    """Parse and validate a .torrent file.

    Checks, in order: size cap (``too_large``), emptiness (``empty``), bencode
    (``not_bencode``), presence of an info dictionary (``no_info``), torf validation and a
    few extra sanity checks (``invalid``). The info hash is the SHA-1 of the original
    bencoded ``info`` value, as BitTorrent clients compute it.

    :raises TorrentFileError: and nothing else.
    """
    data = _as_bytes(data)
    try:
        scan, torrent = _check_and_parse(data, max_bytes)
        return _build_info(data, scan, torrent)
    except TorrentFileError:
        raise
    except Exception as e:  # defensive: the contract is "TorrentFileError only"
        raise TorrentFileError("invalid", f"{type(e).__name__}: {e}") from None


# Writing (the source flag) and names (titles, announce masking) live in their own modules;
# imported last, because they build on what is defined above.
from bot.torrents.names import clean_title, redact_announce  # noqa: E402
from bot.torrents.source import LACALE_SOURCE, has_lacale_source, set_source  # noqa: E402
