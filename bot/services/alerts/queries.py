"""What the alert pipeline reads from the database (small, indexed queries)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cluster.ownership import Ownership
from bot.criteria import Criteria
from bot.db.models import Alert, Delivery, GuildSettings, KeyStatus, MemberKey, SeenRelease, Watch


class AlertRow(NamedTuple):
    """The columns of an alert the pipeline needs, its criteria as one value.

    A tuple (the poller keeps every running alert of its servers in memory)."""

    id: int
    guild_id: int
    name: str
    channel_id: int
    mention_role_id: int | None
    created_at: datetime
    criteria: Criteria


_ALERT_COLUMNS = (
    Alert.id,
    Alert.guild_id,
    Alert.name,
    Alert.channel_id,
    Alert.mention_role_id,
    Alert.created_at,
    Alert.criteria,
)


def _alert_row(row: Sequence[Any]) -> AlertRow:
    alert_id, guild_id, name, channel_id, mention_role_id, created_at, criteria = row
    return AlertRow(alert_id, guild_id, name, channel_id, mention_role_id, created_at, Criteria.from_json(criteria))


class WatchRow(NamedTuple):
    """The columns of a member's watch the pipeline needs (see :class:`AlertRow`)."""

    id: int
    guild_id: int
    user_id: int
    name: str
    criteria: Criteria
    created_at: datetime


_WATCH_COLUMNS = (Watch.id, Watch.guild_id, Watch.user_id, Watch.name, Watch.criteria, Watch.created_at)


def _watch_row(row: Sequence[Any]) -> WatchRow:
    return WatchRow(row[0], row[1], row[2], row[3], Criteria.from_json(row[4]), row[5])


@dataclass(frozen=True, slots=True)
class DueGuild:
    """A server to poll: its key is still encrypted (decrypted only when polled).
    ``alerts_version`` changes whenever one of its running alerts is created, changed,
    paused, resumed or removed (the poller's cue to reload them)."""

    guild_id: int
    api_key_encrypted: str
    locale: str
    log_channel_id: int | None
    alerts_version: tuple[object, ...] = ()
    #: A member's personal poll (their personal watches, on their key): the member.
    personal_user: int | None = None


def _usable_guild_key() -> tuple[Any, ...]:
    return (
        GuildSettings.active.is_(True),
        GuildSettings.api_key_encrypted.is_not(None),
        GuildSettings.key_status.not_in((KeyStatus.REFUSED, KeyStatus.UNREADABLE)),
    )


async def due_guilds(session: AsyncSession, *, ownership: Ownership = Ownership()) -> list[DueGuild]:
    """Active servers of ``ownership``'s shards with a usable key and at least one
    running alert, or running watches when the server turned watches on (two queries;
    the ownership test is part of their ``WHERE``). The version covers both."""
    alert_guilds = await _due_alert_guilds(session, ownership)
    watch_result = await session.execute(
        select(
            GuildSettings.guild_id,
            GuildSettings.api_key_encrypted,
            GuildSettings.locale,
            GuildSettings.log_channel_id,
            func.count(Watch.id),
            func.max(Watch.id),
            func.max(Watch.updated_at),
        )
        .join(
            Watch,
            (Watch.guild_id == GuildSettings.guild_id) & Watch.paused.is_(False) & Watch.personal.is_(False),
        )
        .where(
            GuildSettings.watches_enabled.is_(True), *_usable_guild_key(), ownership.owns_sql(GuildSettings.guild_id)
        )
        .group_by(
            GuildSettings.guild_id, GuildSettings.api_key_encrypted, GuildSettings.locale, GuildSettings.log_channel_id
        )
    )
    no_watches: tuple[object, ...] = (0, None, "None")
    merged = {g.guild_id: replace(g, alerts_version=g.alerts_version + no_watches) for g in alert_guilds}
    for gid, enc, locale, log, count, top, changed in watch_result.all():
        found = merged.get(gid)
        alerts_part = found.alerts_version[:3] if found is not None else (0, None, "None")
        merged[gid] = DueGuild(gid, enc or "", locale or "fr", log, (*alerts_part, count, top, str(changed)))
    return [merged[g] for g in sorted(merged)]


async def due_members(session: AsyncSession, *, ownership: Ownership = Ownership()) -> list[DueGuild]:
    """Members with running personal watches in servers Vigie is in, each a poll of their
    own key: owned by the process whose shards the member's id falls on (an id is an id,
    guild's or member's: the same test spreads members over processes)."""
    result = await session.execute(
        select(
            MemberKey.user_id,
            MemberKey.api_key_encrypted,
            func.count(Watch.id),
            func.max(Watch.id),
            func.max(Watch.updated_at),
        )
        .join(Watch, (Watch.user_id == MemberKey.user_id) & Watch.paused.is_(False) & Watch.personal.is_(True))
        .join(GuildSettings, (GuildSettings.guild_id == Watch.guild_id) & GuildSettings.active.is_(True))
        .where(ownership.owns_sql(MemberKey.user_id))
        .group_by(MemberKey.user_id, MemberKey.api_key_encrypted)
        .order_by(MemberKey.user_id)
    )
    return [
        DueGuild(personal_scope(uid), enc or "", "fr", None, ("personal", count, top, str(changed)), personal_user=uid)
        for uid, enc, count, top, changed in result.all()
    ]


def personal_scope(user_id: int) -> int:
    """The id a member's personal poll keeps its seen releases under: the negative of their
    id, which no server has (Discord ids are positive)."""
    return -user_id


async def _due_alert_guilds(session: AsyncSession, ownership: Ownership) -> list[DueGuild]:
    result = await session.execute(
        select(
            GuildSettings.guild_id,
            GuildSettings.api_key_encrypted,
            GuildSettings.locale,
            GuildSettings.log_channel_id,
            func.count(Alert.id),
            func.max(Alert.id),
            func.max(Alert.updated_at),
        )
        .join(Alert, (Alert.guild_id == GuildSettings.guild_id) & Alert.paused.is_(False))
        .where(*_usable_guild_key(), ownership.owns_sql(GuildSettings.guild_id))
        .group_by(
            GuildSettings.guild_id, GuildSettings.api_key_encrypted, GuildSettings.locale, GuildSettings.log_channel_id
        )
        .order_by(GuildSettings.guild_id)
    )
    return [
        DueGuild(gid, enc or "", locale or "fr", log, (count, top, str(changed)))
        for gid, enc, locale, log, count, top, changed in result.all()
    ]


async def running_alerts(session: AsyncSession, guild_id: int) -> list[AlertRow]:
    result = await session.execute(
        select(*_ALERT_COLUMNS).where(Alert.guild_id == guild_id, Alert.paused.is_(False)).order_by(Alert.id)
    )
    return [_alert_row(r) for r in result.all()]


async def running_watches(session: AsyncSession, guild_id: int) -> list[WatchRow]:
    """A server's running watches on its own poll (none when it turned watches off)."""
    return (await running_watches_of(session, [guild_id]))[guild_id]


async def running_watches_of(session: AsyncSession, guild_ids: Sequence[int]) -> dict[int, list[WatchRow]]:
    out: dict[int, list[WatchRow]] = {g: [] for g in guild_ids}
    ids = [g for g in guild_ids if g > 0]
    for start in range(0, len(ids), 500):
        result = await session.execute(
            select(*_WATCH_COLUMNS)
            .join(GuildSettings, GuildSettings.guild_id == Watch.guild_id)
            .where(
                Watch.guild_id.in_(ids[start : start + 500]),
                Watch.paused.is_(False),
                Watch.personal.is_(False),
                GuildSettings.watches_enabled.is_(True),
            )
            .order_by(Watch.guild_id, Watch.id)
        )
        for row in result.all():
            watch = _watch_row(row)
            out[watch.guild_id].append(watch)
    return out


async def personal_watches(session: AsyncSession, user_id: int) -> list[WatchRow]:
    """A member's running personal watches, in the servers Vigie is in."""
    result = await session.execute(
        select(*_WATCH_COLUMNS)
        .join(GuildSettings, GuildSettings.guild_id == Watch.guild_id)
        .where(
            Watch.user_id == user_id,
            Watch.paused.is_(False),
            Watch.personal.is_(True),
            GuildSettings.active.is_(True),
        )
        .order_by(Watch.id)
    )
    return [_watch_row(r) for r in result.all()]


async def running_alerts_of(session: AsyncSession, guild_ids: Sequence[int]) -> dict[int, list[AlertRow]]:
    """Running alerts of many servers in few queries (a cold start of the poller)."""
    out: dict[int, list[AlertRow]] = {g: [] for g in guild_ids}
    ids = list(guild_ids)
    for start in range(0, len(ids), 500):
        result = await session.execute(
            select(*_ALERT_COLUMNS)
            .where(Alert.guild_id.in_(ids[start : start + 500]), Alert.paused.is_(False))
            .order_by(Alert.guild_id, Alert.id)
        )
        for row in result.all():
            alert = _alert_row(row)
            out[alert.guild_id].append(alert)
    return out


async def recent_seen_of(
    session: AsyncSession, guild_ids: Sequence[int], *, per_guild: int = 100
) -> dict[int, set[str]]:
    """The ``per_guild`` most recently published releases each server has seen, in one
    query per 500 servers (a window function: SQLite 3.25+ and PostgreSQL)."""
    out: dict[int, set[str]] = {g: set() for g in guild_ids}
    ids = list(guild_ids)
    for start in range(0, len(ids), 500):
        ranked = (
            select(
                SeenRelease.guild_id,
                SeenRelease.info_hash,
                func.row_number()
                .over(partition_by=SeenRelease.guild_id, order_by=SeenRelease.pub_date.desc())
                .label("rank"),
            )
            .where(SeenRelease.guild_id.in_(ids[start : start + 500]))
            .subquery()
        )
        result = await session.execute(select(ranked.c.guild_id, ranked.c.info_hash).where(ranked.c.rank <= per_guild))
        for guild_id, info_hash in result.all():
            out[guild_id].add(info_hash)
    return out


async def seen_among(session: AsyncSession, guild_id: int, info_hashes: Iterable[str]) -> set[str]:
    hashes = list(dict.fromkeys(info_hashes))
    if not hashes:
        return set()
    result = await session.execute(
        select(SeenRelease.info_hash).where(SeenRelease.guild_id == guild_id, SeenRelease.info_hash.in_(hashes))
    )
    return set(result.scalars().all())


async def has_history(session: AsyncSession, guild_id: int) -> bool:
    """Whether this server ever recorded a release (a gap needs a "before")."""
    return bool(await session.scalar(select(exists().where(SeenRelease.guild_id == guild_id))))


async def watermark(session: AsyncSession, guild_id: int) -> datetime | None:
    """The newest publication date this server has seen: the start of a possible gap."""
    return await session.scalar(select(func.max(SeenRelease.pub_date)).where(SeenRelease.guild_id == guild_id))


async def delivered_among(
    session: AsyncSession, alert_ids: Iterable[int], info_hashes: Iterable[str]
) -> set[tuple[int, str]]:
    """(alert, info hash) pairs already recorded, whatever their status."""
    ids, hashes = list(set(alert_ids)), list(set(info_hashes))
    if not ids or not hashes:
        return set()
    result = await session.execute(
        select(Delivery.alert_id, Delivery.info_hash).where(Delivery.alert_id.in_(ids), Delivery.info_hash.in_(hashes))
    )
    return {(a, h) for a, h in result.all() if a is not None}
