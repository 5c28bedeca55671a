"""Shared /search results are keyed by every field of the validated query: two searches
that differ in anything (text, chosen categories, expanded categories, TMDB id, or a field
added later) never hand one member the other's results."""

import asyncio
from dataclasses import fields, replace

import aiohttp
import pytest

from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.search import MemberCooldown, SearchQuery, SearchService
from tests.fakes.lacale import FakeLaCale

BASE = SearchQuery(text="dune", categories=("films",), expanded=("films", "films-hd"), tmdb_id="438631")


def _different(value: object) -> object:
    """Another value of the same kind: a field of a kind not handled here fails the test
    (extend this function), so no field is ever left out of the check."""
    if isinstance(value, str):
        return value + "1"  # stays digits for a TMDB id
    if isinstance(value, tuple):
        return (*value, "series")
    raise AssertionError(f"SearchQuery has a field of a new kind ({type(value).__name__}): teach this test to vary it")


@pytest.mark.parametrize("name", [f.name for f in fields(SearchQuery)])
async def test_searches_differing_in_any_one_field_never_share_a_result(name: str) -> None:
    variant = replace(BASE, **{name: _different(getattr(BASE, name))})
    assert variant != BASE
    async with FakeLaCale() as lacale, aiohttp.ClientSession() as session:
        access = LaCaleAccess(session, lacale.base_url, search_interval=0, backoff_base=0.01)
        service = SearchService(access, MetaCache(access), MemberCooldown(100))
        first, second = await asyncio.gather(
            service.search(lacale.default_key, BASE, member_id=1),
            service.search(lacale.default_key, variant, member_id=2),
        )
        assert lacale.count("/api/external") == 2, f"searches differing in {name!r} shared one result"
        assert first is not second


def test_cache_key_covers_every_field_and_normalises_like_la_cale() -> None:
    key = BASE.cache_key("k")
    assert len(key) == 1 + len(fields(SearchQuery))
    assert "k" not in key  # the key's digest only
    # La Cale reads words without case and categories in any order: those still share.
    same = replace(BASE, text="DUNE", expanded=("films-hd", "films"))
    assert same.cache_key("k") == key
    assert BASE.cache_key("other key") != key
