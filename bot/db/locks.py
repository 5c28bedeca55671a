"""Serialising writers of one server's rows, across processes, on SQLite and PostgreSQL.

A limit checked in one statement and enforced by a later one (at most 50 alerts per
server, one alert per name whatever its case) holds only if no other transaction can
do the same check-then-write in between. An ``asyncio.Lock`` would cover one process
only; several processes share PostgreSQL, so the lock is the database's own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from bot.db.models import GuildSettings


async def insert_missing(session: AsyncSession, model: type[DeclarativeBase], **values: Any) -> None:
    """``INSERT … ON CONFLICT DO NOTHING``: the row exists afterwards, whoever created it.

    "Read, and add the row if there is none" lets two transactions both add it, and the
    second fails on the primary key (two ``/key set`` of one member at once, a server
    joined while its admin runs ``/setup``); this cannot. Column defaults apply to what
    ``values`` leaves out."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        await session.execute(sqlite_insert(model).values(**values).on_conflict_do_nothing())
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        await session.execute(pg_insert(model).values(**values).on_conflict_do_nothing())
    else:
        raise NotImplementedError(f"insert_missing is not written for {dialect}")


async def lock_guild(session: AsyncSession, guild_id: int) -> None:
    """Hold the server's ``guild_settings`` row until the session's transaction ends;
    another transaction calling this for the same server waits until then. Reads made
    after it see everything the previous holder committed.

    Call it as the **first statement** of the transaction (``sessions.begin()``):

    - SQLite has a single writer. The row is written (an insert that does nothing when
      the row exists), so the transaction starts as a writer and takes the database's
      write lock at once (waiting up to ``busy_timeout`` for the current writer); its
      reads then start from the newest commit. A read made before it in the same
      transaction could leave it on an older snapshot, which SQLite refuses to upgrade.
    - PostgreSQL: the row is created if missing (so there is always a row to lock), then
      locked ``FOR NO KEY UPDATE``: it excludes another holder and any update of the row,
      but not the key-share locks taken by inserts of rows referencing the server. Under
      READ COMMITTED every later statement sees what the previous holder committed.
    """
    await insert_missing(session, GuildSettings, guild_id=guild_id)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            select(GuildSettings.guild_id).where(GuildSettings.guild_id == guild_id).with_for_update(key_share=True)
        )
