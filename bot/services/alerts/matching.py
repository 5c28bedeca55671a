"""Does a release match an alert? Pure functions, no I/O.

The rule is each criterion's (:mod:`bot.criteria`); this module runs the compiled
criteria of a server's alerts over the releases of a poll, and logs every drop with its
reason.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from bot.criteria import (
    MATCH,
    Compiled,
    Criteria,
    Decision,
    ReleaseView,
    check,
    normalize_label,
    normalize_words,
    parse_exclude,
)
from bot.lacale.models import Meta, Torrent

log = logging.getLogger("vigie.alerts.match")

__all__ = [
    "MATCH",
    "AlertFilter",
    "AlertLike",
    "Decision",
    "Match",
    "ReleaseView",
    "dedupe",
    "log_drop",
    "match",
    "match_all",
    "newest_first",
    "normalize_label",
    "normalize_words",
    "oldest_first",
    "parse_exclude",
]


class AlertLike(Protocol):
    """What a filter is built from: an ``AlertRow``, an ``AlertInfo``."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def criteria(self) -> Criteria: ...


class AlertFilter(NamedTuple):
    """One alert's criteria, compiled for matching (the poller keeps one per running alert)."""

    alert_id: int
    name: str
    criteria: Criteria
    checks: Compiled
    #: The first word of the query, if any: most alerts fail on it, decided without a call.
    first_word: str | None

    @property
    def tmdb_id(self) -> str | None:
        return self.criteria.tmdb_id

    @classmethod
    def from_alert(cls, alert: AlertLike, meta: Meta | None) -> AlertFilter:
        """``meta`` is needed only when the criteria need the category tree; without it (La
        Cale's ``/meta`` unreachable) a category alert matches nothing rather than everything."""
        criteria = alert.criteria
        words = normalize_words(criteria.query)
        return cls(alert.id, alert.name, criteria, criteria.compile(meta), words[0] if words else None)


def match(alert: AlertFilter, release: ReleaseView, *, tmdb_hashes: Collection[str] | None = None) -> Decision:
    """The alert's verdict on one release, with the first reason it fails.

    ``tmdb_hashes``: info hashes La Cale returned for the alert's ``tmdbId``; required for
    a TMDB alert (results do not say which film they are)."""
    return check(alert.checks, release, tmdb_hashes=tmdb_hashes)


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
            if alert.first_word is not None and alert.first_word not in prefixes:
                if debug:
                    log.debug(
                        "guild=%s alert=%s drop %s: word '%s' not in title",
                        guild_id,
                        alert.alert_id,
                        release.torrent.info_hash,
                        alert.first_word,
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
