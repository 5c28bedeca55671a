"""Build real .torrent files in memory, for tests.

No file on disk and no hashing of content: the metainfo is filled in directly with a fake
(but well-formed: 20 bytes per piece) ``pieces`` string, then dumped by torf, so the
result passes torf's validation and any BitTorrent parser. A torrent takes well under a
millisecond for ordinary sizes.

    data = make_torrent("One.Piece.S01E01.1080p", source="lacale")
    data = make_torrent("Pack", files=[("E01.mkv", 10_000), ("Subs/E01.srt", 300)])
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence

import torf
from torf import _flatbencode as bencode

__all__ = ["DEFAULT_ANNOUNCE", "info_hash_of", "make_torrent"]

DEFAULT_ANNOUNCE = "https://tracker.la-cale.space/announce?passkey=abc123"


def make_torrent(
    name: str = "Some.Release.1080p",
    *,
    files: Sequence[tuple[str, int]] | None = None,
    source: str | None = None,
    private: bool = True,
    announce: str | Iterable[str] | None = DEFAULT_ANNOUNCE,
    piece_size: int | None = 16384,
    comment: str | None = None,
    size: int = 1_048_576,
    created_by: str | None = "Vigie tests",
    creation_date: int | None = None,
    extra_info: Mapping[str, object] | None = None,
) -> bytes:
    """Return the bytes of a valid v1 torrent.

    :param files: ``[(path, size), ...]`` for a multi-file torrent (paths relative to the
        torrent's directory, "/"-separated); ``None`` for a single-file torrent of ``size``
        bytes named ``name``.
    :param source: ``info.source``; omitted when None.
    :param private: sets ``info.private = 1``; the key is omitted when False.
    :param announce: one URL, several (first is ``announce``, all are in
        ``announce-list``, one tier each), or None for a trackerless torrent.
    :param piece_size: a multiple of 16 KiB; ``None`` lets torf pick one for the size
        (use it for multi-GB sizes: 16 KiB pieces mean 20 bytes of ``pieces`` per 16 KiB).
    :param extra_info: extra keys for the info dict (e.g. unknown ones), str or bytes
        values, ints, lists, dicts.
    """
    t = torf.Torrent(created_by=created_by, comment=comment, source=source)
    info = t.metainfo["info"]
    info["name"] = name
    if files is None:
        info["length"] = total = int(size)
    else:
        if not files:
            raise ValueError("files must not be empty (use files=None for a single file)")
        info["files"] = [
            {"length": int(length), "path": [p for p in str(path).split("/") if p]} for path, length in files
        ]
        total = sum(int(length) for _, length in files)
    if total <= 0:
        # torf wants at least one piece hash and exactly ceil(size / piece) of them.
        raise ValueError("torf cannot represent an empty torrent: total size must be > 0")
    if piece_size is None:
        piece_size = torf.Torrent.calculate_piece_size(max(total, 1))
    info["piece length"] = piece_size
    # One fake 20-byte hash per piece.
    pieces = math.ceil(total / piece_size)
    info["pieces"] = hashlib.sha1(f"{name}/{total}".encode(), usedforsecurity=False).digest() * pieces
    if private:
        info["private"] = True
    if extra_info:
        info.update(extra_info)
    if creation_date is not None:
        t.metainfo["creation date"] = creation_date
    if announce is not None:
        urls = [announce] if isinstance(announce, str) else list(announce)
        if urls:
            t.metainfo["announce"] = urls[0]
            if len(urls) > 1:
                t.metainfo["announce-list"] = [[u] for u in urls]
    return t.dump()


def info_hash_of(data: bytes) -> str:
    """SHA-1 (hex) of the bencoded ``info`` dict of ``data``.

    Computed independently of ``bot.torrents`` (decode, re-encode the info value), so it
    only holds for canonical bencode, which is what :func:`make_torrent` and torf produce;
    raises ValueError for a non-canonical torrent rather than answer something wrong.
    """
    metainfo = bencode.decode(bytes(data))
    if bencode.encode(metainfo) != bytes(data):
        raise ValueError("not canonical bencode: info_hash_of() cannot be trusted on it")
    return hashlib.sha1(bencode.encode(metainfo[b"info"]), usedforsecurity=False).hexdigest()
