"""Each release read once per process, however many servers, alerts and watches look at it.

A release is identified by its info hash, and its name never changes, so what its name
says is kept by info hash in a bounded LRU: a server's poll, another server's poll of the
same release, its alerts and its members' watches all get the same :class:`ReleaseInfo`.
Reading a name costs milliseconds (guessit); a cached lookup, a dictionary access.

The cache is per process on purpose: it holds derived data only (reading again gives the
same answer), so several processes of a cluster each keep their own and nothing needs
sharing. A lock makes it safe to call from worker threads (the integrator may run the
reading in ``asyncio.to_thread``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from bot.releases.parse import ReleaseInfo, parse_release

#: Releases kept. A release's entry is ~0.5 KB: 20,000 entries are ~10 MB, more than the
#: distinct releases a day of polling sees on La Cale.
CACHE_SIZE = 20_000

#: A well-formed name used to build guessit's rules before the first real release.
_WARM_UP_NAME = "Vigie.2024.S01E02.MULTi.VFF.2160p.WEB-DL.DDP5.1.x265-VIGIE"


class ReleaseParser:
    """Release names read through a bounded LRU keyed by info hash."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._entries: OrderedDict[str, ReleaseInfo] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def parsed(self, info_hash: str, name: str) -> ReleaseInfo:
        """What ``name`` says, read once for ``info_hash``. Without an info hash the name
        is read every time (nothing identifies it to cache it under)."""
        key = info_hash.strip().lower() if isinstance(info_hash, str) else ""
        if not key:
            return parse_release(name)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
        info = parse_release(name)  # outside the lock: other threads keep reading the cache
        with self._lock:
            self.misses += 1
            self._entries[key] = info
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return info

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


#: The process-wide cache.
RELEASES = ReleaseParser()


def parsed(info_hash: str, name: str) -> ReleaseInfo:
    """What a release's name says, through the process-wide cache."""
    return RELEASES.parsed(info_hash, name)


def warm_up() -> None:
    """Build guessit's rules now (its first call takes a few hundred milliseconds) rather
    than during the first poll. Call once at start-up, in a thread if the loop runs."""
    parse_release(_WARM_UP_NAME)
