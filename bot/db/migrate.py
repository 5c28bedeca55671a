"""Apply Alembic migrations from inside the process (``vigie db upgrade`` and bot start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations
from bot.db.advisory import NS_MIGRATE, xact_lock

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_database(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """Upgrade to head; returns (revision before, revision after).

    Safe when every process starts at the same second: on PostgreSQL the whole upgrade
    runs under one transaction lock, so one process migrates while the others wait for
    its commit, then find the database at head and have nothing to do (without it, two
    ``CREATE TABLE`` of one first start race and one fails on a unique violation). The
    current revision is read after the lock, never before."""
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration on SQLite copies a table and drops the original: with
            # foreign keys on, the drop cascades to every row that references it (a copy
            # of ``alerts`` would delete every delivery). Off for the migration only, set
            # before its transaction starts (SQLite ignores it inside one).
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            async with connection.begin():
                await xact_lock(connection, NS_MIGRATE)
                before = await connection.run_sync(_current)
                await connection.run_sync(_upgrade)
                after = await connection.run_sync(_current)
        finally:
            if sqlite:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()
    return before, after


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _pending(connection: Connection) -> tuple[str | None, list[str]]:
    current = _current(connection)
    return current, pending_after(current)


def pending_after(current: str | None) -> list[str]:
    """Revision ids an upgrade from ``current`` would apply, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.iterate_revisions("heads", current)))]


async def pending_migrations(engine: AsyncEngine) -> tuple[str | None, list[str]]:
    """(current revision, migrations not applied yet) without changing anything:
    ``vigie check`` reports them, the bot's start or ``vigie db upgrade`` applies them."""
    async with engine.connect() as connection:
        return await connection.run_sync(_pending)
