"""Revision 0004 folds an alert's seven criteria columns into one JSON column and back,
keeping every alert's criteria, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.criteria import Criteria
from bot.db.engine import create_engine
from tests.support.migrations import alembic_step
from tests.support.postgres import empty_public_schema, postgres_url  # noqa: F401  (fixture)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
#: Alerts as revision 0003 stored them, and the criteria each must read as afterwards.
OLD: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {
            "query": "dune",
            "categories": ["films", "series"],
            "tmdb_id": None,
            "min_size": 700_000_000,
            "max_size": 40_000_000_000,
            "min_seeders": 0,
            "exclude": ["cam", "hd ts"],
        },
        {
            "query": "dune",
            "categories": ["films", "series"],
            "min_size": 700_000_000,
            "max_size": 40_000_000_000,
            "min_seeders": 0,
            "exclude": ["cam", "hd ts"],
        },
    ),
    (
        {
            "query": None,
            "categories": [],
            "tmdb_id": "438631",
            "min_size": None,
            "max_size": None,
            "min_seeders": None,
            "exclude": [],
        },
        {"tmdb_id": "438631"},
    ),
    (
        {
            "query": None,
            "categories": [],
            "tmdb_id": None,
            "min_size": None,
            "max_size": None,
            "min_seeders": None,
            "exclude": [],
        },
        {},
    ),
]
CRITERIA_COLUMNS = ("query", "categories", "tmdb_id", "min_size", "max_size", "min_seeders", "exclude")


def _columns(connection: Connection) -> set[str]:
    return {c["name"] for c in sa.inspect(connection).get_columns("alerts")}


async def _round_trip(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(alembic_step("0003"))
        guilds = sa.table(
            "guild_settings",
            *(sa.column(n) for n in ("guild_id", "key_status", "locale", "active", "created_at", "updated_at")),
        )
        await conn.execute(
            sa.insert(guilds).values(
                guild_id=1, key_status="valid", locale="fr", active=True, created_at=NOW, updated_at=NOW
            )
        )
        old_alerts = sa.table(
            "alerts",
            *(sa.column(n) for n in ("id", "guild_id", "name", "channel_id", "paused", "created_at", "pause_reason")),
            *(sa.column(n, sa.JSON() if n in ("categories", "exclude") else None) for n in CRITERIA_COLUMNS),
        )
        for number, (columns, _) in enumerate(OLD, start=1):
            await conn.execute(
                sa.insert(old_alerts).values(
                    id=number,
                    guild_id=1,
                    name=f"a{number}",
                    channel_id=10 + number,
                    paused=number == 2,
                    pause_reason="user" if number == 2 else None,
                    created_at=NOW,
                    **columns,
                )
            )

    async with engine.begin() as conn:
        await conn.run_sync(alembic_step("0004"))
        assert not set(CRITERIA_COLUMNS) & await conn.run_sync(_columns)
        new_alerts = sa.table(
            "alerts", sa.column("id"), sa.column("name"), sa.column("channel_id"), sa.column("paused"),
            sa.column("criteria", sa.JSON()),
        )  # fmt: skip
        rows = (await conn.execute(sa.select(new_alerts).order_by(new_alerts.c.id))).all()
    assert [(r.name, r.channel_id, bool(r.paused)) for r in rows] == [
        ("a1", 11, False),
        ("a2", 12, True),
        ("a3", 13, False),
    ]
    assert [r.criteria for r in rows] == [expected for _, expected in OLD]
    # What the bot reads from them.
    first = Criteria.from_json(rows[0].criteria)
    assert first == Criteria(
        query="dune",
        categories=("films", "series"),
        min_size=700_000_000,
        max_size=40_000_000_000,
        min_seeders=0,
        exclude=("cam", "hd ts"),
    )
    assert Criteria.from_json(rows[1].criteria) == Criteria(tmdb_id="438631")
    assert Criteria.from_json(rows[2].criteria) == Criteria()

    async with engine.begin() as conn:
        await conn.run_sync(alembic_step("0003", down=True))
        assert "criteria" not in await conn.run_sync(_columns)
        back = sa.table(
            "alerts",
            sa.column("id"),
            *(sa.column(n, sa.JSON() if n in ("categories", "exclude") else None) for n in CRITERIA_COLUMNS),
        )
        restored = (await conn.execute(sa.select(back).order_by(back.c.id))).all()
    assert [{n: getattr(r, n) for n in CRITERIA_COLUMNS} for r in restored] == [columns for columns, _ in OLD]

    async with engine.begin() as conn:  # and up again, as a deploy after a rollback does
        await conn.run_sync(alembic_step("head"))


async def test_criteria_fold_into_json_and_back_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'vigie.sqlite3'}")
    try:
        await _round_trip(engine)
    finally:
        await engine.dispose()


async def test_criteria_fold_into_json_and_back_on_postgres(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        await empty_public_schema(engine)
        await _round_trip(engine)
    finally:
        await engine.dispose()
