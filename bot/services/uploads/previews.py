"""Open upload previews: who holds them, how many bytes they keep in memory, and which
server key they rely on.

A preview keeps the whole .torrent (up to UPLOAD_MAX_BYTES) and the NFO until Confirm,
Cancel or expiry, up to 10 minutes and more if the member keeps using it. Without a bound,
a dozen previews opened in two seconds held over 100 MiB. So:

* **per member**: at most ``per_member`` previews. A new one closes that member's oldest
  (its buttons are removed, saying why) rather than being refused: ephemeral messages can
  be dismissed, and a member whose old previews are out of reach must not be locked out of
  ``/upload`` until they expire; the newest preview is the one they mean.
* **in total**: a byte budget shared by every server. When full, a new preview is refused
  ("retry in a few minutes"): closing other members' previews would let one busy server
  cancel everyone else's work.
* **server keys**: a preview names the key it will upload with. When a server's key is
  removed or replaced, or Vigie leaves the server, the previews relying on it close at once
  (Confirm re-checks everything anyway; closing frees the memory and tells the member now).

Pure bookkeeping: no Discord, no I/O. The owner of a preview (the view) registers a
callback to hear when its preview is closed from elsewhere.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.errors import UserError

log = logging.getLogger(__name__)

#: Why a preview was closed by something other than its own buttons or timeout.
CloseReason = Literal["replaced", "key_removed", "key_replaced", "guild_left", "expired"]

#: The message each reason is told with (``UploadDraft`` values fill ``{fingerprint}``).
CLOSE_MESSAGE_KEYS: dict[str, str] = {
    "replaced": "upload.closed.replaced",
    "key_removed": "upload.closed.key_removed",
    "key_replaced": "upload.closed.key_replaced",
    "guild_left": "upload.closed.guild_left",
    "expired": "upload.expired",
}

#: Called with the reason's message key and its values, once, when a preview is closed
#: from elsewhere. Runs synchronously: a callback that needs I/O schedules it.
OnClosed = Callable[[str, dict[str, Any]], None]

#: Recently closed previews remembered for a precise answer to a late Confirm.
_REMEMBERED_CLOSURES = 1024


class PreviewClosed(UserError):
    """The preview cannot be confirmed any more: nothing was sent. The view closes it with
    this message (other ``UserError``\\ s leave the preview open)."""


@dataclass(slots=True)
class _Preview:
    draft_id: str
    user_id: int
    guild_id: int | None
    key_owner: str
    key_fingerprint: str
    size: int
    deadline: float
    on_closed: OnClosed | None = field(default=None)


class PreviewRegistry:
    """Open previews, in the order they were opened (oldest first)."""

    def __init__(
        self,
        *,
        budget_bytes: int,
        per_member: int,
        idle_lifetime: float,
        in_flight: Collection[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget_bytes = budget_bytes
        self.per_member = per_member
        self.idle_lifetime = idle_lifetime
        #: Draft ids whose request is being sent: never closed from elsewhere (the request
        #: is out; Confirm of a later retry re-checks the key).
        self._in_flight = in_flight
        self._clock = clock
        self._open: OrderedDict[str, _Preview] = OrderedDict()
        self._closed: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        self.held_bytes = 0

    # -- reading ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._open)

    def is_open(self, draft_id: str) -> bool:
        return draft_id in self._open

    def of_member(self, user_id: int) -> list[str]:
        return [p.draft_id for p in self._open.values() if p.user_id == user_id]

    def closure(self, draft_id: str) -> PreviewClosed:
        """The refusal for a Confirm on a preview that is no longer open."""
        key, values = self._closed.get(draft_id, ("upload.expired", {}))
        return PreviewClosed(key, **values)

    # -- opening ------------------------------------------------------------------------------
    def _to_replace(self, user_id: int) -> list[_Preview]:
        """The member's oldest previews that must close for one more to open."""
        mine = [p for p in self._open.values() if p.user_id == user_id]
        excess = len(mine) - self.per_member + 1
        if excess <= 0:
            return []
        closable = [p for p in mine if p.draft_id not in self._in_flight]
        if len(closable) < excess:
            raise UserError("upload.preview.member_busy", count=self.per_member)
        return closable[:excess]

    def check_room(self, user_id: int, size: int) -> None:
        """Raise unless a preview of ``size`` bytes could open now. Called with declared
        sizes before the attachments are downloaded; :meth:`open` decides for good."""
        self._expire()
        freed = sum(p.size for p in self._to_replace(user_id))
        if self.held_bytes - freed + size > self.budget_bytes:
            log.info("upload preview refused: %d bytes held of %d", self.held_bytes, self.budget_bytes)
            raise UserError("upload.preview.budget_full")

    def open(
        self,
        draft_id: str,
        *,
        user_id: int,
        guild_id: int | None,
        key_owner: str,
        key_fingerprint: str,
        size: int,
    ) -> None:
        """Hold a new preview, closing the member's oldest beyond the limit; raises
        ``UserError`` when the byte budget cannot hold it (then nothing is closed)."""
        self.check_room(user_id, size)
        for old in self._to_replace(user_id):
            self._close(old, "replaced", limit=self.per_member)
        self._open[draft_id] = _Preview(
            draft_id, user_id, guild_id, key_owner, key_fingerprint, size, self._clock() + self.idle_lifetime
        )
        self.held_bytes += size

    def watch(self, draft_id: str, on_closed: OnClosed) -> bool:
        """Be told when the preview is closed from elsewhere; False if it already is."""
        preview = self._open.get(draft_id)
        if preview is None:
            return False
        preview.on_closed = on_closed
        return True

    def touch(self, draft_id: str) -> None:
        """The member used the preview: it lives on (its view's timeout restarts too)."""
        preview = self._open.get(draft_id)
        if preview is not None:
            preview.deadline = self._clock() + self.idle_lifetime

    def resize(self, draft_id: str, size: int) -> None:
        """The preview now holds ``size`` bytes (the source flag was set: a new file)."""
        preview = self._open.get(draft_id)
        if preview is not None:
            self.held_bytes += size - preview.size
            preview.size = size

    # -- closing ------------------------------------------------------------------------------
    def release(self, draft_id: str) -> None:
        """Closed by its own outcome, Cancel or timeout: the bytes are free, no callback."""
        preview = self._open.pop(draft_id, None)
        if preview is not None:
            self.held_bytes -= preview.size

    def close_guild(self, guild_id: int, reason: CloseReason, *, key_owner: str | None = None) -> int:
        """Close the server's previews (only those using its key with ``key_owner="guild"``);
        returns how many closed."""
        doomed = [
            p
            for p in self._open.values()
            if p.guild_id == guild_id
            and (key_owner is None or p.key_owner == key_owner)
            and p.draft_id not in self._in_flight
        ]
        for preview in doomed:
            self._close(preview, reason, fingerprint=preview.key_fingerprint)
        return len(doomed)

    def _expire(self) -> None:
        """A safety net: a preview whose view never started (its message could not be
        shown) or was lost would otherwise hold its bytes for ever."""
        now = self._clock()
        for preview in [p for p in self._open.values() if p.deadline <= now and p.draft_id not in self._in_flight]:
            self._close(preview, "expired")

    def _close(self, preview: _Preview, reason: CloseReason, **values: Any) -> None:
        self.release(preview.draft_id)
        key = CLOSE_MESSAGE_KEYS[reason]
        self._closed[preview.draft_id] = (key, values)
        while len(self._closed) > _REMEMBERED_CLOSURES:
            self._closed.popitem(last=False)
        if preview.on_closed is not None:
            try:
                preview.on_closed(key, values)
            except Exception:
                log.exception("upload preview close callback failed")
