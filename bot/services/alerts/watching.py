"""The watches' side of the alert pipeline (members' own alerts, sent by DM): pausing a
member's watches (the sender on a closed DM or a member gone, the poller on a refused
personal key).

Kept apart from :mod:`bot.services.watches` (the ``/watch`` commands) so that the poller
and the sender need nothing of the commands' service.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Delivery, DeliveryStatus, Watch
from bot.db.rows import rows_changed
from bot.states import WatchPause


async def pause_member_watches(
    session: AsyncSession,
    user_id: int,
    reason: WatchPause,
    *,
    guild_id: int | None = None,
    personal_only: bool = False,
    unclaim_in: int | None = None,
) -> int:
    """Pause a member's running watches (in server ``guild_id``, or everywhere), to be told
    at their next command; their recorded DMs wait for the watches' resume. Returns how many
    were paused.

    ``unclaim_in``: the server whose DMs to the member a refusal just proved unsent (the
    sender's, the server this process owns): their claims are released. Claims in other
    servers are left to the processes owning them (one may be sending right now); each
    finds the member unreachable in turn and releases its own."""
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
    if unclaim_in is not None:
        await session.execute(
            update(Delivery)
            .where(
                Delivery.user_id == user_id,
                Delivery.guild_id == unclaim_in,
                Delivery.status == DeliveryStatus.PENDING,
            )
            .values(batch_nonce=None, claimed_by=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
    return rows_changed(done)
