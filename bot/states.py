"""Every state word Vigie writes down or reports, in one place.

They are ``StrEnum``s: a member *is* its string (``PauseReason.KEY_REFUSED == "key_refused"``),
so the values stored in the database are the ones written before these enums existed (no
migration), rows read back as plain strings compare equal to the members, and translation
keys built from them (``f"alert.pause_reason.{reason}"``) are unchanged.

The layers below the UI import this module (it imports nothing): the database models,
the services that write the states, and the UI that shows them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class _PauseWords(StrEnum):
    """What alert and watch pause reasons share: each has a ``user`` member (a pause by a
    member), which is also how a paused row without a reason, or with an unknown word, reads."""

    @classmethod
    def of(cls, stored: str | None) -> Self:
        """A stored value as a member; ``None`` or an unknown word reads as a member's pause."""
        try:
            return cls(stored if stored is not None else "user")
        except ValueError:
            return cls("user")


class PauseReason(_PauseWords):
    """Why an alert is paused (``Alert.pause_reason``); each has a label
    ``alert.pause_reason.<value>``."""

    #: A member paused it (``/alert pause``); also what a paused row without reason means.
    USER = "user"
    #: The sender may not post in the alert's channel any more (403).
    CHANNEL_FORBIDDEN = "channel_forbidden"
    #: The alert's channel was deleted (404).
    CHANNEL_MISSING = "channel_missing"
    #: La Cale refused the server's key.
    KEY_REFUSED = "key_refused"
    #: The server's key was removed.
    NO_KEY = "no_key"
    #: The stored key cannot be decrypted (SECRET_KEY changed without SECRET_KEY_OLD).
    KEY_UNREADABLE = "key_unreadable"

    @property
    def about_key(self) -> bool:
        """Lifted by a new valid key (``/setup key``)."""
        return self in KEY_PAUSE_REASONS

    @property
    def about_channel(self) -> bool:
        """Lifted by moving the alert to another channel (``/alert edit channel:``)."""
        return self in CHANNEL_PAUSE_REASONS


#: Pauses caused by the server's key.
KEY_PAUSE_REASONS = (PauseReason.NO_KEY, PauseReason.KEY_REFUSED, PauseReason.KEY_UNREADABLE)
#: Pauses caused by the alert's channel.
CHANNEL_PAUSE_REASONS = (PauseReason.CHANNEL_FORBIDDEN, PauseReason.CHANNEL_MISSING)


class WatchPause(_PauseWords):
    """Why a member's watch is paused (``Watch.pause_reason``); each has a label
    ``watch.pause_reason.<value>``."""

    #: The member paused it (``/watch pause``); also what a paused row without reason means.
    USER = "user"
    #: Discord refused a DM to the member (error 50007: DMs closed, or the bot blocked).
    DMS_CLOSED = "dms_closed"
    #: The member left the server (or was removed from it).
    MEMBER_LEFT = "member_left"
    #: It ran on the member's personal key, which they removed (``/key remove``).
    NO_PERSONAL_KEY = "no_personal_key"
    #: La Cale refused the member's personal key.
    PERSONAL_KEY_REFUSED = "personal_key_refused"


class PollOutcome(StrEnum):
    """How a server's poll ended: written to ``GuildSettings.last_poll_outcome`` (shown by
    ``/setup status`` as ``alert.poll_outcome.<value>``) and counted in each cycle's report."""

    OK = "ok"
    #: More new releases than a page: caught up with targeted queries.
    GAP = "gap"
    #: ...and some could not be: a gap notice was posted.
    GAP_UNFILLED = "gap_unfilled"
    UNAVAILABLE = "unavailable"
    RATE_LIMITED = "rate_limited"
    KEY_REFUSED = "key_refused"
    ERROR = "error"
    #: Abandoned by the scheduler after waiting too long for La Cale (nothing recorded).
    TIMEOUT = "timeout"
    #: The server is not on this process's shards (another process polls it): not polled,
    #: nothing written. Reported only.
    NOT_OWNED = "not_owned"
    #: Its previous poll was still running when the next one was due: not started,
    #: nothing written. Reported only.
    STILL_POLLING = "still_polling"

    @property
    def stored(self) -> bool:
        """Written to ``last_poll_outcome`` (so ``/setup status`` has a label for it)."""
        return self not in (PollOutcome.NOT_OWNED, PollOutcome.STILL_POLLING)


class NoticeKind(StrEnum):
    """What an admin notice (``AdminNotice.kind``) is about; part of its nonce, and of its
    text key ``alert.admin.<value>``."""

    CHANNEL_FORBIDDEN = PauseReason.CHANNEL_FORBIDDEN.value
    CHANNEL_MISSING = PauseReason.CHANNEL_MISSING.value
    KEY_REFUSED = PauseReason.KEY_REFUSED.value


class KeyStatus(StrEnum):
    """Values of ``GuildSettings.key_status`` (labels ``status.key.<value>``)."""

    UNCHECKED = "unchecked"
    VALID = "valid"
    REFUSED = "refused"
    #: The stored key cannot be decrypted (SECRET_KEY changed without SECRET_KEY_OLD).
    UNREADABLE = "unreadable"


class DeliveryStatus(StrEnum):
    """Values of ``Delivery.status``."""

    PENDING = "pending"
    DELIVERED = "delivered"
    #: Existed when the alert was created: recorded so it is never posted.
    BASELINE = "baseline"
    #: Could not be posted and will not be (the alert was removed or its channel is gone).
    DROPPED = "dropped"
