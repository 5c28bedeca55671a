"""The same storage code on PostgreSQL: migrations, and the services' queries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import load_settings
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import head_revision, upgrade_database
from bot.db.models import Base
from bot.services.guilds import GuildService
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.vault import KeyVault
from tests.fakes.lacale import FakeLaCale
from tests.support.postgres import empty_public_schema, postgres_url  # noqa: F401  (fixture)


@pytest.fixture
async def pg_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url)
    await empty_public_schema(engine)
    yield engine
    await engine.dispose()


async def test_migrations_on_postgres(pg_engine: AsyncEngine) -> None:
    assert await upgrade_database(pg_engine) == (None, head_revision())
    assert await upgrade_database(pg_engine) == (head_revision(), head_revision())

    def diff(conn):  # type: ignore[no-untyped-def]
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)

    async with pg_engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_guild_service_on_postgres(pg_engine: AsyncEngine) -> None:
    await upgrade_database(pg_engine)
    settings = load_settings(discord_token="t", secret_key="s" * 32)
    async with FakeLaCale() as lacale, aiohttp.ClientSession() as session:
        access = LaCaleAccess(session, lacale.base_url)
        service = GuildService(create_sessionmaker(pg_engine), KeyVault(settings.fernet_key), access, MetaCache(access))
        big_id = 1_234_567_890_123_456_789  # Discord ids need 64 bits
        fingerprint = await service.register_guild_key(big_id, lacale.default_key, big_id + 1)
        key = await service.keys.resolve_key(big_id, 42)
        assert key.api_key == lacale.default_key and key.fingerprint == fingerprint and key.owner == "guild"
        status = await service.status(big_id)
        assert status.has_key and status.registered_by == big_id + 1 and status.registered_at is not None
        assert status.registered_at.tzinfo is not None
        await service.forget_guild(big_id)
        assert await service.guild_key(big_id) is None


async def test_stored_keys_rotation_and_unreadable_on_postgres(pg_engine: AsyncEngine) -> None:
    """The start-up pass on PostgreSQL: keys under SECRET_KEY_OLD re-encrypted (guarded
    updates), keys nobody can read marked and their alerts paused, then restored."""
    from sqlalchemy import select

    from bot.db.models import Alert, GuildSettings, KeyStatus, MemberKey
    from bot.errors import KeyUnreadable

    await upgrade_database(pg_engine)
    sessions = create_sessionmaker(pg_engine)
    old = load_settings(discord_token="t", secret_key="o" * 32)
    new = load_settings(discord_token="t", secret_key="n" * 32)
    rotating = load_settings(discord_token="t", secret_key="n" * 32, secret_key_old="o" * 32)
    async with FakeLaCale() as lacale, aiohttp.ClientSession() as session:
        access = LaCaleAccess(session, lacale.base_url)

        def service(settings) -> GuildService:  # type: ignore[no-untyped-def]
            return GuildService(
                sessions, KeyVault(settings.fernet_key, settings.old_fernet_keys), access, MetaCache(access)
            )

        guild_id, user_id = 1_234_567_890_123_456_789, 987_654_321_987_654_321
        personal = lacale.add_key()
        await service(old).register_guild_key(guild_id, lacale.default_key, 1)
        await service(old).keys.set_member_key(user_id, personal, guild_id)
        async with sessions.begin() as s:
            s.add(Alert(guild_id=guild_id, name="dune", criteria={"query": "dune"}, channel_id=5))

        # SECRET_KEY changed, no SECRET_KEY_OLD: unreadable, alerts paused.
        report = await service(new).check_stored_keys()
        assert report.unreadable_guilds == (guild_id,) and report.unreadable_members == 1 and report.rotated == 0
        with pytest.raises(KeyUnreadable):
            await service(new).keys.resolve_key(guild_id, 42)
        async with sessions() as s:
            assert (await s.get(GuildSettings, guild_id)).key_status == KeyStatus.UNREADABLE  # type: ignore[union-attr]
            assert (await s.execute(select(Alert.paused, Alert.pause_reason))).one() == (True, "key_unreadable")

        # SECRET_KEY_OLD given: readable, re-encrypted, alerts resumed.
        report = await service(rotating).check_stored_keys()
        assert report.rotated == 2 and report.restored_guilds == (guild_id,) and not report.unreadable_guilds
        async with sessions() as s:
            assert (await s.execute(select(Alert.paused, Alert.pause_reason))).one() == (False, None)
            member_token = (await s.get(MemberKey, user_id)).api_key_encrypted  # type: ignore[union-attr]
        assert KeyVault(new.fernet_key).decrypt(member_token) == personal
        assert (await service(new).keys.resolve_key(guild_id, 42)).api_key == lacale.default_key
        assert (await service(new).keys.resolve_key(guild_id, user_id)).api_key == personal
        # A second start has nothing left to do.
        assert await service(rotating).check_stored_keys() == type(report)(0, (), 0, ())
