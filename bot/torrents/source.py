"""Writing a .torrent: La Cale's source flag (``info.source``), set without touching
anything else in the file."""

from __future__ import annotations

from typing import cast

from torf import _flatbencode as bencode

from bot.torrents import DEFAULT_MAX_BYTES, TorrentFileError, TorrentInfo, read_torrent

#: The source flag La Cale expects in ``info.source``; without it the site rewrites the
#: torrent, which changes its info hash.
LACALE_SOURCE = "lacale"


def set_source(data: bytes | TorrentInfo, source: str = LACALE_SOURCE, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Return the torrent ``data`` with ``info.source`` set to ``source``.

    The torrent is validated first (same errors as :func:`read_torrent`), unless ``data``
    is the :class:`TorrentInfo` :func:`read_torrent` already made of it. If it already
    carries exactly this source, ``data`` is returned unchanged. Otherwise the metainfo is
    decoded with torf's bencode codec *as raw bytes* and re-encoded with only
    ``info.source`` changed: every other value (private flag, unknown keys, non-UTF-8
    names, top-level v2 "piece layers"...) is kept byte for byte; the output is canonical
    bencode (sorted keys). The info hash changes, as it must.

    ``torf.Torrent.dump`` is not used on purpose: it cannot encode dictionaries with
    non-UTF-8 keys, rewrites ``private`` to 0/1 and ``creation date`` via datetime.

    :raises TorrentFileError: for unusable torrent data.
    :raises ValueError: if ``source`` is not a non-empty string (a programming error).
    """
    if not isinstance(source, str) or not source:
        raise ValueError(f"source must be a non-empty string, not {source!r}")
    info = data if isinstance(data, TorrentInfo) else read_torrent(data, max_bytes=max_bytes)
    if info.source == source:
        return info.raw
    try:
        metainfo = bencode.decode(info.raw)
        metainfo[b"info"][b"source"] = source.encode("utf-8")
        return cast(bytes, bencode.encode(metainfo))
    except Exception as e:  # pragma: no cover - read_torrent already decoded it
        raise TorrentFileError("invalid", f"re-encoding failed: {type(e).__name__}: {e}") from None


def has_lacale_source(info: TorrentInfo) -> bool:
    """Whether the torrent already carries La Cale's source flag (exact, case-sensitive:
    anything else and the site rewrites the torrent)."""
    return info.source == LACALE_SOURCE
