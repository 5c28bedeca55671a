"""Managing a server's alerts for ``/alert``: create (with its baseline), list, edit,
remove, pause, resume, and the dry run of ``/alert test``.

Creating an alert records what already matches it as BASELINE deliveries, so the first
poll after it posts nothing old; ``backfill`` (at most 10) posts the newest of them.
Editing the criteria records a new baseline the same way.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.locks import lock_guild
from bot.db.models import Alert, Delivery, DeliveryStatus, GuildSettings, KeyStatus
from bot.db.types import utcnow
from bot.errors import UserError
from bot.formatting import parse_size
from bot.lacale.errors import BadRequest
from bot.lacale.models import Meta, Torrent
from bot.limits import ALERT_NAME_MAX, ALERTS_PER_GUILD_MAX, BACKFILL_MAX, EXCLUDE_WORDS_MAX
from bot.services.alerts import queries
from bot.services.alerts.fetch import SiteMeta, TargetedQuery
from bot.services.alerts.matching import (
    AlertFilter,
    Decision,
    ReleaseView,
    dedupe,
    match,
    newest_first,
    normalize_words,
)
from bot.services.alerts.record import NewDelivery, insert_deliveries, insert_seen
from bot.services.guilds import GuildService
from bot.services.lacale_access import LaCaleAccess
from bot.services.search import build_query
from bot.states import PauseReason

log = logging.getLogger("vigie.alerts")

#: A member waits for ``/alert add``: a long 429 is reported rather than waited out.
INTERACTIVE_RETRY_AFTER = 5.0


def parse_size_option(text: str | None, field_name: str) -> int | None:
    """``"700 MB"``, ``"4.5 GiB"``, ``"1,5 Go"`` → bytes; empty → ``None``."""
    if text is None or not text.strip():
        return None
    value = parse_size(text)
    if value is None:
        raise UserError("alert.error.bad_size", field=field_name, value=text.strip()[:40])
    return value


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """What a member asks for (validated by :meth:`AlertService.create`)."""

    name: str
    channel_id: int
    query: str | None = None
    categories: tuple[str, ...] = ()
    tmdb_id: str | None = None
    mention_role_id: int | None = None
    min_size: int | None = None
    max_size: int | None = None
    min_seeders: int | None = None
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertInfo:
    id: int
    name: str
    query: str | None
    categories: tuple[str, ...]
    tmdb_id: str | None
    channel_id: int
    mention_role_id: int | None
    min_size: int | None
    max_size: int | None
    min_seeders: int | None
    exclude: tuple[str, ...]
    paused: bool
    pause_reason: str | None
    created_at: datetime
    last_match_at: datetime | None
    delivered: int = 0
    pending: int = 0

    @classmethod
    def of(cls, alert: Alert, *, delivered: int = 0, pending: int = 0) -> AlertInfo:
        return cls(
            alert.id,
            alert.name,
            alert.query,
            tuple(alert.categories or ()),
            alert.tmdb_id,
            alert.channel_id,
            alert.mention_role_id,
            alert.min_size,
            alert.max_size,
            alert.min_seeders,
            tuple(alert.exclude or ()),
            alert.paused,
            alert.pause_reason,
            alert.created_at,
            alert.last_match_at,
            delivered,
            pending,
        )


@dataclass(frozen=True, slots=True)
class CreateResult:
    alert: AlertInfo
    #: Releases that already matched and will not be posted.
    existing: int
    #: Of those, how many are posted anyway (``backfill``).
    backfilled: int


@dataclass(frozen=True, slots=True)
class Preview:
    """``/alert test``: what the alert would post from La Cale's current answers."""

    alert: AlertInfo
    checked: int
    matches: list[Torrent]  # newest first
    drops: Counter[str] = field(default_factory=Counter)


_UNSET: Any = object()


class AlertService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        guilds: GuildService,
        access: LaCaleAccess,
        site_meta: SiteMeta,
        *,
        on_pending: Callable[[], None] | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._guilds = guilds
        self._access = access
        self._meta = site_meta
        self._on_pending = on_pending or (lambda: None)
        self._now = now

    # -- reading ---------------------------------------------------------------------------
    async def list_alerts(self, guild_id: int) -> list[AlertInfo]:
        async with self._sessions() as session:
            alerts = (await session.scalars(select(Alert).where(Alert.guild_id == guild_id).order_by(Alert.name))).all()
            counts = await self._counts(session, [a.id for a in alerts])
        return [AlertInfo.of(a, delivered=counts[a.id][0], pending=counts[a.id][1]) for a in alerts]

    async def get(self, guild_id: int, name: str) -> AlertInfo:
        async with self._sessions() as session:
            alert = await self._find(session, guild_id, name)
            counts = await self._counts(session, [alert.id])
        return AlertInfo.of(alert, delivered=counts[alert.id][0], pending=counts[alert.id][1])

    async def names(self, guild_id: int, typed: str = "") -> list[str]:
        """For autocomplete: names containing what was typed (case-insensitive)."""
        async with self._sessions() as session:
            names = (
                await session.scalars(select(Alert.name).where(Alert.guild_id == guild_id).order_by(Alert.name))
            ).all()
        wanted = typed.strip().casefold()
        starts = [n for n in names if n.casefold().startswith(wanted)]
        contains = [n for n in names if wanted in n.casefold() and n not in starts]
        return (starts + contains)[:25]

    # -- creating --------------------------------------------------------------------------
    async def create(
        self, guild_id: int, spec: AlertSpec, *, created_by: int | None, backfill: int = 0
    ) -> CreateResult:
        if not 0 <= backfill <= BACKFILL_MAX:
            raise UserError("alert.error.backfill", limit=BACKFILL_MAX)
        key = await self._guild_key(guild_id)
        meta = await self._meta.get(key) if spec.categories else None
        spec = _validated(spec, meta)
        # Checked before asking La Cale (a quick answer for the common case), then again
        # under the server's lock in the transaction that inserts: other admins (other
        # processes too) may be adding alerts while La Cale answers.
        async with self._sessions() as session:
            await self._check_room(session, guild_id, spec.name)
        newest, targeted = await self._current(key, spec, meta)
        now = self._now()
        async with self._sessions.begin() as session:
            await lock_guild(session, guild_id)  # first statement: see bot.db.locks
            await self._check_room(session, guild_id, spec.name)
            alert = Alert(
                guild_id=guild_id,
                name=spec.name,
                query=spec.query,
                categories=list(spec.categories),
                tmdb_id=spec.tmdb_id,
                channel_id=spec.channel_id,
                mention_role_id=spec.mention_role_id,
                min_size=spec.min_size,
                max_size=spec.max_size,
                min_seeders=spec.min_seeders,
                exclude=list(spec.exclude),
                created_by=created_by,
                created_at=now,
                last_checked_at=now,
            )
            session.add(alert)
            try:
                await session.flush()
            except IntegrityError:
                raise UserError("alert.error.exists", name=spec.name) from None
            existing, posted = await self._baseline(session, guild_id, alert, meta, newest, targeted, backfill, now)
            info = AlertInfo.of(alert)
        log.info("guild %s: alert %s created (%d existing matches, %d backfilled)", guild_id, info.id, existing, posted)
        if posted:
            self._on_pending()
        return CreateResult(info, existing, posted)

    async def _current(self, api_key: str, spec: AlertSpec, meta: Meta | None) -> tuple[list[Torrent], list[Torrent]]:
        """The newest page and the alert's own query, as La Cale answers now."""
        client = self._access.client(api_key, max_retry_after=INTERACTIVE_RETRY_AFTER)
        try:
            newest = await client.search()
        except BadRequest:
            newest = []
        query = TargetedQuery.for_alert(AlertFilter.from_alert(_as_row(spec), meta), meta)
        if query.is_newest:
            return newest, newest
        targeted = await client.search(query.text, tmdb_id=query.tmdb_id, categories=query.categories)
        return newest, targeted

    async def _baseline(
        self,
        session: AsyncSession,
        guild_id: int,
        alert: Alert,
        meta: Meta | None,
        newest: list[Torrent],
        targeted: list[Torrent],
        backfill: int,
        now: datetime,
    ) -> tuple[int, int]:
        """Record what matches now as BASELINE (never posted), the newest ``backfill`` as
        PENDING. A server never polled gets its newest page recorded as seen, so that its
        first poll treats only what comes after as new."""
        if not await queries.has_history(session, guild_id):
            await insert_seen(session, guild_id, newest, now)
        alert_filter = AlertFilter.from_alert(alert, meta)
        tmdb_hashes = frozenset(t.info_hash for t in targeted) if alert.tmdb_id else None
        matched = [
            t
            for t in newest_first(dedupe([*targeted, *newest]))
            if match(alert_filter, ReleaseView.of(t), tmdb_hashes=tmdb_hashes).ok
        ]
        posted = matched[:backfill]
        rows = [NewDelivery(alert.id, alert.channel_id, t, DeliveryStatus.PENDING) for t in reversed(posted)]
        rows += [NewDelivery(alert.id, alert.channel_id, t, DeliveryStatus.BASELINE) for t in matched[backfill:]]
        await insert_deliveries(session, guild_id, rows, now)
        if posted:
            alert.last_match_at = now
        return len(matched), len(posted)

    # -- changing --------------------------------------------------------------------------
    async def edit(
        self,
        guild_id: int,
        name: str,
        *,
        new_name: str | None = _UNSET,
        query: str | None = _UNSET,
        categories: Sequence[str] = _UNSET,
        tmdb_id: str | None = _UNSET,
        channel_id: int = _UNSET,
        mention_role_id: int | None = _UNSET,
        min_size: int | None = _UNSET,
        max_size: int | None = _UNSET,
        min_seeders: int | None = _UNSET,
        exclude: Sequence[str] = _UNSET,
    ) -> AlertInfo:
        """Change what was given. New criteria get a new baseline (what matches them now is
        not posted); a new channel takes over the alert's pending posts and lifts a pause
        caused by the old channel."""
        key = await self._guild_key(guild_id)
        async with self._sessions() as session:
            current = await self._find(session, guild_id, name)
        spec = AlertSpec(
            name=current.name,
            channel_id=current.channel_id,
            query=current.query,
            categories=tuple(current.categories or ()),
            tmdb_id=current.tmdb_id,
            mention_role_id=current.mention_role_id,
            min_size=current.min_size,
            max_size=current.max_size,
            min_seeders=current.min_seeders,
            exclude=tuple(current.exclude or ()),
        )
        given: dict[str, Any] = {
            "name": new_name,
            "query": query,
            "tmdb_id": tmdb_id,
            "channel_id": channel_id,
            "mention_role_id": mention_role_id,
            "min_size": min_size,
            "max_size": max_size,
            "min_seeders": min_seeders,
        }
        changes: dict[str, Any] = {k: v for k, v in given.items() if v is not _UNSET}
        if categories is not _UNSET:
            changes["categories"] = tuple(categories or ())
        if exclude is not _UNSET:
            changes["exclude"] = tuple(exclude or ())
        edited = replace(spec, **changes)
        meta = await self._meta.get(key) if edited.categories else None
        edited = _validated(edited, meta)
        criteria = ("query", "categories", "tmdb_id", "min_size", "max_size", "min_seeders", "exclude")
        new_criteria = any(getattr(edited, c) != getattr(spec, c) for c in criteria)
        newest, targeted = await self._current(key, edited, meta) if new_criteria else ([], [])
        now = self._now()
        async with self._sessions.begin() as session:
            if edited.name != spec.name:
                # A rename checks name uniqueness like a create, under the same lock.
                await lock_guild(session, guild_id)  # first statement: see bot.db.locks
            alert = await self._find(session, guild_id, name)
            if edited.name != alert.name:
                other = await self._find(session, guild_id, edited.name, required=False)
                if other is not None and other.id != alert.id:  # a change of case only is no clash
                    raise UserError("alert.error.exists", name=edited.name)
            for attr in (
                "name",
                "query",
                "tmdb_id",
                "channel_id",
                "mention_role_id",
                "min_size",
                "max_size",
                "min_seeders",
            ):
                setattr(alert, attr, getattr(edited, attr))
            alert.categories = list(edited.categories)
            alert.exclude = list(edited.exclude)
            if edited.channel_id != spec.channel_id:
                await session.execute(
                    update(Delivery)
                    .where(
                        Delivery.alert_id == alert.id,
                        Delivery.status == DeliveryStatus.PENDING,
                        Delivery.batch_nonce.is_(None),
                    )
                    .values(channel_id=edited.channel_id)
                    .execution_options(synchronize_session=False)
                )
                if alert.paused and PauseReason.of(alert.pause_reason).about_channel:
                    alert.paused, alert.pause_reason = False, None
            if new_criteria:
                # The TMDB rule counts results newer than the alert: the edit is a new start.
                alert.created_at = now
                await self._baseline(session, guild_id, alert, meta, newest, targeted, 0, now)
            alert.last_checked_at = now
            await session.flush()
            info = AlertInfo.of(alert)
        self._on_pending()
        return info

    async def remove(self, guild_id: int, name: str) -> AlertInfo:
        """Gone with its deliveries (a pending post of it is not sent)."""
        async with self._sessions.begin() as session:
            alert = await self._find(session, guild_id, name)
            info = AlertInfo.of(alert)
            await session.execute(delete(Delivery).where(Delivery.alert_id == alert.id))
            await session.execute(delete(Alert).where(Alert.id == alert.id))
        return info

    async def pause(self, guild_id: int, name: str) -> AlertInfo:
        async with self._sessions.begin() as session:
            alert = await self._find(session, guild_id, name)
            if not alert.paused:
                alert.paused, alert.pause_reason = True, PauseReason.USER
            return AlertInfo.of(alert)

    async def resume(self, guild_id: int, name: str) -> AlertInfo:
        """Paused for want of a usable key: only ``/setup key`` resumes it. Paused for its
        channel: resumed (the admin says it is fixed; if not, it pauses again)."""
        async with self._sessions.begin() as session:
            alert = await self._find(session, guild_id, name)
            settings = await session.get(GuildSettings, guild_id)
            if (
                alert.paused
                and settings is not None
                and settings.api_key_encrypted
                and settings.key_status == KeyStatus.UNREADABLE
            ):
                # Whatever paused it: it could not run on a key nobody can decrypt.
                raise UserError("alert.error.resume_key_unreadable")
            if alert.paused and PauseReason.of(alert.pause_reason).about_key:
                if settings is None or not settings.api_key_encrypted or settings.key_status == KeyStatus.REFUSED:
                    raise UserError("alert.error.resume_key")
            alert.paused, alert.pause_reason = False, None
            info = AlertInfo.of(alert)
        self._on_pending()
        return info

    # -- the dry run -------------------------------------------------------------------------
    async def preview(self, guild_id: int, name: str, *, limit: int = 10) -> Preview:
        """What the alert would post from La Cale's answers now (newest page and its own
        query), with how many releases each criterion turned away. Nothing is recorded."""
        key = await self._guild_key(guild_id)
        info = await self.get(guild_id, name)
        spec = AlertSpec(
            name=info.name,
            channel_id=info.channel_id,
            query=info.query,
            categories=info.categories,
            tmdb_id=info.tmdb_id,
            min_size=info.min_size,
            max_size=info.max_size,
            min_seeders=info.min_seeders,
            exclude=info.exclude,
        )
        meta = await self._meta.get(key) if spec.categories else None
        newest, targeted = await self._current(key, spec, meta)
        alert_filter = AlertFilter.from_alert(_as_row(spec, info.id), meta)
        tmdb_hashes = frozenset(t.info_hash for t in targeted) if spec.tmdb_id else None
        drops: Counter[str] = Counter()
        matches: list[Torrent] = []
        pool = newest_first(dedupe([*targeted, *newest]))
        for torrent in pool:
            decision: Decision = match(alert_filter, ReleaseView.of(torrent), tmdb_hashes=tmdb_hashes)
            if decision.ok:
                matches.append(torrent)
            else:
                drops[decision.kind] += 1
        async with self._sessions.begin() as session:
            await session.execute(update(Alert).where(Alert.id == info.id).values(last_checked_at=self._now()))
        return Preview(info, len(pool), matches[:limit], drops)

    # -- helpers -----------------------------------------------------------------------------
    async def _guild_key(self, guild_id: int) -> str:
        key = await self._guilds.guild_key(guild_id)
        if key is None:
            raise UserError("alert.error.no_key")
        return key.api_key

    @classmethod
    async def _check_room(cls, session: AsyncSession, guild_id: int, name: str) -> None:
        """Room for one more alert named ``name`` (the cap, then the name, any case)."""
        count = await session.scalar(select(func.count()).select_from(Alert).where(Alert.guild_id == guild_id))
        if (count or 0) >= ALERTS_PER_GUILD_MAX:
            raise UserError("alert.error.too_many", limit=ALERTS_PER_GUILD_MAX)
        if await cls._find(session, guild_id, name, required=False) is not None:
            raise UserError("alert.error.exists", name=name)

    @staticmethod
    async def _find(session: AsyncSession, guild_id: int, name: str, *, required: bool = True) -> Alert:
        wanted = name.strip()
        alert = await session.scalar(select(Alert).where(Alert.guild_id == guild_id, Alert.name == wanted))
        if alert is None:
            # Compared here, not with SQL ``lower()``: SQLite's folds ASCII only, so "ÉTÉ"
            # would miss "Été" there (and make a second alert) while PostgreSQL finds it.
            # A server has at most ALERTS_PER_GUILD_MAX alerts.
            folded = wanted.lower()
            alerts = await session.scalars(select(Alert).where(Alert.guild_id == guild_id).order_by(Alert.id))
            alert = next((a for a in alerts if a.name.lower() == folded), None)
        if alert is None and required:
            raise UserError("alert.error.unknown", name=wanted[:ALERT_NAME_MAX])
        return alert  # type: ignore[return-value]

    @staticmethod
    async def _counts(session: AsyncSession, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        out = dict.fromkeys(ids, (0, 0))
        if not ids:
            return out
        rows = await session.execute(
            select(Delivery.alert_id, Delivery.status, func.count())
            .where(
                Delivery.alert_id.in_(list(ids)),
                Delivery.status.in_([DeliveryStatus.DELIVERED, DeliveryStatus.PENDING]),
            )
            .group_by(Delivery.alert_id, Delivery.status)
        )
        for alert_id, status, count in rows.all():
            if alert_id is None:  # never: the query names alerts (a DM row has none)
                continue
            delivered, pending = out[alert_id]
            out[alert_id] = (count, pending) if status == DeliveryStatus.DELIVERED else (delivered, count)
        return out


@dataclass(frozen=True, slots=True)
class _SpecRow:
    """An :class:`AlertSpec` seen as an alert row (for ``AlertFilter.from_alert``)."""

    id: int
    name: str
    query: str | None
    categories: tuple[str, ...]
    tmdb_id: str | None
    min_size: int | None
    max_size: int | None
    min_seeders: int | None
    exclude: tuple[str, ...]


def _as_row(spec: AlertSpec, alert_id: int = 0) -> _SpecRow:
    return _SpecRow(
        alert_id,
        spec.name,
        spec.query,
        spec.categories,
        spec.tmdb_id,
        spec.min_size,
        spec.max_size,
        spec.min_seeders,
        spec.exclude,
    )


def _validated(spec: AlertSpec, meta: Meta | None) -> AlertSpec:
    """Refuse what cannot work, before anything is saved or sent."""
    name = " ".join(spec.name.split())
    if not name or len(name) > ALERT_NAME_MAX:
        raise UserError("alert.error.name", limit=ALERT_NAME_MAX)
    prepared = build_query(meta or Meta(), spec.query, spec.categories, spec.tmdb_id)
    if (spec.min_size is not None and spec.min_size < 0) or (spec.max_size is not None and spec.max_size < 0):
        raise UserError("alert.error.size_range")
    if spec.min_size is not None and spec.max_size is not None and spec.min_size > spec.max_size:
        raise UserError("alert.error.size_range")
    if spec.min_seeders is not None and spec.min_seeders < 0:
        raise UserError("alert.error.seeders")
    # Entries arrive split already (``parse_exclude`` on what the member typed); each is
    # normalised as one phrase.
    exclude = tuple(dict.fromkeys(" ".join(normalize_words(e)) for e in spec.exclude if normalize_words(e)))
    if len(exclude) > EXCLUDE_WORDS_MAX:
        raise UserError("alert.error.exclude", limit=EXCLUDE_WORDS_MAX)
    return replace(
        spec, name=name, query=prepared.text, categories=prepared.categories, tmdb_id=prepared.tmdb_id, exclude=exclude
    )
