"""The canonical values of the release-aware criteria and the spellings members type.

One table per criterion: canonical value → the other spellings accepted for it. The
criteria parsing (``/alert``, ``/watch``), their autocomplete and the release-name parser
all read these tables, so "4k" typed by a member and "2160p" read from a release name
meet on the same canonical ``"2160p"``.

Canonical values keep the case the French scene writes them in ("MULTi", "WEB-DL",
"x265"): they are shown as they are, in badges and in ``/alert list``. Matching a member's
input is case-insensitive and ignores spaces, dots, dashes and underscores
("web dl", "Web-DL", "WEBDL" are all ``"WEB-DL"``).

This module imports nothing from the bot: the services, the cogs and the parser use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Criterion(StrEnum):
    """A release-aware criterion with a fixed vocabulary."""

    RESOLUTION = "resolution"
    SOURCE = "source"
    CODEC = "codec"
    LANGUAGE = "language"


#: Resolutions, highest first. "SD" is anything below 720p (480p, 576p, DVD-sized).
RESOLUTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "2160p": ("4k", "uhd", "2160", "2160i", "4320p", "8k"),
        "1080p": ("1080", "1080i", "fhd", "fullhd"),
        "720p": ("720", "720i"),
        "SD": ("480p", "480i", "480", "576p", "576i", "576", "540p", "360p", "240p"),
    }
)

#: Sources. "Remux" is a Blu-ray (or UHD Blu-ray) remuxed without re-encoding; "BluRay"
#: covers Blu-ray encodes (BDRip, BRRip, UHD Blu-ray); "WEB-DL" an untouched web stream
#: (the scene's "WEB"); "HDTV" covers TV captures (HDTV, PDTV, TVRip, satellite); "DVD"
#: covers DVDRip, DVD-R and DVD screeners.
SOURCES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "WEB-DL": ("web", "webdl"),
        "WEBRip": ("web rip",),
        "BluRay": ("blu-ray", "bd", "bdrip", "brrip", "uhd bluray"),
        "Remux": ("bdremux", "uhdremux", "bluray remux"),
        "HDTV": ("tv", "pdtv", "tvrip", "hdtvrip", "ahdtv"),
        "DVD": ("dvdrip", "dvdr", "dvd5", "dvd9"),
    }
)

#: Video codecs, by the name of the encoder the scene writes ("x264" for any H.264 stream).
CODECS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "x264": ("h264", "h.264", "avc"),
        "x265": ("h265", "h.265", "hevc"),
        "AV1": (),
    }
)

#: French release language tags. Their meaning (French scene conventions):
#:
#: - ``MULTi``: several audio tracks, French and the original language;
#: - ``VFF``: the French dub made in France (``VFI``, the "international" dub made in
#:   France, is read as ``VFF``);
#: - ``VFQ``: the French dub made in Quebec;
#: - ``VF2``: both dubs, France's and Quebec's;
#: - ``TRUEFRENCH``: France's dub, said of releases where a Quebec dub also exists
#:   (older name of ``VFF``);
#: - ``FRENCH``: French audio, without saying which dub;
#: - ``VOSTFR``: original audio with French subtitles (``SUBFRENCH``, ``VOST``);
#: - ``VO``: original audio only.
LANGUAGES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "MULTi": ("multi", "multilang", "multi-lang"),
        "VFF": ("vfi", "vf france"),
        "VFQ": ("vq", "quebec", "québec"),
        "VF2": (),
        "TRUEFRENCH": ("true french",),
        "FRENCH": ("vf", "fr", "francais", "français"),
        "VOSTFR": ("subfrench", "vost", "vostf", "vo st fr"),
        "VO": ("original", "vo only"),
    }
)

VOCABULARIES: Mapping[Criterion, Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        Criterion.RESOLUTION: RESOLUTIONS,
        Criterion.SOURCE: SOURCES,
        Criterion.CODEC: CODECS,
        Criterion.LANGUAGE: LANGUAGES,
    }
)

_SEPARATORS = re.compile(r"[\s._\-]+")


def _key(value: str) -> str:
    """How two spellings are compared: case-folded, separators removed."""
    return _SEPARATORS.sub("", value.strip().casefold())


def _lookup(vocabulary: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for canonical, aliases in vocabulary.items():
        for spelling in (canonical, *aliases):
            key = _key(spelling)
            if table.setdefault(key, canonical) != canonical:  # pragma: no cover - a typo in the tables
                raise ValueError(f"{spelling!r} means two values")
    return table


_LOOKUPS: Mapping[Criterion, dict[str, str]] = MappingProxyType(
    {criterion: _lookup(vocabulary) for criterion, vocabulary in VOCABULARIES.items()}
)


def canonical(criterion: Criterion | str, value: str) -> str | None:
    """The canonical value a member's ``value`` means for ``criterion``, or None if it
    means none of them ("4K" → "2160p", "hevc" → "x265", "vostfr" → "VOSTFR")."""
    return _LOOKUPS[Criterion(criterion)].get(_key(value))


def choices(criterion: Criterion | str, current: str = "") -> list[str]:
    """Canonical values to suggest while a member types ``current``, in the table's order:
    those whose canonical spelling or an alias starts with what was typed, then those
    that contain it. Empty input suggests every value."""
    vocabulary = VOCABULARIES[Criterion(criterion)]
    typed = _key(current)
    if not typed:
        return list(vocabulary)
    starts = [c for c, aliases in vocabulary.items() if any(_key(s).startswith(typed) for s in (c, *aliases))]
    contains = [
        c for c, aliases in vocabulary.items() if c not in starts and any(typed in _key(s) for s in (c, *aliases))
    ]
    return starts + contains
