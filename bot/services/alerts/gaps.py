"""Telling a quiet cycle from a burst bigger than one page. Pure functions.

The newest page holds 50 releases. When every one of them is new to a server that had
been polled before, more may have been published since the last poll than the page
shows: each alert's own query is then asked (it returns that alert's 50 newest, which
covers it unless the alert itself matched more than 50 in the meantime). When even that
page is entirely new, releases may really be missing, and the alert's channel is told
between which two times.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.lacale.models import Torrent
from bot.limits import PAGE_SIZE


def newest_page_overflowed(page: Sequence[Torrent], seen: Collection[str], *, has_history: bool) -> bool:
    """Every release on the newest page is unseen, and the server had recorded releases
    before (otherwise there is no "before" to have a gap from: the alerts' baselines
    cover what existed when they were made)."""
    return has_history and bool(page) and not any(t.info_hash in seen for t in page)


def is_new_since(torrent: Torrent, seen: Collection[str], since: datetime | None) -> bool:
    """Unseen and published after the newest release the server had seen: a release of
    the gap. Older unseen releases of a targeted page are history, not news."""
    return torrent.info_hash not in seen and (since is None or torrent.pub_date > since)


def page_unfilled(
    page: Sequence[Torrent], seen: Collection[str], since: datetime | None, *, page_size: int = PAGE_SIZE
) -> bool:
    """A full page whose every release is in the gap: what lies beyond it is unknown."""
    return len(page) >= page_size and all(is_new_since(t, seen, since) for t in page)


@dataclass(frozen=True, slots=True)
class MissedRange:
    """Releases published in (since, until) may not have been seen."""

    since: datetime
    until: datetime


def missed_range(page: Sequence[Torrent], since: datetime) -> MissedRange:
    return MissedRange(since, min(t.pub_date for t in page))
