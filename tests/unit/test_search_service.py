import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from bot.errors import UserError
from bot.lacale.errors import LaCaleError
from bot.lacale.models import Meta
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.metadata import category_rows, resolve_tags, suggest_categories, suggest_tags, tag_groups
from bot.services.search import MemberCooldown, SearchService, build_query
from tests.fakes.lacale import FakeLaCale

META = Meta.model_validate(json.loads((Path(__file__).parents[1] / "fakes" / "lacale_meta.json").read_text()))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_build_query_expands_parent_and_refuses_bad_input() -> None:
    q = build_query(META, "  Dune   part ", ["series"], None)
    assert q.text == "Dune part" and q.categories == ("series",) and q.expanded == ("series", "s-ries-hd")
    assert build_query(META, None, ["Séries TV"], None).categories == ("series",)  # a label works too
    with pytest.raises(UserError) as exc:
        build_query(META, "x" * 201, [], None)
    assert exc.value.values == {"field": "query", "limit": 200}
    with pytest.raises(UserError, match="search.unknown_category"):
        build_query(META, None, ["nope"], None)
    with pytest.raises(UserError, match="search.bad_tmdb"):
        build_query(META, None, [], "12a")


def test_member_cooldown() -> None:
    clock = Clock()
    cooldown = MemberCooldown(2, clock=clock)
    cooldown.hit(1)
    cooldown.hit(1)
    cooldown.hit(2)
    with pytest.raises(UserError) as exc:
        cooldown.hit(1)
    assert exc.value.values["seconds"] == 60
    clock.now += 60.5
    cooldown.hit(1)


def test_suggestions() -> None:
    labels = [s.label for s in suggest_categories(META, "sér")]
    assert labels[0].startswith("Vidéo › Séries TV")
    assert [s.value for s in suggest_categories(META, "hd")][:2] == ["films-hd", "s-ries-hd"]
    assert suggest_categories(META, "linux", value="id")[0].value == "cmv0aa1linx00013ga4h1i6y"
    assert len(suggest_categories(META, "")) <= 25
    tags = suggest_tags(META, "1080p, fr")
    assert tags and all(t.value.startswith("1080p, ") for t in tags)
    found, unknown = resolve_tags(META, "1080p, nope")
    assert [t.name for t in found] == ["1080p"] and unknown == ["nope"]
    assert any(not g.tags for g in tag_groups(META))  # null tag groups are listed, empty
    assert [r.depth for r in category_rows(META, "flac")] == [2]


async def test_identical_searches_share_one_request_and_errors_are_not_cached() -> None:
    async with FakeLaCale() as lacale, aiohttp.ClientSession() as session:
        lacale.add_torrent("Shared.Title")
        access = LaCaleAccess(session, lacale.base_url, search_interval=0, backoff_base=0.01)
        clock = Clock()
        service = SearchService(access, MetaCache(access), MemberCooldown(100), clock=clock)
        q = build_query(META, "shared", [], None)
        results = await asyncio.gather(*(service.search(lacale.default_key, q, member_id=i) for i in range(10)))
        assert all(r and r[0].title == "Shared.Title" for r in results)
        assert lacale.count("/api/external") == 1
        clock.now += 31  # past the server's cache window: asked again
        await service.search(lacale.default_key, q)
        assert lacale.count("/api/external") == 2

        lacale.fail_next("/api/external", status=500, times=10)
        q2 = build_query(META, "other", [], None)
        with pytest.raises(LaCaleError):
            await service.search(lacale.default_key, q2)
        lacale.clear_faults()
        assert await service.search(lacale.default_key, q2) == []


async def test_meta_cache_fetches_once_serves_stale_and_drops() -> None:
    async with FakeLaCale() as lacale, aiohttp.ClientSession() as session:
        access = LaCaleAccess(session, lacale.base_url)
        clock = Clock()
        cache = MetaCache(access, ttl=100, clock=clock)
        assert cache.peek(lacale.default_key) is None  # starts a fetch, answers at once
        metas = await asyncio.gather(*(cache.get(lacale.default_key) for _ in range(5)))
        assert all(m.categories for m in metas)
        assert lacale.count("/api/external/meta") == 1
        clock.now += 101
        assert cache.peek(lacale.default_key) is not None  # stale but served...
        await asyncio.sleep(0.2)
        assert lacale.count("/api/external/meta") == 2  # ...while one refresh ran
        cache.drop(lacale.default_key)
        await cache.get(lacale.default_key)
        assert lacale.count("/api/external/meta") == 3
