"""What the alert sender hands to Discord (releases, gap and admin notices, each with its
nonce), the errors a poster may raise, and the :class:`AlertPoster` protocol that
``bot/ui/alert_posts.py`` implements with discord.py."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.states import NoticeKind


# -- what the sender hands to Discord --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PostedRelease:
    """One embed: the release as stored, and every alert of this channel it matched."""

    info_hash: str
    release: dict[str, Any]
    alert_names: tuple[str, ...]
    #: In an age-restricted category (see :mod:`~bot.services.alerts.destinations`): posted
    #: only to an age-restricted channel.
    age_restricted: bool = False
    #: The roles of the alerts it matched (a forum post pings only those).
    role_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ReleasePost:
    """One message: up to ten releases, the roles of their alerts (the only pings
    allowed), and the nonce that makes a re-send a no-op. ``user_id`` set: a direct
    message to that member (their watches of server ``guild_id``), not a channel post."""

    guild_id: int
    channel_id: int
    locale: str
    nonce: str
    releases: tuple[PostedRelease, ...]
    role_ids: tuple[int, ...]
    #: These releases may already be on Discord: an earlier try of them ended without a
    #: definite answer (a timeout, a crash, a split after a refusal). Discord's nonce
    #: covers a message; a forum post (a new thread) has none, so the poster looks for the
    #: posts of that earlier try before creating any (see ``bot/ui/alert_posts.py``).
    resend: bool = False
    #: When the oldest of these releases was recorded: nothing posted before it is theirs.
    not_before: datetime | None = None
    user_id: int | None = None


def notice_nonce(*parts: object) -> str:
    """A notice's Discord nonce: the same notice (same kind, server, channel, alerts and
    time window) gets the same nonce, so a re-send after a crash, or by a second process,
    is answered by Discord with the message already posted. 21 characters."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()
    return "n" + digest[:20]


@dataclass(frozen=True, slots=True)
class GapNotice:
    """Releases published between ``since`` and ``until`` may have been missed."""

    guild_id: int
    channel_id: int
    locale: str
    alert_names: tuple[str, ...]
    since: datetime
    until: datetime

    @property
    def nonce(self) -> str:
        """``since`` and ``until`` come from the database and La Cale's answer: a poll
        finding the same gap again computes the same window."""
        return notice_nonce(
            "gap",
            self.guild_id,
            self.channel_id,
            *sorted(self.alert_names),
            self.since.isoformat(),
            self.until.isoformat(),
        )


@dataclass(frozen=True, slots=True)
class AdminNotice:
    """Something the server's admins must act on, posted in the log channel set with
    ``/setup log-channel`` or else the server's system channel."""

    guild_id: int
    log_channel_id: int | None
    locale: str
    kind: NoticeKind
    alert_names: tuple[str, ...] = ()
    channel_id: int | None = None
    #: When the event happened; its UTC hour is the nonce's time window.
    at: datetime | None = None

    @property
    def nonce(self) -> str:
        """The hour keeps the same event, told twice, one message; the same event again
        hours later (the admins fixed it, it broke again) is a new message."""
        window = self.at.strftime("%Y-%m-%dT%H") if self.at is not None else ""
        return notice_nonce("admin", self.kind, self.guild_id, self.channel_id or 0, *sorted(self.alert_names), window)


class PostError(Exception):
    """Base of what an :class:`AlertPoster` raises.

    ``posted``: releases of the post that are on Discord all the same, as (info hash,
    message id). A forum post is one thread per release: when the third fails, the first
    two exist, and are marked delivered rather than sent again."""

    posted: tuple[tuple[str, int], ...] = ()


class ChannelUnavailable(PostError):
    """403 or 404 on the channel: posting again will not help until someone acts."""

    def __init__(self, *, missing: bool, detail: str = "") -> None:
        super().__init__(detail or ("unknown channel" if missing else "missing access"))
        self.missing = missing


class RecipientUnavailable(PostError):
    """A direct message cannot reach the member: their DMs are closed (Discord's 50007) or
    they are not in the server any more (``left``). Their watches pause until they act."""

    def __init__(self, *, left: bool, detail: str = "") -> None:
        super().__init__(detail or ("member left the server" if left else "cannot send messages to this user"))
        self.left = left


class RetryLater(PostError):
    """429 after discord.py's own retries, a 408 or 5xx (a proxy may answer them after
    Discord posted), a timeout, a network error: the message may or may not exist; it is
    re-sent later with the same nonce, never under a new one."""

    def __init__(self, detail: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PostRejected(PostError):
    """A definite refusal (400, 413...): the message was not posted, and the same message
    would be refused again; only then is its nonce released."""


class AgeRestricted(PostError):
    """Nothing was posted: these releases are in an age-restricted category and the channel
    is not age-restricted. They are never posted there; the others are sent again alone."""

    def __init__(self, info_hashes: tuple[str, ...], detail: str = "") -> None:
        super().__init__(detail or "age-restricted releases for a channel that is not")
        self.info_hashes = info_hashes


class AlertPoster(Protocol):
    """Discord, as the alert pipeline sees it."""

    async def send_releases(self, post: ReleasePost) -> int:
        """Post one message; return its id. Raises :class:`PostError` subclasses."""
        ...

    async def send_gap_notice(self, notice: GapNotice) -> None: ...

    async def notify_admins(self, notice: AdminNotice) -> None: ...
