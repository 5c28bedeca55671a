"""Upgrading a SQLite database keeps every row: a batch migration copies a table and drops
the original, which with foreign keys on would cascade to the rows referencing it (a copy
of ``alerts`` deleting every delivery, pending posts included)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bot.db.engine import create_engine
from bot.db.migrate import head_revision, upgrade_database
from tests.support.migrations import alembic_step


async def test_upgrade_from_the_first_alert_schema_keeps_alerts_and_deliveries(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'vigie.sqlite3'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(alembic_step("0003"))
            await conn.execute(
                sa.text(
                    "insert into guild_settings (guild_id, key_status, locale, active, created_at, updated_at) "
                    "values (1, 'valid', 'fr', 1, '2026-12-01', '2026-12-01')"
                )
            )
            await conn.execute(
                sa.text(
                    "insert into alerts (id, guild_id, name, channel_id, paused, created_at, categories, exclude) "
                    "values (1, 1, 'a', 10, 0, '2026-12-01', '[]', '[]')"
                )
            )
            await conn.execute(
                sa.text(
                    "insert into deliveries (alert_id, guild_id, channel_id, info_hash, release, status, created_at, "
                    "attempts) values (1, 1, 10, 'aa', '{}', 'pending', '2026-12-01', 0)"
                )
            )
        assert await upgrade_database(engine) == ("0003", head_revision())
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("select count(*) from alerts"))).scalar() == 1
            assert (await conn.execute(sa.text("select status from deliveries"))).scalars().all() == ["pending"]
            # Foreign keys are enforced again once the migration is over.
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await engine.dispose()
