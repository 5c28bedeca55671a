"""Managing a server's alerts for ``/alert``: create (with its baseline), list, edit,
remove, pause, resume, and the dry run of ``/alert test``.

Creating an alert records what already matches it as BASELINE deliveries, so the first
poll after it posts nothing old; ``backfill`` (at most 10) posts the newest of them.
Editing the criteria records a new baseline the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.criteria import Criteria, Decision, ReleaseView, check, parse_size_option, read_names
from bot.db.locks import lock_guild
from bot.db.models import Alert, Delivery, DeliveryStatus, GuildSettings, KeyStatus
from bot.db.types import utcnow
from bot.errors import UserError
from bot.lacale.errors import BadRequest
from bot.lacale.models import Meta, Torrent
from bot.limits import ALERT_NAME_MAX, ALERTS_PER_GUILD_MAX, BACKFILL_MAX
from bot.services.alerts import queries
from bot.services.alerts.destinations import (
    Destination,
    check_age_restriction,
    check_destination,
    release_is_age_restricted,
    restricted_labels_of,
)
from bot.services.alerts.fetch import SiteMeta, TargetedQuery
from bot.services.alerts.matching import dedupe, newest_first
from bot.services.alerts.record import NewDelivery, insert_deliveries, insert_seen
from bot.services.guilds import GuildService
from bot.services.lacale_access import LaCaleAccess
from bot.services.naming import find_by_name, suggest_names
from bot.states import PauseReason

log = logging.getLogger("vigie.alerts")

__all__ = ["AlertInfo", "AlertService", "AlertSpec", "CreateResult", "Explained", "Preview", "parse_size_option"]

#: A member waits for ``/alert add``: a long 429 is reported rather than waited out.
INTERACTIVE_RETRY_AFTER = 5.0


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """What a member asks for (validated by :meth:`AlertService.create`)."""

    name: str
    channel_id: int
    criteria: Criteria = field(default_factory=Criteria)
    mention_role_id: int | None = None


@dataclass(frozen=True, slots=True)
class AlertInfo:
    id: int
    name: str
    channel_id: int
    mention_role_id: int | None
    criteria: Criteria
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
            alert.channel_id,
            alert.mention_role_id,
            Criteria.from_json(alert.criteria),
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
class Explained:
    """One result of ``/alert test``: what the parser read from its name, and the verdict
    (``decision.criterion`` names the criterion that turned it away)."""

    torrent: Torrent
    badges: tuple[str, ...]
    decision: Decision


@dataclass(frozen=True, slots=True)
class Preview:
    """``/alert test``: what the alert would post from La Cale's current answers."""

    alert: AlertInfo
    checked: int
    matches: list[Torrent]  # newest first
    drops: Counter[str] = field(default_factory=Counter)
    #: The newest results, each with what was read and the verdict.
    results: list[Explained] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DryRun:
    """Criteria tried on La Cale's answers (``/alert test``, ``/watch test``)."""

    checked: int
    matches: list[Torrent]  # newest first
    drops: Counter[str]
    results: list[Explained]


async def dry_run(
    criteria: Criteria,
    meta: Meta | None,
    answers: Sequence[Torrent],
    *,
    tmdb_hashes: Collection[str] | None = None,
    limit: int = 10,
    explained: int = 10,
) -> DryRun:
    """What ``criteria`` keep of ``answers`` (the first ``limit``, newest first), how many
    releases each criterion turned away, and for the newest ``explained`` what their names
    say and the verdict. Nothing is recorded."""
    compiled = criteria.compile(meta)
    drops: Counter[str] = Counter()
    matches: list[Torrent] = []
    results: list[Explained] = []
    pool = newest_first(dedupe(answers))
    views = [ReleaseView.of(torrent) for torrent in pool]
    # Names are read (once per info hash) off the event loop: the shown ones always
    # (their badges), all of them when a criterion reads them.
    await asyncio.to_thread(read_names, views if criteria.reads_name else views[:explained])
    for view in views:
        decision: Decision = check(compiled, view, tmdb_hashes=tmdb_hashes)
        if decision.ok:
            matches.append(view.torrent)
        else:
            drops[decision.kind] += 1
        if len(results) < explained:
            results.append(Explained(view.torrent, view.info.badges(), decision))
    return DryRun(len(pool), matches[:limit], drops, results)


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
        return suggest_names(names, typed)

    # -- creating --------------------------------------------------------------------------
    async def create(
        self,
        guild_id: int,
        spec: AlertSpec,
        *,
        created_by: int | None,
        backfill: int = 0,
        destination: Destination | None = None,
    ) -> CreateResult:
        """``destination``: the channel as the command saw it (kind, Vigie's permissions,
        age restriction), checked before anything else; ``None`` skips the checks."""
        if not 0 <= backfill <= BACKFILL_MAX:
            raise UserError("alert.error.backfill", limit=BACKFILL_MAX)
        if destination is not None:
            check_destination(destination)
        key = await self._guild_key(guild_id)
        meta = await self._meta.get(key) if spec.criteria.needs_meta else None
        spec = _validated(spec, meta)
        if destination is not None:
            check_age_restriction(destination, meta, spec.criteria.categories)
        if backfill and meta is None:
            meta = await self._meta.get(key)  # backfilled posts say whether they are age-restricted
        # Checked before asking La Cale (a quick answer for the common case), then again
        # under the server's lock in the transaction that inserts: other admins (other
        # processes too) may be adding alerts while La Cale answers.
        async with self._sessions() as session:
            await self._check_room(session, guild_id, spec.name)
        newest, targeted = await self._current(key, spec.criteria, meta)
        now = self._now()
        async with self._sessions.begin() as session:
            await lock_guild(session, guild_id)  # first statement: see bot.db.locks
            await self._check_room(session, guild_id, spec.name)
            alert = Alert(
                guild_id=guild_id,
                name=spec.name,
                criteria=spec.criteria.to_json(),
                channel_id=spec.channel_id,
                mention_role_id=spec.mention_role_id,
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

    async def _current(
        self, api_key: str, criteria: Criteria, meta: Meta | None
    ) -> tuple[list[Torrent], list[Torrent]]:
        """The newest page and the alert's own query, as La Cale answers now."""
        client = self._access.client(api_key, max_retry_after=INTERACTIVE_RETRY_AFTER)
        try:
            newest = await client.search()
        except BadRequest:
            newest = []
        query = TargetedQuery.for_criteria(criteria, meta)
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
        criteria = Criteria.from_json(alert.criteria)
        compiled = criteria.compile(meta)
        tmdb_hashes = frozenset(t.info_hash for t in targeted) if criteria.tmdb_id else None
        matched = [
            t
            for t in newest_first(dedupe([*targeted, *newest]))
            if check(compiled, ReleaseView.of(t), tmdb_hashes=tmdb_hashes).ok
        ]
        posted = matched[:backfill]
        restricted = restricted_labels_of(meta) if (posted and meta is not None) else frozenset()
        rows = [
            NewDelivery(
                alert.id,
                alert.channel_id,
                t,
                DeliveryStatus.PENDING,
                age_restricted=release_is_age_restricted(restricted, t.category),
            )
            for t in reversed(posted)
        ]
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
        channel_id: int = _UNSET,
        mention_role_id: int | None = _UNSET,
        options: Mapping[str, Any] | None = None,
        clear: Collection[str] = (),
        destination: Destination | None = None,
    ) -> AlertInfo:
        """Change what was given: ``options`` are criteria options (option name → parsed
        value, ``None``: not given), ``clear`` the criteria options to empty (see
        :meth:`Criteria.with_options`). New criteria get a new baseline (what matches them
        now is not posted); a new channel takes over the alert's pending posts and lifts a
        pause caused by the old channel. ``destination``: the channel the alert will post in
        (the new one, checked like a create's; or its own when its categories change, then
        only for an age-restricted category: a channel lost meanwhile does not block the edit)."""
        if destination is not None and channel_id is not _UNSET:
            check_destination(destination)
        key = await self._guild_key(guild_id)
        async with self._sessions() as session:
            current = await self._find(session, guild_id, name)
        spec = AlertSpec(
            name=current.name,
            channel_id=current.channel_id,
            criteria=Criteria.from_json(current.criteria),
            mention_role_id=current.mention_role_id,
        )
        given: dict[str, Any] = {"name": new_name, "channel_id": channel_id, "mention_role_id": mention_role_id}
        changes: dict[str, Any] = {k: v for k, v in given.items() if v is not _UNSET}
        changes["criteria"] = spec.criteria.with_options(options or {}, clear=clear)
        edited = replace(spec, **changes)
        meta = await self._meta.get(key) if edited.criteria.needs_meta else None
        edited = _validated(edited, meta)
        if destination is not None:
            check_age_restriction(destination, meta, edited.criteria.categories)
        new_criteria = edited.criteria != spec.criteria
        newest, targeted = await self._current(key, edited.criteria, meta) if new_criteria else ([], [])
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
            alert.name = edited.name
            alert.channel_id = edited.channel_id
            alert.mention_role_id = edited.mention_role_id
            if new_criteria:
                alert.criteria = edited.criteria.to_json()
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
    async def preview(self, guild_id: int, name: str, *, limit: int = 10, explained: int = 10) -> Preview:
        """What the alert would post from La Cale's answers now (newest page and its own
        query), with how many releases each criterion turned away, and for the newest
        ``explained`` results what their names say and which criterion turned each away.
        Nothing is recorded."""
        key = await self._guild_key(guild_id)
        info = await self.get(guild_id, name)
        criteria = info.criteria
        meta = await self._meta.get(key) if criteria.needs_meta else None
        newest, targeted = await self._current(key, criteria, meta)
        tmdb_hashes = frozenset(t.info_hash for t in targeted) if criteria.tmdb_id else None
        run = await dry_run(
            criteria, meta, [*targeted, *newest], tmdb_hashes=tmdb_hashes, limit=limit, explained=explained
        )
        async with self._sessions.begin() as session:
            await session.execute(update(Alert).where(Alert.id == info.id).values(last_checked_at=self._now()))
        return Preview(info, run.checked, run.matches, run.drops, run.results)

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
        alert = await find_by_name(session, Alert, (Alert.guild_id == guild_id,), name)
        if alert is None and required:
            raise UserError("alert.error.unknown", name=name.strip()[:ALERT_NAME_MAX])
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


def _validated(spec: AlertSpec, meta: Meta | None) -> AlertSpec:
    """Refuse what cannot work, before anything is saved or sent."""
    name = " ".join(spec.name.split())
    if not name or len(name) > ALERT_NAME_MAX:
        raise UserError("alert.error.name", limit=ALERT_NAME_MAX)
    return replace(spec, name=name, criteria=spec.criteria.validated(meta))
