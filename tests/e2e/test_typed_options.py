"""Typed options through the real bot and the fake Discord: a value a transformer refuses
(bot/ui/options.py) is answered privately, in the member's language, with the same precise
message as when callbacks parsed it, and nothing reaches La Cale. (/upload's TMDB id stays
text, checked with its type by the service after the deferral: its message is checked too.)"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from bot import i18n
from tests.e2e.conftest import VigieWorld
from tests.support.torrent_factory import make_torrent

pytestmark = pytest.mark.asyncio

FILMS_HD = "cmv0aa1fhd000003hd8x1v6q"


@pytest.fixture
async def ready(world: VigieWorld) -> VigieWorld:
    await world.register_key()
    return world


async def refused(world: VigieWorld, command: str, locale: str, **options: Any) -> str:
    before = world.lacale.count()
    rec = await world.invoke(command, locale=locale, **options)
    message = await rec.wait_final()
    assert rec.ephemeral, f"/{command}: a refusal is private"
    assert world.lacale.count() == before, f"/{command}: nothing is sent to La Cale"
    return str(message["content"])


async def test_refused_values_read_as_before_in_both_languages(ready: VigieWorld) -> None:
    w = ready
    content = await refused(w, "alert add", "fr", name="dune", min_size="12 parsecs")
    assert content == i18n.t("fr", "alert.error.bad_size", field="min_size", value="12 parsecs")
    content = await refused(w, "alert edit", "en-US", name="dune", max_size="*huge*")
    assert content == i18n.t("en-US", "alert.error.bad_size", field="max_size", value=r"\*huge\*")
    content = await refused(w, "alert add", "en-US", name="dune", tmdb="12a")
    assert content == i18n.t("en-US", "search.bad_tmdb")
    content = await refused(w, "search", "fr", query="dune", tmdb="1" * 65)
    assert content == i18n.t("fr", "error.too_long", field="tmdb", limit=64)
    torrent = w.discord.add_attachment("x.torrent", make_torrent("Dune.2021.1080p", source="lacale"))
    content = await refused(w, "upload", "fr", torrent=torrent, category=FILMS_HD, tmdb="tt1375666", tmdb_type="MOVIE")
    assert content == i18n.t("fr", "upload.tmdb.not_digits")
    with sqlite3.connect(w.settings.database_url.split("///", 1)[1]) as db:
        assert db.execute("select count(*) from alerts").fetchone() == (0,)


async def test_typed_values_reach_the_service(ready: VigieWorld) -> None:
    """Sizes in any accepted spelling, excluded words, a category: stored as the service
    reads them (bytes, normalised words, the slug)."""
    w = ready
    rec = await w.invoke(
        "alert add", name="dune", category="films", min_size="1,5 Go", max_size="4.5 GiB", exclude="CAM, hd  ts"
    )
    await rec.wait_final()
    alerts = w.bot.get_cog("Alerts").alerts  # type: ignore[union-attr]
    (info,) = await alerts.list_alerts(w.guild.id)
    assert (info.criteria.categories, info.criteria.min_size, info.criteria.max_size, info.criteria.exclude) == (
        ("films",),
        1_500_000_000,
        int(4.5 * 2**30),
        ("cam", "hd ts"),
    )
