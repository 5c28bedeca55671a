"""The delivery rows in SQL: which are pending for the servers a slot owns, claiming them
(all of a batch or none), taking over another slot's claims, marking them delivered,
noting failures, pausing a channel's alerts. The crash-safety steps are described in
:mod:`bot.services.alerts.deliver`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cluster.ownership import Ownership
from bot.db.models import Alert, Delivery, DeliveryStatus, GuildSettings, Watch
from bot.db.types import utcnow
from bot.services.alerts.batches import PendingRow
from bot.states import PauseReason

#: How many rows one flush plans at most (the rest waits for the next flush).
FLUSH_LIMIT = 5_000


# -- database steps -------------------------------------------------------------------------------
async def pending_rows(
    session: AsyncSession, *, ownership: Ownership = Ownership(), limit: int = FLUSH_LIMIT
) -> tuple[list[PendingRow], bool]:
    """Pending rows of the servers ``ownership`` owns, oldest first: every claimed one
    (it may be on Discord already, and is only ever re-sent whole, with all its
    companions), and unclaimed ones of running alerts up to ``limit`` (a paused alert's
    matches wait for resume). The ownership test is in the SQL, before the ``LIMIT``.
    The flag tells that ``limit`` was reached (more rows wait)."""
    # Labelled: read by name below, so a column added here cannot shift the others.
    columns = (
        Delivery.id.label("id"),
        Delivery.alert_id.label("alert_id"),
        Delivery.guild_id.label("guild_id"),
        Delivery.channel_id.label("channel_id"),
        Delivery.info_hash.label("info_hash"),
        Delivery.release.label("release"),
        Delivery.batch_nonce.label("batch_nonce"),
        Delivery.claimed_by.label("claimed_by"),
        Delivery.age_restricted.label("age_restricted"),
        Delivery.created_at.label("created_at"),
        Delivery.user_id.label("user_id"),
        Alert.name.label("alert_name"),
        Alert.mention_role_id.label("role_id"),
        GuildSettings.locale.label("guild_locale"),
        GuildSettings.log_channel_id.label("log_channel_id"),
        Watch.name.label("watch_name"),
        Watch.locale.label("member_locale"),
    )
    # An alert's post (``alert_id``) or a member's DM (``watch_id``): one of the two joins finds a row.
    base = (
        select(*columns)
        .outerjoin(Alert, Alert.id == Delivery.alert_id)
        .outerjoin(Watch, Watch.id == Delivery.watch_id)
        .join(GuildSettings, GuildSettings.guild_id == Delivery.guild_id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            or_(Alert.id.is_not(None), Watch.id.is_not(None)),
            ownership.owns_sql(Delivery.guild_id),
        )
    )
    running = or_(
        and_(Delivery.alert_id.is_not(None), Alert.paused.is_(False)),
        and_(Delivery.watch_id.is_not(None), Watch.paused.is_(False)),
    )
    claimed = (await session.execute(base.where(Delivery.batch_nonce.is_not(None)).order_by(Delivery.id))).all()
    fresh = (
        await session.execute(
            base.where(Delivery.batch_nonce.is_(None), running, GuildSettings.active.is_(True))
            .order_by(Delivery.id)
            .limit(limit)
        )
    ).all()
    truncated = len(fresh) >= limit
    if truncated:
        # The last release may have more rows past the limit: keep them together.
        last = fresh[-1]
        fresh = [
            r
            for r in fresh
            if (r.channel_id, r.user_id, r.info_hash) != (last.channel_id, last.user_id, last.info_hash)
        ]
    rows = [
        PendingRow(
            id=r.id,
            alert_id=r.alert_id,
            guild_id=r.guild_id,
            channel_id=r.channel_id,
            info_hash=r.info_hash,
            release=r.release,
            batch_nonce=r.batch_nonce,
            alert_name=r.alert_name if r.user_id is None else (r.watch_name or ""),
            role_id=r.role_id if r.user_id is None else None,
            # A DM is written in the member's language, a post in the server's.
            locale=(r.guild_locale if r.user_id is None else r.member_locale) or "fr",
            log_channel_id=r.log_channel_id,
            claimed_by=r.claimed_by,
            age_restricted=bool(r.age_restricted),
            created_at=r.created_at,
            user_id=r.user_id,
        )
        for r in sorted([*claimed, *fresh], key=lambda r: r.id)
    ]
    return rows, truncated


async def claim(
    session: AsyncSession, ids: Sequence[int], nonce: str, *, slot: int = 0, now: datetime | None = None
) -> bool:
    """Claim every row of one message for ``slot``, or none: in a savepoint, rolled back
    when any row is no longer pending and unclaimed (another claimer, an alert removed).
    On PostgreSQL a concurrent claimer of a row waits for this transaction, then finds
    the row claimed: its own savepoint rolls back."""
    return await _stamp(session, ids, Delivery.batch_nonce.is_(None), nonce=nonce, slot=slot, now=now)


async def take_over(
    session: AsyncSession, ids: Sequence[int], nonce: str, *, slot: int, now: datetime | None = None
) -> bool:
    """Make this slot the owner of a batch claimed by another slot (or before claims had
    owners), keeping its nonce; all rows or none, like :func:`claim`."""
    return await _stamp(session, ids, Delivery.batch_nonce == nonce, nonce=nonce, slot=slot, now=now)


async def _stamp(
    session: AsyncSession, ids: Sequence[int], condition: Any, *, nonce: str, slot: int, now: datetime | None
) -> bool:
    savepoint = await session.begin_nested()
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.PENDING, condition)
        .values(batch_nonce=nonce, claimed_by=slot, claimed_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount == len(set(ids)):
        await savepoint.commit()
        return True
    await savepoint.rollback()
    return False


async def mark_delivered_many(session: AsyncSession, sent: Sequence[tuple[Sequence[int], int]], now: datetime) -> None:
    """Several messages' rows at once (one executemany)."""
    table = Delivery.__table__
    params = [{"row_id": row_id, "message_id": message_id} for ids, message_id in sent for row_id in ids]
    await session.execute(
        update(table)  # type: ignore[arg-type]
        .where(table.c.id == bindparam("row_id"), table.c.status == DeliveryStatus.PENDING)
        .values(
            status=DeliveryStatus.DELIVERED,
            delivered_at=now,
            message_id=bindparam("message_id"),
            attempts=table.c.attempts + 1,
        ),
        params,
    )


async def note_failure(session: AsyncSession, ids: Sequence[int], error: str, *, release_claim: bool) -> None:
    values: dict[str, Any] = {"attempts": Delivery.attempts + 1, "last_error": error[:500]}
    if release_claim:
        values.update(batch_nonce=None, claimed_by=None, claimed_at=None)
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.PENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def pause_channel_alerts(
    session: AsyncSession, guild_id: int, channel_id: int, alert_ids: Sequence[int], reason: PauseReason
) -> list[str]:
    """Pause the running alerts that post to the channel; returns their names."""
    result = await session.execute(
        select(Alert.id, Alert.name).where(
            Alert.guild_id == guild_id,
            Alert.paused.is_(False),
            or_(Alert.channel_id == channel_id, Alert.id.in_(list(alert_ids))),
        )
    )
    found = result.all()
    if found:
        await session.execute(
            update(Alert)
            .where(Alert.id.in_([a for a, _ in found]))
            .values(paused=True, pause_reason=reason)
            .execution_options(synchronize_session=False)
        )
    # Unclaimed: sent to the channel once it works again (``/alert resume``) or to a new
    # channel (``/alert edit``); nothing reached Discord, so the claim is simply released.
    await session.execute(
        update(Delivery)
        .where(
            Delivery.guild_id == guild_id, Delivery.channel_id == channel_id, Delivery.status == DeliveryStatus.PENDING
        )
        .values(batch_nonce=None, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return [name for _, name in found]
