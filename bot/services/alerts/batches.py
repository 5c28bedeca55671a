"""Planning deliveries into messages: pending rows grouped per channel, oldest first, into
batches that fit one Discord message (10 embeds, a character budget), each with the
deterministic nonce its claim and its send share."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.services.alerts.posting import PostedRelease

#: Discord: at most 10 embeds per message, 6,000 characters of embeds in all.
MAX_EMBEDS = 10
EMBED_BUDGET = 5_500


# -- planning ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PendingRow:
    id: int
    alert_id: int
    guild_id: int
    channel_id: int
    info_hash: str
    release: dict[str, Any]
    batch_nonce: str | None
    alert_name: str
    role_id: int | None
    locale: str
    log_channel_id: int | None
    #: The slot that claimed it (``None``: unclaimed, or claimed before claims had owners).
    claimed_by: int | None = None
    #: In an age-restricted category: posted only to an age-restricted channel.
    age_restricted: bool = False
    #: When the row was recorded (before any try to post it).
    created_at: datetime | None = None
    #: A DM to this member (their watches), not a post in ``channel_id``.
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    guild_id: int
    channel_id: int
    locale: str
    log_channel_id: int | None
    rows: tuple[PendingRow, ...]
    #: Set for a batch claimed before (a restart): re-sent exactly as it was.
    nonce: str | None
    #: A DM to this member, not a post in ``channel_id``.
    user_id: int | None = None

    @property
    def destination(self) -> tuple[int, int | None]:
        """Where the message goes: messages to one destination go out one after the other."""
        return (self.channel_id, self.user_id)

    def again(self, rows: tuple[PendingRow, ...] | None = None, nonce: str | None = None) -> PlannedBatch:
        """The same destination with other rows or another nonce."""
        return PlannedBatch(
            self.guild_id,
            self.channel_id,
            self.locale,
            self.log_channel_id,
            self.rows if rows is None else rows,
            nonce,
            self.user_id,
        )

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(r.id for r in self.rows)

    def releases(self) -> tuple[PostedRelease, ...]:
        by_hash: OrderedDict[str, list[PendingRow]] = OrderedDict()
        for row in self.rows:
            by_hash.setdefault(row.info_hash, []).append(row)
        return tuple(
            PostedRelease(
                h,
                rows[0].release,
                tuple(dict.fromkeys(r.alert_name for r in rows)),
                age_restricted=any(r.age_restricted for r in rows),
                role_ids=tuple(dict.fromkeys(r.role_id for r in rows if r.role_id)),
            )
            for h, rows in by_hash.items()
        )

    @property
    def claimed_before(self) -> bool:
        """Claimed by an earlier flush (its rows came from the database with their nonce):
        it may already be on Discord."""
        return any(r.batch_nonce is not None for r in self.rows)

    def recorded_since(self) -> datetime | None:
        """When its oldest row was recorded."""
        times = [r.created_at for r in self.rows if r.created_at is not None]
        return min(times) if times else None

    def role_ids(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(r.role_id for r in self.rows if r.role_id))


def batch_nonce(ids: Sequence[int]) -> str:
    """Deterministic, 21 characters (Discord allows 25): the same rows give the same
    nonce, different rows practically never do."""
    digest = hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()
    return "v" + digest[:20]


def card_weight(release: dict[str, Any], alert_names: Sequence[str]) -> int:
    """A generous estimate of a release card's characters (title, fields, footer)."""
    title = str(release.get("title") or "")
    category = str(release.get("category") or "")
    # Escaping can double a title's length; field names and values add about 250.
    return 2 * len(title) + len(category) + sum(len(n) + 2 for n in alert_names) + 300


def plan_batches(
    rows: Sequence[PendingRow], *, max_releases: int = MAX_EMBEDS, budget: int = EMBED_BUDGET
) -> list[PlannedBatch]:
    """Messages to post, oldest first per channel.

    Claimed rows keep their batch (same nonce, same rows). Unclaimed rows of one channel
    (or one member's DMs) are grouped by release (one embed names every alert of that
    channel it matched), then packed up to ``max_releases`` embeds and ``budget``
    characters per message.
    """
    out: list[PlannedBatch] = []
    claimed: OrderedDict[str, list[PendingRow]] = OrderedDict()
    fresh: OrderedDict[tuple[int, int, int | None], OrderedDict[str, list[PendingRow]]] = OrderedDict()
    for row in rows:
        if row.batch_nonce is not None:
            claimed.setdefault(row.batch_nonce, []).append(row)
        else:
            destination = (row.guild_id, row.channel_id, row.user_id)
            fresh.setdefault(destination, OrderedDict()).setdefault(row.info_hash, []).append(row)
    for nonce, group in claimed.items():
        first = group[0]
        out.append(
            PlannedBatch(
                first.guild_id, first.channel_id, first.locale, first.log_channel_id, tuple(group), nonce, first.user_id
            )
        )
    for (guild_id, channel_id, user_id), releases in fresh.items():
        current: list[PendingRow] = []
        count = weight = 0
        for group in releases.values():
            w = card_weight(group[0].release, [r.alert_name for r in group])
            if current and (count >= max_releases or weight + w > budget):
                first = current[0]
                out.append(
                    PlannedBatch(
                        guild_id, channel_id, first.locale, first.log_channel_id, tuple(current), None, user_id
                    )
                )
                current, count, weight = [], 0, 0
            current.extend(group)
            count += 1
            weight += w
        if current:
            first = current[0]
            out.append(
                PlannedBatch(guild_id, channel_id, first.locale, first.log_channel_id, tuple(current), None, user_id)
            )
    return out
