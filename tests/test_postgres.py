"""The same storage code on PostgreSQL: migrations, and the services' queries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import load_settings
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import head_revision, upgrade_database
from bot.db.models import Base
from bot.services.guilds import GuildService
from bot.services.keys import KeyVault
from bot.services.lacale_access import LaCaleAccess, MetaCache
from tests.fakes.lacale import FakeLaCale
from tests.postgres import postgres_url  # noqa: F401  (fixture)


@pytest.fixture
async def pg_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:  # noqa: F811
    engine = create_engine(postgres_url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
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
        key = await service.resolve_key(big_id, 42)
        assert key.api_key == lacale.default_key and key.fingerprint == fingerprint and key.owner == "guild"
        status = await service.status(big_id)
        assert status.has_key and status.registered_by == big_id + 1 and status.registered_at is not None
        assert status.registered_at.tzinfo is not None
        await service.forget_guild(big_id)
        assert await service.guild_key(big_id) is None
