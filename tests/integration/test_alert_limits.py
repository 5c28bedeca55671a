"""Limits hold when members act at once (issue 9, item 4), on SQLite and on PostgreSQL:
the cap of ``ALERTS_PER_GUILD_MAX`` and the case-insensitive uniqueness of alert names
are checked in the transaction that writes, under a lock on the server's row; a member's
personal key and a server's settings row, created by two requests at once, are created
once and neither request fails."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.criteria import Criteria
from bot.db.models import Alert
from bot.errors import UserError
from bot.limits import ALERTS_PER_GUILD_MAX
from bot.services.alerts.service import AlertSpec
from tests.fakes.lacale import FakeLaCale
from tests.support.alert_harness import Pipeline, lacale, postgres_pipeline, sqlite_pipeline  # noqa: F401  (lacale: fixture)
from tests.support.postgres import postgres_url  # noqa: F401  (fixture)

GUILD = 111_111_111_111_111_111
CHANNEL = 222_222_222_222_222_222


async def fill(p: Pipeline, count: int) -> None:
    """``count`` alerts written directly (creating each through the service is slow)."""
    async with p.sessions.begin() as session:
        for i in range(count):
            session.add(Alert(guild_id=GUILD, name=f"existing {i}", criteria={"query": "x"}, channel_id=CHANNEL))


async def alert_names(p: Pipeline) -> list[str]:
    async with p.sessions() as session:
        return list((await session.scalars(select(Alert.name).where(Alert.guild_id == GUILD))).all())


async def create_many(p: Pipeline, names: list[str]) -> list[object]:
    """Every create started at once; each one's result or error."""
    return await asyncio.gather(
        *(
            p.alerts.create(
                GUILD, AlertSpec(name=name, channel_id=CHANNEL, criteria=Criteria(query="dune")), created_by=1
            )
            for name in names
        ),
        return_exceptions=True,
    )


async def check_cap_holds(p: Pipeline) -> None:
    await fill(p, ALERTS_PER_GUILD_MAX - 1)
    outcomes = await create_many(p, [f"new {i}" for i in range(10)])
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(e, UserError) and e.key == "alert.error.too_many" for e in errors), errors
    assert len(errors) == 9
    async with p.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Alert).where(Alert.guild_id == GUILD))
    assert total == ALERTS_PER_GUILD_MAX


async def check_names_stay_unique(p: Pipeline) -> None:
    outcomes = await create_many(p, ["Dune", "dune", "DUNE", "dUne", "Dune ", "  dune", "DUne", "duNE"])
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(e, UserError) and e.key == "alert.error.exists" for e in errors), errors
    assert len(errors) == 7
    assert len(await alert_names(p)) == 1
    # A rename racing a create of the same name (in another case) leaves one of them.
    await p.alerts.create(
        GUILD, AlertSpec(name="other", channel_id=CHANNEL, criteria=Criteria(query="x")), created_by=1
    )
    raced = await asyncio.gather(
        p.alerts.edit(GUILD, "other", new_name="Arcane"),
        p.alerts.create(
            GUILD, AlertSpec(name="arcane", channel_id=CHANNEL, criteria=Criteria(query="arcane")), created_by=1
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, UserError) and r.key == "alert.error.exists" for r in raced) == 1, raced
    assert sorted(n.casefold() for n in await alert_names(p)).count("arcane") == 1


async def test_cap_holds_under_concurrent_adds_on_sqlite(tmp_path, lacale: FakeLaCale) -> None:  # type: ignore[no-untyped-def]
    async with sqlite_pipeline(tmp_path, lacale, GUILD) as p:
        await check_cap_holds(p)


async def test_cap_holds_under_concurrent_adds_on_postgres(postgres_url: str, lacale: FakeLaCale) -> None:
    async with postgres_pipeline(postgres_url, lacale, GUILD) as p:
        await check_cap_holds(p)


async def test_names_stay_unique_under_concurrent_adds_on_sqlite(tmp_path, lacale: FakeLaCale) -> None:  # type: ignore[no-untyped-def]
    async with sqlite_pipeline(tmp_path, lacale, GUILD) as p:
        await check_names_stay_unique(p)


async def test_names_stay_unique_under_concurrent_adds_on_postgres(postgres_url: str, lacale: FakeLaCale) -> None:
    async with postgres_pipeline(postgres_url, lacale, GUILD) as p:
        await check_names_stay_unique(p)


async def check_names_unique_whatever_the_letters(p: Pipeline) -> None:
    """Accented capitals are a case too: the same on SQLite (whose ``lower()`` folds ASCII
    only) as on PostgreSQL."""
    await p.alerts.create(
        GUILD, AlertSpec(name="Été", channel_id=CHANNEL, criteria=Criteria(query="ete")), created_by=1
    )
    with pytest.raises(UserError) as exc:
        await p.alerts.create(
            GUILD, AlertSpec(name="ÉTÉ", channel_id=CHANNEL, criteria=Criteria(query="ete")), created_by=1
        )
    assert exc.value.key == "alert.error.exists"
    assert (await p.alerts.get(GUILD, "été")).name == "Été"
    await p.alerts.create(
        GUILD, AlertSpec(name="Œuvre", channel_id=CHANNEL, criteria=Criteria(query="oeuvre")), created_by=1
    )
    with pytest.raises(UserError) as renamed:
        await p.alerts.edit(GUILD, "été", new_name="œuvre")
    assert renamed.value.key == "alert.error.exists"
    assert sorted(await alert_names(p)) == ["Été", "Œuvre"]


async def test_names_unique_whatever_the_letters_on_sqlite(tmp_path, lacale: FakeLaCale) -> None:  # type: ignore[no-untyped-def]
    async with sqlite_pipeline(tmp_path, lacale, GUILD) as p:
        await check_names_unique_whatever_the_letters(p)


async def test_names_unique_whatever_the_letters_on_postgres(postgres_url: str, lacale: FakeLaCale) -> None:
    async with postgres_pipeline(postgres_url, lacale, GUILD) as p:
        await check_names_unique_whatever_the_letters(p)


async def check_rows_created_once(p: Pipeline) -> None:
    keys = [p.fake.add_key() for _ in range(6)]
    fingerprints = await asyncio.gather(*(p.guilds.keys.set_member_key(42, key, GUILD) for key in keys))
    assert len(set(fingerprints)) == 6  # every submission answered, none failed
    stored = await p.guilds.keys.member_key(42)
    assert stored is not None and stored.api_key in keys
    new_guild = GUILD + 1
    await asyncio.gather(*(p.guilds.ensure_guild(new_guild, "fr") for _ in range(6)))
    other_guild = GUILD + 2
    registered = await asyncio.gather(*(p.guilds.register_guild_key(other_guild, key, 1) for key in keys))
    assert len(registered) == 6
    assert (await p.guilds.guild_key(new_guild)) is None and (await p.guilds.guild_key(other_guild)) is not None


async def test_member_key_and_guild_row_created_once_on_sqlite(tmp_path, lacale: FakeLaCale) -> None:  # type: ignore[no-untyped-def]
    async with sqlite_pipeline(tmp_path, lacale, GUILD) as p:
        await check_rows_created_once(p)


async def test_member_key_and_guild_row_created_once_on_postgres(postgres_url: str, lacale: FakeLaCale) -> None:
    async with postgres_pipeline(postgres_url, lacale, GUILD) as p:
        await check_rows_created_once(p)
