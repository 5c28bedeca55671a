"""The ownership predicate: the SQL form agrees with Discord's rule on SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import BigInteger, cast, literal, select
from sqlalchemy.ext.asyncio import create_async_engine

from bot.cluster.ownership import Ownership
from tests.support.postgres import postgres_url  # noqa: F401  (fixture)

LAYOUTS = [Ownership(4, 2, 0), Ownership(4, 2, 1), Ownership(6, 3, 2), Ownership(5, 2, 1), Ownership(1, 1, 0)]


def snowflakes(n: int) -> list[int]:
    rng = random.Random(7)
    # Real snowflakes: positive, up to 63 bits; small ones too (tests use them).
    return [rng.getrandbits(rng.choice((23, 40, 62))) | 1 for _ in range(n)] + [0, 1 << 22, (1 << 63) - 1]


def test_shards_and_owned_servers_follow_discords_rule() -> None:
    o = Ownership(shard_count=4, cluster_count=2, slot=1)
    assert o.shard_ids == (1, 3)
    for guild_id in snowflakes(200):
        assert o.owns(guild_id) == (((guild_id >> 22) % 4) in (1, 3))
    assert Ownership(4, 2, 0).owns(None) and not o.owns(None)  # DMs ride shard 0
    assert Ownership().everything and Ownership().owns(12345)


@pytest.mark.parametrize(
    "bad", [dict(shard_count=0), dict(cluster_count=3, shard_count=2), dict(cluster_count=2, shard_count=2, slot=2)]
)
def test_impossible_layouts_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Ownership(**bad)


async def _agree(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            for layout in LAYOUTS:
                ids = snowflakes(60)
                rows = (await conn.execute(select(*[layout.owns_sql(cast(literal(g), BigInteger)) for g in ids]))).one()
                assert [bool(r) for r in rows] == [layout.owns(g) for g in ids], layout
    finally:
        await engine.dispose()


async def test_sql_predicate_agrees_on_sqlite() -> None:
    await _agree("sqlite+aiosqlite://")


async def test_sql_predicate_agrees_on_postgres(postgres_url: str) -> None:
    await _agree(postgres_url)
