"""The migrations create exactly the schema the models describe, idempotently."""

import sqlite3

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.db.engine import create_engine
from bot.db.migrate import head_revision, upgrade_database
from bot.db.models import Base


async def test_upgrade_twice_and_matches_models(tmp_path) -> None:
    path = tmp_path / "nested" / "vigie.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        before, after = await upgrade_database(engine)
        assert before is None and after == head_revision()
        assert await upgrade_database(engine) == (after, after)

        def diff(conn):  # type: ignore[no-untyped-def]
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()
    con = sqlite3.connect(path)
    assert con.execute("pragma journal_mode").fetchone()[0] == "wal"
