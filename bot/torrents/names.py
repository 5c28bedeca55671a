"""Names shown from a .torrent: the default upload title, and tracker URLs with their
secrets masked."""

from __future__ import annotations

import re
import unicodedata

from bot.limits import TITLE_MAX
from bot.torrents import _text
from bot.urls import redact_secrets

_TORRENT_SUFFIX = re.compile(r"\.torrent\s*\Z", re.IGNORECASE)
_MEDIA_SUFFIX = re.compile(r"\.(?:mkv|mp4|avi|m4v|m2ts|wmv|mov|webm)\s*\Z", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def clean_title(name: str) -> str:
    """Default upload title from a torrent name.

    Keeps scene dots (``One.Piece.S01E01.1080p`` stays as is); drops a trailing
    ``.torrent`` and then the container extension of a single-file torrent (``.mkv``,
    ``.mp4``...); turns control characters into spaces, collapses whitespace, strips,
    and caps the result at 200 characters.
    """
    if not isinstance(name, str):
        name = _text(name) or ""
    title = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in name)
    title = _SPACES.sub(" ", title).strip()
    title = _TORRENT_SUFFIX.sub("", title).strip()
    title = _MEDIA_SUFFIX.sub("", title).strip()
    return title[:TITLE_MAX].rstrip()


def redact_announce(url: str) -> str:
    """The announce URL with its secrets replaced by ``***``.

    The rules are :mod:`bot.urls`'s, shared with the public link builder: values of
    passkey-like parameters (``passkey``, ``pk``, ``apikey``, ``token``, ``authkey``,
    ``torrent_pass``...), runs of 32+ hex digits (``/announce/<passkey>``,
    ``/<passkey>/announce``), UUIDs, path tokens of 32+ characters with a digit, and
    ``user:password@`` credentials. The rest of the URL is kept character for character.
    Never raises for a string.
    """
    url = _text(url) if not isinstance(url, str) else url
    return redact_secrets(url or "")
