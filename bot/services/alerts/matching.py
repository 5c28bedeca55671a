"""Does a release match an alert? Pure functions, no I/O.

The rule, as ``/alert test`` and the README explain it:

- the title and the alert's words are normalised like La Cale's ``q`` (lower case, accents
  removed, punctuation and dots as spaces), so ``One.Piece.S01E01`` reads
  ``one piece s01e01``;
- every word of the query must start a word of the title: ``piece s01`` matches
  ``One.Piece.S01E01`` (prefix, so a season finds its episodes and ``1080`` finds
  ``1080p``), ``une`` does not match ``Dune`` (never the middle of a word);
- a category includes its sub-categories (results carry a *label*, so the chosen slug is
  turned into the labels of it and its descendants through ``/meta``);
- sizes are inclusive bounds, seeders a minimum, both as the release was when first seen;
- an excluded entry (a word, or several words in a row) drops the release when it
  appears as whole words: ``cam`` drops ``Film.CAM.x264`` but not ``Cameron``;
- a TMDB id cannot be read from a result: the caller passes the info hashes La Cale
  returned for ``tmdbId=…``.

Every decision carries a reason, logged when a release is dropped.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from bot.lacale.models import Meta, Torrent, normalize_text

log = logging.getLogger("vigie.alerts.match")

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


def parse_exclude(text: str | None) -> list[str]:
    """``"cam, hd ts"`` → ``["cam", "hd ts"]``; without commas every word is an entry
    (``"cam ts"`` → ``["cam", "ts"]``). Entries are stored normalised."""
    if not text or not text.strip():
        return []
    parts = text.split(",") if "," in text else text.split()
    out: list[str] = []
    for part in parts:
        words = normalize_words(part)
        if words and " ".join(words) not in out:
            out.append(" ".join(words))
    return out


class AlertLike(Protocol):
    """What a filter is built from: an ``Alert`` row, an ``AlertRow``, a spec."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def query(self) -> str | None: ...
    @property
    def categories(self) -> Any: ...
    @property
    def tmdb_id(self) -> str | None: ...
    @property
    def min_size(self) -> int | None: ...
    @property
    def max_size(self) -> int | None: ...
    @property
    def min_seeders(self) -> int | None: ...
    @property
    def exclude(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Decision:
    ok: bool
    #: For logs: which criterion failed and how.
    reason: str
    #: For summaries: ``match``, ``word``, ``category``, ``size``, ``seeders``, ``exclude``, ``tmdb``.
    kind: str = "match"

    def __bool__(self) -> bool:
        return self.ok


MATCH = Decision(True, "match")


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

    @classmethod
    def of(cls, torrent: Torrent) -> ReleaseView:
        title = _title(torrent.title)
        return cls(torrent, title.words, title.text, title.prefixes, normalize_label(torrent.category))


class AlertFilter(NamedTuple):
    """One alert's criteria, normalised for matching.

    A tuple of plain values (labels too): the poller keeps one per running alert, and
    the garbage collector leaves such tuples alone."""

    alert_id: int
    name: str
    words: tuple[str, ...]
    categories: tuple[str, ...]  # slugs as chosen
    #: Normalised labels of the chosen categories and their descendants; ``None``: any.
    labels: tuple[str, ...] | None
    tmdb_id: str | None
    min_size: int | None
    max_size: int | None
    min_seeders: int | None
    exclude: tuple[str, ...]  # normalised entries, each one or more words

    @classmethod
    def from_alert(cls, alert: AlertLike, meta: Meta | None) -> AlertFilter:
        """``meta`` is needed only when the alert has categories; without it (La Cale's
        ``/meta`` unreachable) a category alert matches nothing rather than everything."""
        categories = tuple(str(c) for c in (alert.categories or ()))
        labels: tuple[str, ...] | None = None
        if categories:
            found: set[str] = set()
            if meta is not None:
                for slug in categories:
                    under = meta.labels_under(slug)
                    if not under:
                        log.warning("alert %s: category %r is not in La Cale's metadata any more", alert.id, slug)
                    found |= under
            labels = tuple(sorted(found))
        exclude: list[str] = []
        for entry in alert.exclude or ():
            words = normalize_words(str(entry))
            if words:
                exclude.append(" ".join(words))
        return cls(
            alert_id=alert.id,
            name=alert.name,
            words=normalize_words(alert.query),
            categories=categories,
            labels=labels,
            tmdb_id=(alert.tmdb_id or None),
            min_size=alert.min_size,
            max_size=alert.max_size,
            min_seeders=alert.min_seeders,
            exclude=tuple(exclude),
        )


def match(alert: AlertFilter, release: ReleaseView, *, tmdb_hashes: Collection[str] | None = None) -> Decision:
    """The alert's verdict on one release, with the first reason it fails.

    ``tmdb_hashes``: info hashes La Cale returned for the alert's ``tmdbId``; required for
    a TMDB alert (results do not say which film they are)."""
    torrent = release.torrent
    for word in alert.words:
        if word not in release.prefixes:
            return Decision(False, f"word '{word}' not in title", "word")
    if alert.labels is not None and release.label not in alert.labels:
        return Decision(False, f"category '{torrent.category}' not under {','.join(alert.categories)}", "category")
    if alert.min_size is not None and torrent.size < alert.min_size:
        return Decision(False, f"size {torrent.size} below {alert.min_size}", "size")
    if alert.max_size is not None and torrent.size > alert.max_size:
        return Decision(False, f"size {torrent.size} above {alert.max_size}", "size")
    if alert.min_seeders is not None and torrent.seeders < alert.min_seeders:
        return Decision(False, f"{torrent.seeders} seeders below {alert.min_seeders}", "seeders")
    for entry in alert.exclude:
        if f" {entry} " in release.text:
            return Decision(False, f"excluded word '{entry}'", "exclude")
    if alert.tmdb_id:
        if tmdb_hashes is None:
            return Decision(False, "TMDB results unknown", "tmdb")
        if torrent.info_hash not in tmdb_hashes:
            return Decision(False, f"not in TMDB {alert.tmdb_id} results", "tmdb")
    return MATCH


@dataclass(frozen=True, slots=True)
class Match:
    alert: AlertFilter
    release: ReleaseView


def match_all(
    alerts: Sequence[AlertFilter],
    releases: Iterable[ReleaseView],
    *,
    tmdb_hashes: dict[str, frozenset[str]] | None = None,
    guild_id: int | None = None,
) -> list[Match]:
    """Every (alert, release) pair that matches, releases in the given order; every drop
    logged at DEBUG with its reason (the check is skipped when DEBUG is off: a server's
    page times its alerts is a lot of lines)."""
    debug = log.isEnabledFor(logging.DEBUG)
    out: list[Match] = []
    for release in releases:
        prefixes = release.prefixes
        for alert in alerts:
            # Most alerts fail on their first word: decided here without a call.
            if alert.words and alert.words[0] not in prefixes:
                if debug:
                    log.debug(
                        "guild=%s alert=%s drop %s: word '%s' not in title",
                        guild_id,
                        alert.alert_id,
                        release.torrent.info_hash,
                        alert.words[0],
                    )
                continue
            hashes = tmdb_hashes.get(alert.tmdb_id) if (tmdb_hashes is not None and alert.tmdb_id) else None
            decision = match(alert, release, tmdb_hashes=hashes)
            if decision.ok:
                out.append(Match(alert, release))
            elif debug:
                log.debug(
                    "guild=%s alert=%s drop %s: %s",
                    guild_id,
                    alert.alert_id,
                    release.torrent.info_hash,
                    decision.reason,
                )
    return out


def log_drop(guild_id: int, alert_id: int | None, torrent: Torrent, reason: str) -> None:
    """A release dropped by a cap rather than a filter (too old, baseline...)."""
    log.debug(
        "guild=%s alert=%s drop %s: %s", guild_id, alert_id if alert_id is not None else "*", torrent.info_hash, reason
    )


def newest_first(torrents: Iterable[Torrent]) -> list[Torrent]:
    return sorted(torrents, key=lambda t: t.pub_date, reverse=True)


def oldest_first(torrents: Iterable[Torrent]) -> list[Torrent]:
    return sorted(torrents, key=lambda t: t.pub_date)


def dedupe(torrents: Iterable[Torrent]) -> list[Torrent]:
    """First occurrence of each info hash (the same release comes back from several queries)."""
    seen: set[str] = set()
    out: list[Torrent] = []
    for torrent in torrents:
        if torrent.info_hash not in seen:
            seen.add(torrent.info_hash)
            out.append(torrent)
    return out
