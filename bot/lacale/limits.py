"""Per-key pacing shared by every client of the process.

La Cale limits per key (uploads: 30 per minute, documented) and answers 429 when pushed
(searches too, in practice). Clients are short-lived and many (one per command, per
member key), so the pacing state must outlive them: one :class:`KeyLimiter` per key, handed
out by a process-wide :class:`LimiterRegistry`. Thousands of keys are expected, hence
``__slots__``, lazily-built state and a registry that forgets idle keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.lacale.errors import KeyBusy, RateLimited

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]

#: Documented upload limit of La Cale.
UPLOAD_LIMIT = 30
UPLOAD_WINDOW = 60.0
#: Public indexers waited 2 to 5 s between searches; searches are treated as limited too.
DEFAULT_SEARCH_INTERVAL = 2.0
#: Longest a member's search may wait for its key's turn. Beyond it the search is refused
#: at once with the wait ("busy, retry in N s"): an unbounded queue let ten members book a
#: key minutes ahead, and every alert poll of that key waited behind them.
MEMBER_SEARCH_MAX_WAIT = 4.0


def key_fingerprint(api_key: str) -> bytes:
    """SHA-256 of a key: lets the process index per-key state without holding the key."""
    return hashlib.sha256(api_key.encode("utf-8")).digest()


@dataclass(slots=True)
class ServerQuirks:
    """What was learnt about the server's behaviour, shared by all keys of a registry.

    ``empty_query`` is how an "everything" search must be sent: ``""`` (no ``q``), ``"*"``
    (the server refused empty requests at some point and indexers switched to ``q=*``) or
    ``None`` while unknown.
    """

    empty_query: str | None = None


class KeyLimiter:
    """Pacing state of one API key.

    - uploads: at most ``upload_limit`` per rolling ``upload_window`` seconds; beyond that
      :meth:`acquire_upload` raises :class:`RateLimited` with the exact wait instead of
      sleeping, because the caller (a member in Discord) should be told, not kept waiting
      for a minute;
    - searches: spaced by ``search_interval``, whoever asks; :meth:`acquire_search`
      reserves the next slot and sleeps until it (short waits, so sleeping is the friendly
      choice). Two refinements, neither of which ever brings two searches of the key closer
      than ``search_interval`` (the pacing La Cale's public clients kept):

      * ``priority=True`` (alert polls) takes the first slot not yet started, ahead of
        queued ordinary searches, which each move back one interval;
      * ``max_wait`` (member searches) refuses with :class:`KeyBusy` instead of queueing
        when the key's slots are booked further ahead than that, so the queue a poll may
        find ahead of it stays a few seconds long;
    - :meth:`pause`: after a server 429, every later call of this key raises at once until
      the server's delay has passed, instead of earning more 429s.
    """

    __slots__ = (
        "_clock",
        "_next_search",
        "_paused_until",
        "_queued",
        "_sleep",
        "_uploads",
        "quirks",
        "search_interval",
        "upload_limit",
        "upload_window",
    )

    def __init__(
        self,
        *,
        search_interval: float = DEFAULT_SEARCH_INTERVAL,
        upload_limit: int = UPLOAD_LIMIT,
        upload_window: float = UPLOAD_WINDOW,
        quirks: ServerQuirks | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if upload_limit < 1 or upload_window <= 0 or search_interval < 0:
            raise ValueError("upload_limit >= 1, upload_window > 0 and search_interval >= 0 are required")
        self.upload_limit = upload_limit
        self.upload_window = upload_window
        self.search_interval = search_interval
        self.quirks = quirks if quirks is not None else ServerQuirks()
        self._clock = clock
        self._sleep = sleep
        self._uploads: deque[float] | None = None  # built on the first upload only
        self._next_search = 0.0  # when the slot after every reserved one starts
        self._queued: deque[_Slot] | None = None  # ordinary searches waiting: built on the first
        self._paused_until = 0.0

    # -- server-imposed pause -----------------------------------------------------------
    def pause(self, seconds: float) -> None:
        """Remember a server 429: calls raise until ``seconds`` from now (never shortened)."""
        until = self._clock() + max(0.0, seconds)
        if until > self._paused_until:
            self._paused_until = until

    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    def check_paused(self) -> None:
        """Raise :class:`RateLimited` when a server 429 is still being waited out."""
        remaining = self.paused_for()
        if remaining > 0:
            raise RateLimited("rate limited by La Cale, waiting before asking again", retry_after=remaining)

    # -- searches -----------------------------------------------------------------------
    def search_wait(self) -> float:
        """Seconds an ordinary search asked now would wait for its slot (0 when free)."""
        return max(0.0, self._next_search - self._clock())

    def check_search(self, max_wait: float | None) -> None:
        """Raise what :meth:`acquire_search` would raise at once, reserving nothing: a 429
        still being waited out (:class:`RateLimited`) or a queue longer than ``max_wait``
        (:class:`KeyBusy`)."""
        self.check_paused()
        if max_wait is not None:
            self._check_queue(max_wait)

    def _check_queue(self, max_wait: float) -> None:
        wait = self.search_wait()
        if wait > max_wait:
            raise KeyBusy(f"this key's searches are booked {wait:.1f} s ahead", retry_after=wait - max_wait, wait=wait)

    async def acquire_search(
        self, *, check_pause: bool = True, priority: bool = False, max_wait: float | None = None
    ) -> None:
        """Wait for this key's next search slot.

        The slot is reserved before sleeping, so concurrent callers queue up one interval
        apart instead of all waiting at once. ``check_pause=False`` is for a client retrying
        after having itself waited out the pause (a timer may fire a hair early).

        ``priority``: take the first slot no search has started in yet, and move every
        queued ordinary search back by one interval (polls before members). ``max_wait``:
        an ordinary search that would wait longer raises :class:`KeyBusy` (nothing reserved).
        """
        if check_pause:
            self.check_paused()
        now = self._clock()
        interval = self.search_interval
        queued = self._queued
        while queued and queued[0].at <= now:  # started (or starting): no longer movable
            queued.popleft()
        if priority:
            if queued:
                # Queued searches are one interval apart and end at ``_next_search``: each
                # moves back one step, and the first step is this poll's.
                start = queued[0].at
                for slot in queued:
                    slot.at += interval
                self._next_search += interval
            else:
                start = max(now, self._next_search)
                self._next_search = start + interval
            if start > now:
                await self._sleep(start - now)
                if check_pause:
                    self.check_paused()
            return
        if max_wait is not None:
            self._check_queue(max_wait)
        start = max(now, self._next_search)
        self._next_search = start + interval
        if start <= now:
            return
        slot = _Slot(start)
        if queued is None:
            queued = self._queued = deque()
        queued.append(slot)
        await self._sleep(start - now)
        # A poll took this slot meanwhile: wait the turns it moved it back. Measured from
        # the slot, not the clock, so an injected clock that stands still cannot loop.
        while slot.at > start:
            moved, start = slot.at - start, slot.at
            await self._sleep(moved)
        if check_pause:
            self.check_paused()

    # -- uploads ------------------------------------------------------------------------
    def upload_retry_after(self) -> float:
        """Seconds until an upload would be allowed (0 when one is allowed now)."""
        uploads = self._uploads
        if not uploads:
            return 0.0
        now = self._clock()
        horizon = now - self.upload_window
        while uploads and uploads[0] <= horizon:
            uploads.popleft()
        if len(uploads) < self.upload_limit:
            return 0.0
        return max(0.0, uploads[0] + self.upload_window - now)

    def acquire_upload(self) -> None:
        """Count one upload now, or raise :class:`RateLimited` if the window is full."""
        self.check_paused()
        wait = self.upload_retry_after()
        if wait > 0:
            raise RateLimited(f"at most {self.upload_limit} uploads per {self.upload_window:g} s", retry_after=wait)
        if self._uploads is None:
            self._uploads = deque(maxlen=self.upload_limit)
        self._uploads.append(self._clock())

    # -- housekeeping -------------------------------------------------------------------
    def is_idle(self) -> bool:
        """True when forgetting this limiter loses nothing (no pause, slot or upload pending)."""
        now = self._clock()
        return (
            self._paused_until <= now
            and self._next_search <= now
            and not (self._uploads and self._uploads[-1] > now - self.upload_window)
        )


class _Slot:
    """The start of one queued ordinary search; a priority search may move it back."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class LimiterRegistry:
    """One :class:`KeyLimiter` per key for the whole process.

    Indexed by the SHA-256 of the key so that the registry (long-lived, easy to dump in a
    debugger) never holds a key. Limiters share one :class:`ServerQuirks`: what one key
    learnt about the server spares the others a failed request.
    """

    __slots__ = ("_clock", "_limiters", "_sleep", "quirks", "search_interval", "upload_limit", "upload_window")

    def __init__(
        self,
        *,
        search_interval: float = DEFAULT_SEARCH_INTERVAL,
        upload_limit: int = UPLOAD_LIMIT,
        upload_window: float = UPLOAD_WINDOW,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.search_interval = search_interval
        self.upload_limit = upload_limit
        self.upload_window = upload_window
        self.quirks = ServerQuirks()
        self._clock = clock
        self._sleep = sleep
        self._limiters: dict[bytes, KeyLimiter] = {}

    def get(self, api_key: str) -> KeyLimiter:
        """The limiter of ``api_key``, created on first use."""
        fingerprint = key_fingerprint(api_key)
        limiter = self._limiters.get(fingerprint)
        if limiter is None:
            limiter = KeyLimiter(
                search_interval=self.search_interval,
                upload_limit=self.upload_limit,
                upload_window=self.upload_window,
                quirks=self.quirks,
                clock=self._clock,
                sleep=self._sleep,
            )
            self._limiters[fingerprint] = limiter
        return limiter

    def forget(self, api_key: str) -> None:
        """Drop a key's state (the member removed or replaced the key)."""
        self._limiters.pop(key_fingerprint(api_key), None)

    def prune(self) -> int:
        """Forget idle limiters so that rotating keys do not grow the registry; returns the count."""
        idle = [fp for fp, limiter in self._limiters.items() if limiter.is_idle()]
        for fp in idle:
            del self._limiters[fp]
        return len(idle)

    def __len__(self) -> int:
        return len(self._limiters)
