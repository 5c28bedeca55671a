"""The watches' side of the alert pipeline (members' own alerts, sent by DM): their
criteria as a filter the poller matches, and pausing a member's watches (the sender on a
closed DM or a member gone, the poller on a refused personal key, ``/key remove``).

Kept apart from :mod:`bot.services.watches` (the ``/watch`` commands) so that the poller
and the sender need nothing of the commands' service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Delivery, DeliveryStatus, Watch
from bot.db.rows import rows_changed
from bot.lacale.models import Meta
from bot.services.alerts.matching import AlertFilter
from bot.states import WatchPause


async def pause_member_watches(
    session: AsyncSession,
    user_id: int,
    reason: WatchPause,
    *,
    guild_id: int | None = None,
    personal_only: bool = False,
) -> int:
    """Pause a member's running watches (in one server, or everywhere), to be told at their
    next command; their recorded DMs wait, unclaimed (nothing of them reached Discord), for
    the watch's resume. Returns how many were paused."""
    conditions = [Watch.user_id == user_id, Watch.paused.is_(False)]
    if guild_id is not None:
        conditions.append(Watch.guild_id == guild_id)
    if personal_only:
        conditions.append(Watch.personal.is_(True))
    done = await session.execute(
        update(Watch)
        .where(*conditions)
        .values(paused=True, pause_reason=reason, notice_pending=reason != WatchPause.USER)
        .execution_options(synchronize_session=False)
    )
    pending = [Delivery.user_id == user_id, Delivery.status == DeliveryStatus.PENDING]
    if guild_id is not None:
        pending.append(Delivery.guild_id == guild_id)
    await session.execute(
        update(Delivery)
        .where(*pending)
        .values(batch_nonce=None, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return rows_changed(done)


@dataclass(frozen=True, slots=True)
class _CriteriaRow:
    id: int
    name: str
    query: str | None
    categories: tuple[str, ...]
    tmdb_id: str | None
    min_size: int | None
    max_size: int | None
    min_seeders: int | None
    exclude: tuple[str, ...]


def criteria_filter(watch_id: int, name: str, criteria: dict[str, Any], meta: Meta | None) -> AlertFilter:
    """The watch's criteria, ready to match (the matching is the alerts')."""
    return AlertFilter.from_alert(
        _CriteriaRow(
            watch_id,
            name,
            criteria.get("query"),
            tuple(criteria.get("categories") or ()),
            None,
            criteria.get("min_size"),
            criteria.get("max_size"),
            criteria.get("min_seeders"),
            tuple(criteria.get("exclude") or ()),
        ),
        meta,
    )
