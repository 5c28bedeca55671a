"""Members' own alerts by direct message (``/watch``): create, list, edit, remove, pause,
resume, the dry run of ``/watch test``, and what pauses a member's watches on its own
(their DMs closed, their leaving the server, their personal key removed).

Where a watch runs is decided when it is made (and again when it is resumed):

- on the **server's poll** when the server's admins turned watches on (``/setup watches
  on``) and the server has a key: matched against what the poll already fetches, no
  request of its own;
- else on the member's **personal key** (``/key set``), polled as a job of its own;
- else it is refused, saying how to get it (an admin turns watches on, or a personal key).

The watch's DMs go through the alerts' outbox (:mod:`bot.services.alerts.deliver`): one
``deliveries`` row per member and release (unique), claimed with a nonce before it is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.criteria import Criteria
from bot.db.locks import lock_guild
from bot.db.models import Delivery, DeliveryStatus, GuildSettings, KeyStatus, MemberKey, Watch
from bot.db.rows import rows_changed
from bot.db.types import utcnow
from bot.errors import UserError
from bot.i18n import lang_of
from bot.lacale.errors import BadRequest
from bot.lacale.models import Meta, Torrent
from bot.limits import ALERT_NAME_MAX, WATCHES_PER_GUILD_DEFAULT, WATCHES_PER_MEMBER_DEFAULT
from bot.services.alerts import queries
from bot.services.alerts.fetch import SiteMeta
from bot.services.alerts.record import insert_seen
from bot.services.alerts.service import DryRun, dry_run
from bot.services.alerts.watching import pause_member_watches
from bot.services.guilds import GuildService
from bot.services.lacale_access import LaCaleAccess
from bot.services.naming import find_by_name, suggest_names
from bot.states import WatchPause

log = logging.getLogger("vigie.watches")

#: A member waits for ``/watch test``: a long 429 is reported rather than waited out.
INTERACTIVE_RETRY_AFTER = 5.0


@dataclass(frozen=True, slots=True)
class WatchInfo:
    id: int
    guild_id: int
    user_id: int
    name: str
    criteria: Criteria
    personal: bool
    paused: bool
    pause_reason: str | None
    created_at: datetime
    last_match_at: datetime | None
    delivered: int = 0
    pending: int = 0

    @classmethod
    def of(cls, watch: Watch, *, delivered: int = 0, pending: int = 0) -> WatchInfo:
        return cls(
            watch.id,
            watch.guild_id,
            watch.user_id,
            watch.name,
            Criteria.from_json(watch.criteria),
            watch.personal,
            watch.paused,
            watch.pause_reason,
            watch.created_at,
            watch.last_match_at,
            delivered,
            pending,
        )


@dataclass(frozen=True, slots=True)
class WatchList:
    """``/watch list``: the member's watches in a server, and whether the server's poll
    carries them (its watches turned on, and a usable key)."""

    watches: list[WatchInfo]
    server_enabled: bool
    server_has_key: bool = True


@dataclass(frozen=True, slots=True)
class WatchPreview:
    """``/watch test``: what the watch would send now from La Cale's newest page."""

    watch: WatchInfo
    run: DryRun


@dataclass(frozen=True, slots=True)
class PausedNotice:
    """Watches Vigie paused on its own, that the member has not been told about yet."""

    reason: WatchPause
    names: tuple[str, ...]


class WatchService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        guilds: GuildService,
        access: LaCaleAccess,
        site_meta: SiteMeta,
        *,
        per_member: int = WATCHES_PER_MEMBER_DEFAULT,
        per_guild: int = WATCHES_PER_GUILD_DEFAULT,
        on_pending: Callable[[], None] | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._guilds = guilds
        self._access = access
        self._meta = site_meta
        self.per_member = per_member
        self.per_guild = per_guild
        self._on_pending = on_pending or (lambda: None)
        self._now = now

    # -- where a watch runs -------------------------------------------------------------------
    async def _runs_personal(self, guild_id: int, user_id: int) -> bool:
        """False: on the server's poll; True: on the member's personal key. Refuses with
        how to get watches when neither is possible."""
        async with self._sessions() as session:
            settings = await session.get(GuildSettings, guild_id)
            has_personal = await session.get(MemberKey, user_id) is not None
        if settings is not None and settings.watches_enabled and await self._guilds.guild_key(guild_id) is not None:
            return False
        if has_personal:
            return True
        if settings is not None and settings.watches_enabled:
            raise UserError("watch.error.no_key")
        raise UserError("watch.error.off")

    async def _key_for(self, guild_id: int, user_id: int, personal: bool) -> str:
        """The key a watch's dry run and checks use: the one its poll uses."""
        if personal:
            key = await self._guilds.keys.member_key(user_id)
        else:
            key = await self._guilds.guild_key(guild_id)
        if key is None:
            raise UserError("watch.error.off")
        return key.api_key

    # -- reading ---------------------------------------------------------------------------
    async def list_watches(self, guild_id: int, user_id: int) -> WatchList:
        async with self._sessions() as session:
            watches = (
                await session.scalars(
                    select(Watch).where(Watch.guild_id == guild_id, Watch.user_id == user_id).order_by(Watch.name)
                )
            ).all()
            counts = await _counts(session, [w.id for w in watches])
            settings = await session.get(GuildSettings, guild_id)
        infos = [WatchInfo.of(w, delivered=counts[w.id][0], pending=counts[w.id][1]) for w in watches]
        usable_key = bool(
            settings is not None
            and settings.api_key_encrypted
            and settings.key_status not in (KeyStatus.REFUSED, KeyStatus.UNREADABLE)
        )
        return WatchList(infos, bool(settings is not None and settings.watches_enabled), usable_key)

    async def get(self, guild_id: int, user_id: int, name: str) -> WatchInfo:
        async with self._sessions() as session:
            return WatchInfo.of(await _find(session, guild_id, user_id, name))

    async def names(self, guild_id: int, user_id: int, typed: str = "") -> list[str]:
        """For autocomplete: the member's watch names containing what was typed."""
        async with self._sessions() as session:
            names = (
                await session.scalars(
                    select(Watch.name).where(Watch.guild_id == guild_id, Watch.user_id == user_id).order_by(Watch.name)
                )
            ).all()
        return suggest_names(names, typed)

    # -- changing --------------------------------------------------------------------------
    async def create(self, guild_id: int, user_id: int, name: str, criteria: Criteria, *, locale: str) -> WatchInfo:
        """A new watch; only releases published from now on are sent (no backlog)."""
        name = _valid_name(name)
        personal = await self._runs_personal(guild_id, user_id)
        criteria = await self._validated(guild_id, user_id, personal, criteria)
        async with self._sessions() as session:
            await self._check_room(session, guild_id, user_id, name)  # a quick answer before La Cale
        # A poll that never ran treats its whole first page as new: what is there now is
        # recorded as seen first, so that the watch sends only what comes after.
        scope = queries.personal_scope(user_id) if personal else guild_id
        async with self._sessions() as session:
            first = not await queries.has_history(session, scope)
        newest = await self._newest(await self._key_for(guild_id, user_id, personal)) if first else []
        now = self._now()
        async with self._sessions.begin() as session:
            # The server's lock: the limits are checked and the row inserted as one step,
            # whichever process serves the other members of the server meanwhile.
            await lock_guild(session, guild_id)
            await self._check_room(session, guild_id, user_id, name)
            if newest and not await queries.has_history(session, scope):
                await insert_seen(session, scope, newest, now)
            watch = Watch(
                guild_id=guild_id,
                user_id=user_id,
                name=name,
                criteria=criteria.to_json(),
                personal=personal,
                locale=lang_of(locale),
                created_at=now,
            )
            session.add(watch)
            try:
                await session.flush()
            except IntegrityError:
                raise UserError("watch.error.exists", name=name) from None
            info = WatchInfo.of(watch)
        log.info("guild %s: watch %s created (%s)", guild_id, info.id, "personal key" if personal else "server poll")
        return info

    async def edit(
        self,
        guild_id: int,
        user_id: int,
        name: str,
        *,
        new_name: str | None = None,
        options: Mapping[str, Any] | None = None,
        clear: Sequence[str] = (),
    ) -> WatchInfo:
        """Change the name and the criteria given (``options``: option name → value) or
        emptied (``clear``: option names). New criteria are a new start: only releases
        published from now on are sent."""
        async with self._sessions() as session:
            current = WatchInfo.of(await _find(session, guild_id, user_id, name))
        criteria = None
        if options or clear:
            criteria = current.criteria.with_options(options or {}, clear=clear)
            criteria = await self._validated(guild_id, user_id, current.personal, criteria)
        renamed = _valid_name(new_name) if new_name is not None else None
        async with self._sessions.begin() as session:
            watch = await _find(session, guild_id, user_id, name)
            if renamed is not None and renamed != watch.name:
                other = await _find(session, guild_id, user_id, renamed, required=False)
                if other is not None and other.id != watch.id:
                    raise UserError("watch.error.exists", name=renamed)
                watch.name = renamed
            if criteria is not None and criteria.to_json() != watch.criteria:
                watch.criteria = criteria.to_json()
                watch.created_at = self._now()
            try:
                await session.flush()
            except IntegrityError:
                raise UserError("watch.error.exists", name=renamed or name) from None
            return WatchInfo.of(watch)

    async def remove(self, guild_id: int, user_id: int, name: str) -> WatchInfo:
        """Gone with the DMs it recorded and not yet sent."""
        async with self._sessions.begin() as session:
            watch = await _find(session, guild_id, user_id, name)
            info = WatchInfo.of(watch)
            await session.execute(delete(Delivery).where(Delivery.watch_id == watch.id))
            await session.execute(delete(Watch).where(Watch.id == watch.id))
        return info

    async def pause(self, guild_id: int, user_id: int, name: str) -> WatchInfo:
        async with self._sessions.begin() as session:
            watch = await _find(session, guild_id, user_id, name)
            if not watch.paused:
                watch.paused, watch.pause_reason = True, WatchPause.USER
            return WatchInfo.of(watch)

    async def resume(self, guild_id: int, user_id: int, name: str) -> WatchInfo:
        """Running again, on the server's poll or the member's key as things stand now
        (the server may have turned watches on or off, the member added or removed their
        key). Paused for closed DMs: the member says they opened them; if not, it pauses
        again at the next DM."""
        personal = await self._runs_personal(guild_id, user_id)
        async with self._sessions.begin() as session:
            watch = await _find(session, guild_id, user_id, name)
            watch.paused, watch.pause_reason, watch.notice_pending = False, None, False
            watch.personal = personal
            info = WatchInfo.of(watch)
        self._on_pending()  # DMs recorded before the pause wait for it
        return info

    # -- what pauses watches on its own ---------------------------------------------------------
    async def member_left(self, guild_id: int, user_id: int) -> int:
        """The member left the server (or was removed): their watches there pause."""
        async with self._sessions.begin() as session:
            return await pause_member_watches(session, user_id, WatchPause.MEMBER_LEFT, guild_id=guild_id)

    async def take_notice(self, user_id: int) -> list[PausedNotice]:
        """Watches Vigie paused on its own that the member was not told about: returned
        once (marked told in the same transaction), for their next command's answer."""
        async with self._sessions.begin() as session:
            rows = (
                await session.execute(
                    select(Watch.id, Watch.name, Watch.pause_reason).where(
                        Watch.user_id == user_id, Watch.notice_pending.is_(True)
                    )
                )
            ).all()
            if not rows:
                return []
            done = await session.execute(
                update(Watch)
                .where(Watch.id.in_([r[0] for r in rows]), Watch.notice_pending.is_(True))
                .values(notice_pending=False, updated_at=Watch.updated_at)
                .execution_options(synchronize_session=False)
            )
            if not rows_changed(done):
                return []  # another command of the member told them first
        by_reason: dict[WatchPause, list[str]] = {}
        for _, name, reason in rows:
            by_reason.setdefault(WatchPause.of(reason), []).append(name)
        return [PausedNotice(reason, tuple(sorted(names))) for reason, names in by_reason.items()]

    # -- the dry run -------------------------------------------------------------------------
    async def preview(self, guild_id: int, user_id: int, name: str, *, limit: int = 10) -> WatchPreview:
        """What the watch would send from La Cale's newest page now, with how many
        releases each criterion turned away. Nothing is recorded."""
        info = await self.get(guild_id, user_id, name)
        key = await self._key_for(guild_id, user_id, info.personal)
        meta = await self._meta.get(key) if info.criteria.needs_meta else None
        newest = await self._newest(key)
        return WatchPreview(info, await dry_run(info.criteria, meta, newest, limit=limit))

    # -- helpers -----------------------------------------------------------------------------
    async def _newest(self, api_key: str) -> list[Torrent]:
        client = self._access.client(api_key, max_retry_after=INTERACTIVE_RETRY_AFTER)
        try:
            return await client.search()
        except BadRequest:
            return []

    async def _validated(self, guild_id: int, user_id: int, personal: bool, criteria: Criteria) -> Criteria:
        meta = None
        if criteria.needs_meta:
            meta = await self._meta.get(await self._key_for(guild_id, user_id, personal))
        return validated_criteria(criteria, meta)

    async def _check_room(self, session: AsyncSession, guild_id: int, user_id: int, name: str) -> None:
        mine = await session.scalar(
            select(func.count()).select_from(Watch).where(Watch.guild_id == guild_id, Watch.user_id == user_id)
        )
        if (mine or 0) >= self.per_member:
            raise UserError("watch.error.too_many_member", limit=self.per_member)
        everyone = await session.scalar(select(func.count()).select_from(Watch).where(Watch.guild_id == guild_id))
        if (everyone or 0) >= self.per_guild:
            raise UserError("watch.error.too_many_guild", limit=self.per_guild)
        if await _find(session, guild_id, user_id, name, required=False) is not None:
            raise UserError("watch.error.exists", name=name)


async def _find(session: AsyncSession, guild_id: int, user_id: int, name: str, *, required: bool = True) -> Watch:
    watch = await find_by_name(session, Watch, (Watch.guild_id == guild_id, Watch.user_id == user_id), name)
    if watch is None and required:
        raise UserError("watch.error.unknown", name=name.strip()[:ALERT_NAME_MAX])
    return watch  # type: ignore[return-value]


async def _counts(session: AsyncSession, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """DMs sent and waiting, per watch that recorded them."""
    out = dict.fromkeys(ids, (0, 0))
    if not ids:
        return out
    rows = await session.execute(
        select(Delivery.watch_id, Delivery.status, func.count())
        .where(
            Delivery.watch_id.in_(list(ids)),
            Delivery.status.in_([DeliveryStatus.DELIVERED, DeliveryStatus.PENDING]),
        )
        .group_by(Delivery.watch_id, Delivery.status)
    )
    for watch_id, status, count in rows.all():
        if watch_id is None:
            continue
        delivered, pending = out[watch_id]
        out[watch_id] = (count, pending) if status == DeliveryStatus.DELIVERED else (delivered, count)
    return out


def _valid_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean or len(clean) > ALERT_NAME_MAX:
        raise UserError("watch.error.name", limit=ALERT_NAME_MAX)
    return clean


# -- criteria -----------------------------------------------------------------------------------
def validated_criteria(criteria: Criteria, meta: Meta | None) -> Criteria:
    """The criteria as a watch may have them, checked like an alert's (``UserError``)."""
    if criteria.tmdb_id:
        # Results do not say which film they are: a TMDB criterion needs a request of its
        # own, and a watch never costs one.
        raise UserError("watch.error.tmdb")
    return criteria.validated(meta)
