"""Personal La Cale keys (``/key``) and which key an action runs with.

A member's own key comes first for everything they do (search, download, upload, /meta);
the server's key (``/setup key``, :mod:`bot.services.guilds`) otherwise. Keys are
checked with La Cale before anything is stored, stored only through the vault
(:mod:`bot.services.vault`) and shown only as a fingerprint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.locks import insert_missing
from bot.db.models import MemberKey, Watch
from bot.db.rows import rows_changed
from bot.db.types import utcnow
from bot.errors import KeyUnreadable, NoKey, UserError
from bot.lacale.models import Meta
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.vault import KeyDecryptError, KeyVault, normalize_api_key
from bot.states import WatchPause


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    """A usable key and whose it is. ``api_key`` must never be shown; ``fingerprint`` may."""

    api_key: str
    fingerprint: str
    owner: Literal["member", "guild"]


#: The server's usable key, or ``None`` (:meth:`bot.services.guilds.GuildService.guild_key`).
GuildKeyLookup = Callable[[int], Awaitable[ResolvedKey | None]]


@dataclass(frozen=True, slots=True)
class MemberKeysRotation:
    """What :meth:`KeyService.rotate_member_keys` did at start."""

    #: Personal keys written under a SECRET_KEY_OLD value, now under SECRET_KEY.
    rotated: int
    #: Personal keys no secret reads (their owners are told when they use them).
    unreadable: int


class KeyService:
    """Members' personal keys, and the choice between theirs and the server's."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: KeyVault,
        access: LaCaleAccess,
        meta_cache: MetaCache,
        guild_key: GuildKeyLookup,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._access = access
        self._meta = meta_cache
        self._guild_key = guild_key

    async def check_key(self, raw_key: str) -> tuple[str, Meta]:
        """Normalise a typed key and prove La Cale accepts it (``/meta``).

        Raises ``UserError`` for a malformed key and the client's typed errors otherwise
        (a refused key is ``KeyRefused``): nothing is saved unless this returns.
        """
        api_key = normalize_api_key(raw_key)
        if api_key is None:
            raise UserError("error.key_malformed")
        meta = await self._access.client(api_key).meta()
        return api_key, meta

    def replaced(self, old: str | None, new: str | None = None, new_meta: Meta | None = None) -> None:
        """A stored key changed from ``old`` to ``new`` (``None``: removed): what was
        cached or paced under the old one goes, the new one starts with its ``/meta``."""
        if old and old != new:
            self._meta.drop(old)
            self._access.limiters.forget(old)
        if new and new_meta is not None:
            self._meta.put(new, new_meta)

    async def member_key(self, user_id: int) -> ResolvedKey | None:
        """The member's personal key; ``None`` when they registered none. Raises
        :class:`KeyUnreadable` when one is stored but cannot be decrypted: their actions
        must not silently fall back on the server's key (another account)."""
        async with self._sessions() as session:
            row = await session.get(MemberKey, user_id)
        if row is None:
            return None
        try:
            api_key = self._vault.decrypt(row.api_key_encrypted)
        except KeyDecryptError:
            raise KeyUnreadable("error.key_unreadable_member", fingerprint=row.key_fingerprint or "?") from None
        return ResolvedKey(api_key, row.key_fingerprint, "member")

    async def resolve_key(self, guild_id: int | None, user_id: int) -> ResolvedKey:
        """The member's personal key first, then the server's; ``NoKey`` when neither,
        ``KeyUnreadable`` when the one to use is stored but cannot be decrypted."""
        key = await self.member_key(user_id)
        if key is None and guild_id is not None:
            key = await self._guild_key(guild_id)
        if key is None:
            raise NoKey("error.no_key" if guild_id is not None else "error.no_key_dm")
        return key

    async def set_member_key(self, user_id: int, raw_key: str, guild_id: int | None) -> str:
        """``/key set``: check the key with La Cale, store it encrypted; its fingerprint."""
        api_key, meta = await self.check_key(raw_key)
        async with self._sessions.begin() as session:
            # Two submissions of one member at once both find no row: the insert that does
            # nothing when the row exists (and the row lock on PostgreSQL) makes the second
            # one replace the first's key instead of failing.
            await insert_missing(session, MemberKey, user_id=user_id, api_key_encrypted="", key_fingerprint="")
            row = await session.get(MemberKey, user_id, with_for_update=True)
            if row is None:
                raise RuntimeError("row is set at this point")
            old = self._vault.decrypt_or_none(row.api_key_encrypted)
            row.api_key_encrypted = self._vault.encrypt(api_key)
            row.key_fingerprint = self._vault.fingerprint(api_key)
            row.registered_at = utcnow()
            row.registered_in_guild = guild_id
            fingerprint = row.key_fingerprint
        self.replaced(old, api_key, meta)
        return fingerprint

    async def remove_member_key(self, user_id: int) -> bool:
        """``/key remove``: whether there was a key to forget."""
        async with self._sessions.begin() as session:
            row = await session.get(MemberKey, user_id)
            if row is None:
                return False
            old = self._vault.decrypt_or_none(row.api_key_encrypted)
            await session.delete(row)
            # The watches that ran on this key stop with it (told at once: the answer to
            # /key remove is followed by the notice); /watch resume moves them to the
            # server's poll where it carries watches.
            await session.execute(
                update(Watch)
                .where(Watch.user_id == user_id, Watch.personal.is_(True), Watch.paused.is_(False))
                .values(paused=True, pause_reason=WatchPause.NO_PERSONAL_KEY, notice_pending=True)
                .execution_options(synchronize_session=False)
            )
        self.replaced(old)
        return True

    async def rotate_member_keys(self) -> MemberKeysRotation:
        """At start (with the servers' keys, :meth:`GuildService.check_stored_keys`):
        re-encrypt under SECRET_KEY every personal key still under a SECRET_KEY_OLD value.
        A row is written only if it still holds what was read (its owner may be
        registering a new key at the same moment)."""
        async with self._sessions() as session:
            member_rows = (await session.execute(select(MemberKey.user_id, MemberKey.api_key_encrypted))).all()
        rotated = unreadable = 0
        for user_id, token in member_rows:
            try:
                new_token = self._vault.rotate(token)
            except KeyDecryptError:
                unreadable += 1
                continue
            if new_token is None:
                continue
            async with self._sessions.begin() as session:
                done = await session.execute(
                    update(MemberKey)
                    .where(MemberKey.user_id == user_id, MemberKey.api_key_encrypted == token)
                    .values(
                        api_key_encrypted=new_token,
                        key_fingerprint=self._vault.fingerprint(self._vault.decrypt(new_token)),
                    )
                    .execution_options(synchronize_session=False)
                )
            rotated += bool(rows_changed(done))
        return MemberKeysRotation(rotated, unreadable)
