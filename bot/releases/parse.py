"""What a release name says: resolution, source, codec, French language tags, season and
episode.

guessit (the reference release-name parser, used by Medusa, SickChill, subliminal…) reads
the resolution, the source, the codec, the season and the episode. It does not know the
French language tags, or reads them loosely ("MULTi.VFF" is "several languages, French",
"VF2" and "VFQ" are nothing, "TRUEFRENCH" and "VFF" are the same "fr"), so the languages
are read by our own token rules below, with guessit's French only as a fallback. guessit
does not know AV1 nor "BDRemux" either; a token rule adds them.

Semantics of the language tags (each tag in the name gives its canonical value; nothing
is inferred from another tag, so a criterion decides what it accepts):

- ``MULTi`` / ``MULTI`` / ``Multi`` → {"MULTi"} (not "Multi Subs": subtitles only);
- ``MULTi.VFF`` → {"MULTi", "VFF"}; ``MULTi.VFQ`` → {"MULTi", "VFQ"};
  ``MULTi.VF2`` / ``Multi-VF2`` → {"MULTi", "VF2"}; ``MULTi.TRUEFRENCH`` → {"MULTi", "TRUEFRENCH"};
- ``VFF`` and ``VFI`` → "VFF"; ``VFQ`` → "VFQ"; ``VF2`` → "VF2"; ``VFF.VFQ`` → {"VFF", "VFQ"};
- ``TRUEFRENCH`` / ``TRUE.FRENCH`` → "TRUEFRENCH" (not also "FRENCH");
- ``FRENCH``, ``VF`` and a lone ``FR`` → "FRENCH";
- ``VOSTFR``, ``VOST``, ``SUBFRENCH`` → "VOSTFR";
- ``VO`` → "VO".

The words of the title are skipped (as guessit delimits it), so "La.French.2014…" or
"The.French.Connection…" do not read as French audio by their title.

Badges (:meth:`ReleaseInfo.badges`) are resolution · source · codec · languages, the
languages in the vocabulary's order. Season and episode are not badges: the release name
shown beside them already says "S01E02", and a badge would only repeat it.

Nothing here raises on a malformed name: what cannot be read is left empty.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import guessit

from bot.releases.vocabulary import LANGUAGES

log = logging.getLogger(__name__)

#: Characters of a name read at most: La Cale's names are at most 200; a longer string
#: is cut rather than handed whole to guessit, whose cost grows with the length.
NAME_READ_MAX = 400

_LANGUAGE_ORDER = {value: index for index, value in enumerate(LANGUAGES)}


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    """What one release name says. Empty fields: the name does not say."""

    resolution: str | None = None
    source: str | None = None
    codec: str | None = None
    languages: frozenset[str] = frozenset()
    seasons: tuple[int, ...] = ()
    episodes: tuple[int, ...] = ()
    #: A season pack: seasons named, no episode.
    full_season: bool = False

    def badges(self) -> tuple[str, ...]:
        """("2160p", "WEB-DL", "x265", "MULTi", "VFF"): resolution · source · codec · languages."""
        fixed = tuple(value for value in (self.resolution, self.source, self.codec) if value)
        return fixed + tuple(sorted(self.languages, key=_LANGUAGE_ORDER.__getitem__))


EMPTY = ReleaseInfo()

# -- guessit's values → ours -----------------------------------------------------------------

_RESOLUTIONS: Mapping[str, str] = {
    "4320p": "2160p",
    "2160p": "2160p",
    "1440p": "1080p",
    "1080p": "1080p",
    "1080i": "1080p",
    "720p": "720p",
    "576p": "SD",
    "576i": "SD",
    "540p": "SD",
    "480p": "SD",
    "480i": "SD",
    "368p": "SD",
    "360p": "SD",
    "360i": "SD",
    "240p": "SD",
    "240i": "SD",
}
_SOURCES: Mapping[str, str] = {
    "Blu-ray": "BluRay",
    "Ultra HD Blu-ray": "BluRay",
    "HD-DVD": "BluRay",
    "HDTV": "HDTV",
    "Ultra HDTV": "HDTV",
    "Analog HDTV": "HDTV",
    "TV": "HDTV",
    "Digital TV": "HDTV",
    "Satellite": "HDTV",
    "Digital Satellite": "HDTV",
    "DVD": "DVD",
}
_CODECS: Mapping[str, str] = {"H.264": "x264", "H.265": "x265", "AV1": "AV1"}

# -- our token rules -----------------------------------------------------------------------

#: What separates the words of a release name.
_SPLIT = re.compile(r"[\s.\-_\[\](){}+,;/~|*:]+")

_LANGUAGE_TOKENS: Mapping[str, str] = {
    "multi": "MULTi",
    "multilang": "MULTi",
    "multilangue": "MULTi",
    "vff": "VFF",
    "vfi": "VFF",
    "vfq": "VFQ",
    "vf2": "VF2",
    "truefrench": "TRUEFRENCH",
    "french": "FRENCH",
    "vf": "FRENCH",
    "fr": "FRENCH",
    "vostfr": "VOSTFR",
    "vost": "VOSTFR",
    "vostf": "VOSTFR",
    "subfrench": "VOSTFR",
    "vo": "VO",
}
#: "Multi Subs", "Multi-Sub": several subtitles, not several audio tracks.
_SUBTITLE_WORDS = frozenset({"sub", "subs", "subtitles", "subtitle", "st", "stfr"})
_AV1 = frozenset({"av1"})
_REMUX = frozenset({"remux", "bdremux", "uhdremux"})
_UHD = frozenset({"uhd", "4k", "2160p"})


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for token in _SPLIT.split(text.casefold()):
        if token == "french" and tokens and tokens[-1] == "true":  # noqa: S105 - a word, not a secret
            tokens[-1] = "truefrench"  # "TRUE.FRENCH", even when guessit puts "TRUE" in the title
        elif token:
            tokens.append(token)
    return tokens


def _after_title(tokens: list[str], title: object) -> list[str]:
    """``tokens`` without the leading words of guessit's title, so that the words of a
    title ("La French", "French Kiss") are not read as tags."""
    if not isinstance(title, str):
        return tokens
    skipped = 0
    for word, token in zip(_tokens(title), tokens, strict=False):
        if word != token:
            break  # "TRUE" of "TRUE.FRENCH" that guessit put in the title stops here
        skipped += 1
    return tokens[skipped:]


def _languages(tokens: list[str], guessed: object) -> frozenset[str]:
    found: set[str] = set()
    for index, token in enumerate(tokens):
        value = _LANGUAGE_TOKENS.get(token)
        if value is None:
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if value == "MULTi" and following in _SUBTITLE_WORDS:
            continue
        found.add(value)
    if not found and "fr" in _codes(guessed):
        found.add("FRENCH")  # "Français", "Fra"…: guessit's French, which dub unsaid
    return frozenset(found)


def _codes(guessed: object) -> set[str]:
    """The ISO 639 codes of guessit's ``language`` (one Language, a list, or nothing)."""
    values = guessed if isinstance(guessed, list) else [guessed]
    return {str(getattr(value, "alpha2", "") or "") for value in values if value is not None}


def _numbers(value: object) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    return tuple(sorted({v for v in values if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10_000}))


def _others(guess: Mapping[str, Any]) -> set[str]:
    other = guess.get("other")
    values = other if isinstance(other, list) else [other]
    return {value for value in values if isinstance(value, str)}


def _source(guess: Mapping[str, Any], others: set[str], tokens: Iterable[str]) -> str | None:
    words = set(tokens)
    source = guess.get("source")
    if isinstance(source, list):
        source = source[0] if source else None
    remuxed = "Remux" in others or bool(words & _REMUX)
    if remuxed and source in (None, "Blu-ray", "Ultra HD Blu-ray", "HD-DVD"):
        return "Remux"
    if source == "Web":
        return "WEBRip" if "Rip" in others else "WEB-DL"
    return _SOURCES.get(source) if isinstance(source, str) else None


_WIDTH_BY_HEIGHT = re.compile(r"^(\d{3,4})x(\d{3,4})$")


def _resolution(screen: object) -> str | None:
    """Read guessit's ``screen_size`` ("1080p", or "960x544" when it is not a standard one)."""
    if not isinstance(screen, str):
        return None
    if screen in _RESOLUTIONS:
        return _RESOLUTIONS[screen]
    sized = _WIDTH_BY_HEIGHT.match(screen)
    if sized is None:
        return None
    # A film cropped to 1920x800 is still "1080p": the width or the height, whichever says more.
    width, height = int(sized.group(1)), int(sized.group(2))
    if width >= 3200 or height >= 1600:
        return "2160p"
    if width >= 1800 or height >= 1000:
        return "1080p"
    if width >= 1200 or height >= 700:
        return "720p"
    return "SD"


def _guess(name: str) -> Mapping[str, Any]:
    try:
        guess = guessit.guessit(name)
    except Exception:  # guessit's rules on an unexpected input: read nothing rather than fail
        log.debug("guessit could not read a release name", exc_info=True)
        return {}
    return guess if isinstance(guess, Mapping) else {}


def parse_release(name: str) -> ReleaseInfo:
    """Read a release name. Never raises; what the name does not say stays empty."""
    if not isinstance(name, str) or not name.strip():
        return EMPTY
    name = name[:NAME_READ_MAX]
    guess = _guess(name)
    others = _others(guess)
    tokens = _after_title(_tokens(name), guess.get("title"))

    resolution = _resolution(guess.get("screen_size"))
    if resolution is None and (set(tokens) & _UHD or "Ultra HD" in others):
        resolution = "2160p"

    codec_name = guess.get("video_codec")
    codec = _CODECS.get(codec_name) if isinstance(codec_name, str) else None
    if codec is None and set(tokens) & _AV1:
        codec = "AV1"

    seasons = _numbers(guess.get("season"))
    episodes = _numbers(guess.get("episode"))
    return ReleaseInfo(
        resolution=resolution,
        source=_source(guess, others, tokens),
        codec=codec,
        languages=_languages(tokens, guess.get("language")),
        seasons=seasons,
        episodes=episodes,
        full_season=bool(seasons) and not episodes,
    )
