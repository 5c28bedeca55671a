"""Alembic revisions run from a test's own connection (``conn.run_sync(alembic_step(...))``),
so a migration test can stop at any revision, write rows as that schema had them, and go
on up or down."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from sqlalchemy.engine import Connection

from bot.db.migrate import alembic_config


def alembic_step(revision: str, *, down: bool = False) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)

    return run
