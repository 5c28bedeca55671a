"""Server settings (``/setup``): the server's key (registered after La Cale accepts it,
removed, marked refused or unreadable), the upload role and channels, ``/setup status``,
and forgetting a server Vigie left. Members' personal keys (``/key``) and the choice of
key for an action are in :mod:`bot.services.keys`, reached as :attr:`GuildService.keys`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.locks import insert_missing
from bot.db.models import Alert, GuildSettings, KeyStatus, Watch
from bot.db.rows import rows_changed
from bot.db.types import utcnow
from bot.errors import KeyUnreadable
from bot.i18n import lang_of
from bot.lacale.errors import AuthError
from bot.services.keys import KeyService, ResolvedKey
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.vault import KeyDecryptError, KeyVault
from bot.states import KEY_PAUSE_REASONS, PauseReason

log = logging.getLogger(__name__)


#: Told ``(guild_id, change)`` after a server's key stops being usable as it was:
#: "key_removed", "key_replaced", or "guild_left" (Vigie left the server). Whatever holds
#: something granted under the old key (open upload previews) drops it.
KeyListener = Callable[[int, str], None]


@dataclass(frozen=True, slots=True)
class StoredKeysReport:
    """What :meth:`GuildService.check_stored_keys` found at start."""

    #: Rows written under a SECRET_KEY_OLD value, now re-encrypted under SECRET_KEY.
    rotated: int
    #: Servers whose key no secret reads (their alerts are paused).
    unreadable_guilds: tuple[int, ...]
    #: Personal keys no secret reads (their owners are told when they use them).
    unreadable_members: int
    #: Servers marked unreadable before that are readable again (SECRET_KEY_OLD added).
    restored_guilds: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class GuildStatus:
    has_key: bool
    fingerprint: str | None
    key_status: str
    key_status_reason: str | None
    registered_by: int | None
    registered_at: datetime | None
    checked_at: datetime | None
    alerts_total: int
    alerts_paused: int
    #: (alert name, pause reason code) of each paused alert.
    paused_alerts: tuple[tuple[str, str], ...]
    last_poll_at: datetime | None
    last_poll_outcome: str | None
    upload_role_id: int | None
    upload_channel_id: int | None
    log_channel_id: int | None
    #: ``/setup watches``: members' watches run on this server's poll.
    watches_enabled: bool = False
    #: Members' watches in this server (on its key or on their own).
    watches_total: int = 0


class GuildService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: KeyVault,
        access: LaCaleAccess,
        meta_cache: MetaCache,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._access = access
        self._meta = meta_cache
        self._key_listeners: list[KeyListener] = []
        #: Personal keys (``/key``) and which key an action uses: the member's, else ours.
        self.keys = KeyService(sessions, vault, access, meta_cache, guild_key=self.guild_key)

    def add_key_listener(self, listener: KeyListener) -> None:
        self._key_listeners.append(listener)

    def _key_changed(self, guild_id: int, change: str) -> None:
        for listener in self._key_listeners:
            try:
                listener(guild_id, change)
            except Exception:
                log.exception("key listener failed for guild %s", guild_id)

    # -- settings rows --------------------------------------------------------------------
    @staticmethod
    async def _settings(session: AsyncSession, guild_id: int) -> GuildSettings:
        row = await session.get(GuildSettings, guild_id)
        if row is None:
            # Not ``session.add``: another transaction may be creating it right now.
            await insert_missing(session, GuildSettings, guild_id=guild_id)
            row = await session.get(GuildSettings, guild_id)
            if row is None:
                raise RuntimeError("row is set at this point")
        return row

    async def ensure_guild(self, guild_id: int, locale: str | None = None) -> None:
        """Called when Vigie joins or sees a server: remembers its locale for alerts."""
        async with self._sessions.begin() as session:
            row = await self._settings(session, guild_id)
            row.active = True
            if locale:
                row.locale = lang_of(locale)

    async def guild_locale(self, guild_id: int) -> str:
        async with self._sessions() as session:
            row = await session.get(GuildSettings, guild_id)
            return row.locale if row else "fr"

    # -- keys -------------------------------------------------------------------------------
    async def register_guild_key(self, guild_id: int, raw_key: str, user_id: int) -> str:
        api_key, meta = await self.keys.check_key(raw_key)
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await self._settings(session, guild_id)
            old = self._vault.decrypt_or_none(row.api_key_encrypted)
            row.api_key_encrypted = self._vault.encrypt(api_key)
            row.key_fingerprint = self._vault.fingerprint(api_key)
            row.key_registered_by = user_id
            row.key_registered_at = now
            row.key_checked_at = now
            row.key_status = KeyStatus.VALID
            row.key_status_reason = None
            row.active = True
            # Alerts paused for want of a (valid) key resume with the new one.
            await session.execute(
                update(Alert)
                .where(Alert.guild_id == guild_id, Alert.pause_reason.in_(KEY_PAUSE_REASONS))
                .values(paused=False, pause_reason=None)
            )
            fingerprint = row.key_fingerprint
        self.keys.replaced(old, api_key, meta)
        if old and old != api_key:
            self._key_changed(guild_id, "key_replaced")
        return fingerprint

    async def remove_guild_key(self, guild_id: int, *, reason: PauseReason = PauseReason.NO_KEY) -> bool:
        """Forget the server's key; its alerts pause until a new key arrives."""
        async with self._sessions.begin() as session:
            row = await session.get(GuildSettings, guild_id)
            if row is None or row.api_key_encrypted is None:
                return False
            old = self._vault.decrypt_or_none(row.api_key_encrypted)
            row.api_key_encrypted = None
            row.key_fingerprint = None
            row.key_status = KeyStatus.UNCHECKED
            row.key_status_reason = None
            await session.execute(
                update(Alert)
                .where(Alert.guild_id == guild_id, Alert.paused.is_(False))
                .values(paused=True, pause_reason=reason)
            )
        self.keys.replaced(old)
        self._key_changed(guild_id, "key_removed")
        return True

    async def mark_key_refused(self, guild_id: int, reason: str | None = None) -> None:
        """La Cale answered 403 with the server's key: stop using it until ``/setup key``."""
        async with self._sessions.begin() as session:
            row = await session.get(GuildSettings, guild_id)
            if row is None:
                return
            row.key_status = KeyStatus.REFUSED
            row.key_status_reason = reason
            row.key_checked_at = utcnow()
            await session.execute(
                update(Alert)
                .where(Alert.guild_id == guild_id, Alert.paused.is_(False))
                .values(paused=True, pause_reason=PauseReason.KEY_REFUSED)
            )

    async def mark_key_unreadable(self, guild_id: int, token: str) -> bool:
        """The stored key ``token`` cannot be decrypted: say so in the status and pause
        the server's alerts until a key is registered again (or SECRET_KEY_OLD restores
        it). Only if the row still holds ``token`` (a new key may have just arrived).
        Returns whether the row was marked now (False: already marked, or replaced)."""
        async with self._sessions.begin() as session:
            marked = await session.execute(
                update(GuildSettings)
                .where(
                    GuildSettings.guild_id == guild_id,
                    GuildSettings.api_key_encrypted == token,
                    GuildSettings.key_status != KeyStatus.UNREADABLE,
                )
                .values(key_status=KeyStatus.UNREADABLE, key_status_reason="KeyDecryptError", key_checked_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if not rows_changed(marked):
                return False
            await session.execute(
                update(Alert)
                .where(Alert.guild_id == guild_id, Alert.paused.is_(False))
                .values(paused=True, pause_reason=PauseReason.KEY_UNREADABLE)
            )
        log.warning(
            "guild %s: its stored La Cale key cannot be decrypted with SECRET_KEY (nor SECRET_KEY_OLD); "
            "its alerts are paused until the key is registered again or the previous SECRET_KEY is set as SECRET_KEY_OLD",
            guild_id,
        )
        return True

    async def check_stored_keys(self) -> StoredKeysReport:
        """At start: re-encrypt under SECRET_KEY every key still written under a
        SECRET_KEY_OLD value, and mark every server key that no secret reads.

        Done once at start rather than on read: a key that is rarely read (a member who
        no longer searches) would otherwise stay under the old secret for ever, and
        SECRET_KEY_OLD could never be dropped; after one start, it can. Each row is
        written only if it still holds what was read (another process may be rotating
        it, or a member registering a new key, at the same moment)."""
        async with self._sessions() as session:
            guild_rows = (
                await session.execute(
                    select(GuildSettings.guild_id, GuildSettings.api_key_encrypted, GuildSettings.key_status).where(
                        GuildSettings.api_key_encrypted.is_not(None)
                    )
                )
            ).all()
        rotated = 0
        unreadable_guilds: list[int] = []
        restored: list[int] = []
        for guild_id, token, key_status in guild_rows:
            if token is None:  # the query asked for rows with a key
                continue
            try:
                new_token = self._vault.rotate(token)
            except KeyDecryptError:
                unreadable_guilds.append(guild_id)
                await self.mark_key_unreadable(guild_id, token)
                continue
            if new_token is None and key_status != KeyStatus.UNREADABLE:
                continue
            values: dict[str, object] = {}
            if new_token is not None:
                values.update(
                    api_key_encrypted=new_token, key_fingerprint=self._vault.fingerprint(self._vault.decrypt(new_token))
                )
            if key_status == KeyStatus.UNREADABLE:
                # Readable again: La Cale's opinion of it is unknown until the next use.
                values.update(key_status=KeyStatus.UNCHECKED, key_status_reason=None)
            async with self._sessions.begin() as session:
                done = await session.execute(
                    update(GuildSettings)
                    .where(GuildSettings.guild_id == guild_id, GuildSettings.api_key_encrypted == token)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if rows_changed(done) and key_status == KeyStatus.UNREADABLE:
                    await session.execute(
                        update(Alert)
                        .where(Alert.guild_id == guild_id, Alert.pause_reason == PauseReason.KEY_UNREADABLE)
                        .values(paused=False, pause_reason=None)
                    )
                    restored.append(guild_id)
            rotated += bool(rows_changed(done) and new_token is not None)
        members = await self.keys.rotate_member_keys()
        return StoredKeysReport(
            rotated + members.rotated, tuple(unreadable_guilds), members.unreadable, tuple(restored)
        )

    async def forget_guild(self, guild_id: int) -> None:
        """Vigie left the server: erase its key at once and pause its alerts."""
        self._key_changed(guild_id, "guild_left")
        await self.remove_guild_key(guild_id)
        async with self._sessions.begin() as session:
            row = await session.get(GuildSettings, guild_id)
            if row is not None:
                row.active = False

    async def guild_key(self, guild_id: int) -> ResolvedKey | None:
        """The server's usable key; ``None`` when it has none (or La Cale refused it).
        Raises :class:`KeyUnreadable` when one is stored but cannot be decrypted."""
        async with self._sessions() as session:
            row = await session.get(GuildSettings, guild_id)
        if row is None or not row.api_key_encrypted or row.key_status == KeyStatus.REFUSED:
            return None
        try:
            api_key = self._vault.decrypt(row.api_key_encrypted)
        except KeyDecryptError:
            if row.key_status != KeyStatus.UNREADABLE:
                await self.mark_key_unreadable(guild_id, row.api_key_encrypted)
            raise KeyUnreadable("error.key_unreadable_guild", fingerprint=row.key_fingerprint or "?") from None
        return ResolvedKey(api_key, row.key_fingerprint or self._vault.fingerprint(api_key), "guild")

    # -- other settings ---------------------------------------------------------------------
    async def set_upload_role(self, guild_id: int, role_id: int | None) -> None:
        async with self._sessions.begin() as session:
            (await self._settings(session, guild_id)).upload_role_id = role_id

    async def set_upload_channel(self, guild_id: int, channel_id: int | None) -> None:
        async with self._sessions.begin() as session:
            (await self._settings(session, guild_id)).upload_channel_id = channel_id

    async def set_watches(self, guild_id: int, enabled: bool) -> None:
        """``/setup watches on|off``: members' watches run on this server's poll, or not
        (their watches stay; they run again when turned back on)."""
        async with self._sessions.begin() as session:
            (await self._settings(session, guild_id)).watches_enabled = enabled

    async def set_log_channel(self, guild_id: int, channel_id: int | None) -> None:
        async with self._sessions.begin() as session:
            (await self._settings(session, guild_id)).log_channel_id = channel_id

    async def settings(self, guild_id: int) -> GuildSettings:
        async with self._sessions.begin() as session:
            return await self._settings(session, guild_id)

    async def status(self, guild_id: int) -> GuildStatus:
        async with self._sessions() as session:
            row = await session.get(GuildSettings, guild_id)
            total = await session.scalar(select(func.count()).select_from(Alert).where(Alert.guild_id == guild_id))
            watches = await session.scalar(select(func.count()).select_from(Watch).where(Watch.guild_id == guild_id))
            paused_rows = (
                await session.execute(
                    select(Alert.name, Alert.pause_reason)
                    .where(Alert.guild_id == guild_id, Alert.paused.is_(True))
                    .order_by(Alert.name)
                )
            ).all()
        row = row or GuildSettings(guild_id=guild_id, key_status=KeyStatus.UNCHECKED)
        return GuildStatus(
            has_key=bool(row.api_key_encrypted),
            fingerprint=row.key_fingerprint,
            key_status=row.key_status or KeyStatus.UNCHECKED,
            key_status_reason=row.key_status_reason,
            registered_by=row.key_registered_by,
            registered_at=row.key_registered_at,
            checked_at=row.key_checked_at,
            alerts_total=total or 0,
            alerts_paused=len(paused_rows),
            paused_alerts=tuple((name, reason or "user") for name, reason in paused_rows),
            last_poll_at=row.last_poll_at,
            last_poll_outcome=row.last_poll_outcome,
            upload_role_id=row.upload_role_id,
            upload_channel_id=row.upload_channel_id,
            log_channel_id=row.log_channel_id,
            watches_enabled=bool(row.watches_enabled),
            watches_total=watches or 0,
        )

    async def recheck_guild_key(self, guild_id: int) -> str:
        """Call ``/meta`` with the stored key and record the outcome (for /setup status)."""
        async with self._sessions() as session:
            row = await session.get(GuildSettings, guild_id)
        if row is None or not row.api_key_encrypted:
            return KeyStatus.UNCHECKED
        try:
            key = self._vault.decrypt(row.api_key_encrypted)
        except KeyDecryptError:
            await self.mark_key_unreadable(guild_id, row.api_key_encrypted)
            return KeyStatus.UNREADABLE
        try:
            meta = await self._access.client(key).meta()
        except AuthError as exc:
            await self.mark_key_refused(guild_id, type(exc).__name__)
            return KeyStatus.REFUSED
        self._meta.put(key, meta)
        async with self._sessions.begin() as session:
            row = await self._settings(session, guild_id)
            row.key_status = KeyStatus.VALID
            row.key_status_reason = None
            row.key_checked_at = utcnow()
            await session.execute(
                update(Alert)
                .where(
                    Alert.guild_id == guild_id,
                    Alert.pause_reason.in_((PauseReason.KEY_REFUSED, PauseReason.KEY_UNREADABLE)),
                )
                .values(paused=False, pause_reason=None)
            )
        return KeyStatus.VALID
