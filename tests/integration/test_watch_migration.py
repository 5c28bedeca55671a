"""Revision 0005 (watches) up and down on SQLite and PostgreSQL: existing servers keep
watches off, existing deliveries are kept, a second DM of one release to one member is
refused by the database, and going back drops only what the revision added."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_engine
from tests.support.migrations import alembic_step
from tests.support.postgres import empty_public_schema, postgres_url  # noqa: F401  (fixture)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
#: The revision before the watches, and theirs.
BEFORE, WATCHES = "0004", "0005"


def _tables(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(
        name,
        *(sa.column(c, sa.JSON() if c in ("release", "criteria", "categories", "exclude") else None) for c in columns),
    )


GUILDS = _table("guild_settings", "guild_id", "key_status", "locale", "active", "created_at", "updated_at")
ALERTS = _table("alerts", "id", "guild_id", "name", "channel_id", "paused", "created_at", "criteria")
#: An alert's criteria as revision BEFORE stores them.
ALERT_CRITERIA = {"criteria": {}}
DELIVERY_COLUMNS = ("guild_id", "channel_id", "info_hash", "release", "status", "created_at", "attempts")


async def _round_trip(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(alembic_step(BEFORE))
        await conn.execute(
            sa.insert(GUILDS).values(
                guild_id=1, key_status="valid", locale="fr", active=True, created_at=NOW, updated_at=NOW
            )
        )
        await conn.execute(
            sa.insert(ALERTS).values(
                id=1, guild_id=1, name="a", channel_id=10, paused=False, created_at=NOW, **ALERT_CRITERIA
            )
        )
        old = _table("deliveries", "alert_id", *DELIVERY_COLUMNS)
        await conn.execute(
            sa.insert(old).values(
                alert_id=1, guild_id=1, channel_id=10, info_hash="a" * 40, release={}, status="delivered",
                created_at=NOW, attempts=1,
            )
        )  # fmt: skip

    async with engine.begin() as conn:
        await conn.run_sync(alembic_step(WATCHES))
        settings = _table("guild_settings", "guild_id", "watches_enabled")
        assert (await conn.execute(sa.select(settings.c.watches_enabled))).scalars().all() == [False]
        watches = _table(
            "watches", "id", "guild_id", "user_id", "name", "criteria", "personal", "locale", "paused",
            "notice_pending", "created_at",
        )  # fmt: skip
        await conn.execute(
            sa.insert(watches).values(
                id=1, guild_id=1, user_id=7, name="dune", criteria={"query": "dune"}, personal=False, locale="fr",
                paused=False, notice_pending=False, created_at=NOW,
            )
        )  # fmt: skip
        new = _table("deliveries", "alert_id", "watch_id", "user_id", *DELIVERY_COLUMNS)
        dm = dict(
            watch_id=1, user_id=7, guild_id=1, channel_id=0, info_hash="a" * 40, release={}, status="pending",
            created_at=NOW, attempts=0,
        )  # fmt: skip
        await conn.execute(sa.insert(new).values(**dm))
        rows = (await conn.execute(sa.select(new.c.alert_id, new.c.user_id).order_by(new.c.alert_id))).all()
        assert sorted(rows, key=str) == sorted([(1, None), (None, 7)], key=str)

    with pytest.raises(IntegrityError):  # one DM of a release per member
        async with engine.begin() as conn:
            await conn.execute(sa.insert(new).values(**dm))

    async with engine.begin() as conn:
        await conn.run_sync(alembic_step(BEFORE, down=True))
        assert "watches" not in await conn.run_sync(_tables)
        back = _table("deliveries", "alert_id", "info_hash", "status")
        assert (await conn.execute(sa.select(back))).all() == [(1, "a" * 40, "delivered")]

    async with engine.begin() as conn:  # and up again, as a deploy after a rollback does
        await conn.run_sync(alembic_step("head"))


async def test_watches_migration_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'vigie.sqlite3'}")
    try:
        await _round_trip(engine)
    finally:
        await engine.dispose()


async def test_watches_migration_on_postgres(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        await empty_public_schema(engine)
        await _round_trip(engine)
    finally:
        await engine.dispose()
