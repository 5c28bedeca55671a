"""A release as the criteria read it: its title normalised once per process, its
category label normalised, and what its name says (resolution, source, codec, languages,
season, episode: :mod:`bot.releases`), read once per info hash for the whole process and
only when a criterion asks. Pure, no I/O."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.lacale.models import Torrent, normalize_text
from bot.releases import ReleaseInfo, parsed

_SEPARATORS = re.compile(r"[\W_]+")


def normalize_words(text: str | None) -> tuple[str, ...]:
    """Lower case, accents removed, anything but letters and digits as a space, split.

    ``"Astérix.et.Obélix (2002)"`` → ``("asterix", "et", "obelix", "2002")``. Letters of
    every script are kept (``\\W`` is Unicode-aware), so a Japanese or Cyrillic title still
    has words.
    """
    if not text:
        return ()
    return tuple(_SEPARATORS.sub(" ", normalize_text(text)).split())


@functools.lru_cache(maxsize=1024)
def normalize_label(label: str | None) -> str:
    """A category label as compared with ``Meta.labels_under`` (which uses ``normalize_text``)."""
    return normalize_text((label or "").strip())


@dataclass(frozen=True, slots=True)
class _Title:
    words: tuple[str, ...]
    text: str  # " word word … " (spaces around) for whole-word phrase checks
    prefixes: frozenset[str]  # every prefix of every word: a query word is one lookup


_TITLES: dict[str, _Title] = {}


def _title(title: str) -> _Title:
    """Normalised once per title for the whole process: every server sees the same newest
    page, so a thousand servers would otherwise normalise the same fifty titles."""
    found = _TITLES.get(title)
    if found is None:
        words = normalize_words(title)
        prefixes = frozenset(w[:i] for w in words for i in range(1, len(w) + 1))
        found = _Title(words, " " + " ".join(words) + " ", prefixes)
        if len(_TITLES) >= 20_000:
            _TITLES.clear()
        _TITLES[title] = found
    return found


@dataclass(frozen=True, slots=True)
class ReleaseView:
    """A release with its title and label normalised (the torrent itself stays the one
    just fetched: its seeders change over time)."""

    torrent: Torrent
    words: tuple[str, ...]
    text: str
    prefixes: frozenset[str]
    label: str
    _info: ReleaseInfo | None = field(default=None, repr=False, compare=False)

    @property
    def info(self) -> ReleaseInfo:
        """What the release's name says, read through the process-wide cache by info hash
        (never once per alert, server or watch), the first time a criterion asks."""
        info = self._info
        if info is None:
            info = parsed(self.torrent.info_hash, self.torrent.title)
            object.__setattr__(self, "_info", info)  # a cache of a pure function of the torrent
        return info

    @classmethod
    def of(cls, torrent: Torrent) -> ReleaseView:
        title = _title(torrent.title)
        return cls(torrent, title.words, title.text, title.prefixes, normalize_label(torrent.category))


def read_names(views: Iterable[ReleaseView]) -> None:
    """What each release's name says, read now (through the cache by info hash). Reading
    a new name takes milliseconds: the poller calls this in a worker thread before
    matching criteria that read it, so the event loop never waits on the parser."""
    for view in views:
        _ = view.info
