"""LaCaleClient and KeyLimiter against the fake La Cale: every documented rule, every
error row, and the live-service drift."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest

from bot.lacale import (
    BadRequest,
    ConnectionFailed,
    Duplicate,
    InvalidRequest,
    KeyLimiter,
    KeyRefused,
    LaCaleClient,
    LaCaleError,
    LimiterRegistry,
    MalformedResponse,
    MissingKey,
    NotFound,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    Timeout,
    UploadFile,
    UploadRequest,
    key_fingerprint,
    parse_retry_after,
)
from bot.lacale.client import MAX_JSON_BYTES, MAX_TORRENT_BYTES
from bot.lacale.models import url_carries_secret
from tests.fakes.lacale import (
    DOWNLOAD,
    META,
    SEARCH,
    UPLOAD,
    FakeLaCale,
    Fault,
    decode_torrent,
    make_torrent,
)

KEY = "vigie-test-key-7c1e9a4b52d8f036"
READ_ONLY_KEY = "vigie-readonly-key-0a9b8c7d6e5f"
FILMS_HD = "cmv0aa1fhd000003hd8x1v6q"
TAG_1080P = "cmv0tt1p108000001gh4ij5k"
TAG_VFF = "cmv0tt1vff0000005mn6op7q"
TAG_LINUX = "cmv0tt1linu000008bc2de3f"  # in two groups


@pytest.fixture
async def fake() -> AsyncIterator[FakeLaCale]:
    async with FakeLaCale(keys=[KEY]) as server:
        server.add_key(READ_ONLY_KEY, scopes={"read"})
        yield server


def make_client(fake: FakeLaCale, key: str = KEY, **kwargs: Any) -> LaCaleClient:
    options: dict[str, Any] = {"timeout": 2.0, "backoff_base": 0.001, "max_retries": 2}
    options.update(kwargs)
    return LaCaleClient(key, base_url=fake.base_url, **options)


@pytest.fixture
async def client(fake: FakeLaCale) -> AsyncIterator[LaCaleClient]:
    async with make_client(fake) as c:
        yield c


def upload_request(name: str = "Mon.Film.2025.1080p", **kwargs: Any) -> UploadRequest:
    fields: dict[str, Any] = {
        "title": name.replace(".", " "),
        "category_id": FILMS_HD,
        "torrent": UploadFile(f"{name}.torrent", make_torrent(name)),
    }
    fields.update(kwargs)
    return UploadRequest(**fields)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- search -------------------------------------------------------------------------------
async def test_search_sends_key_in_header_only(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.add_torrent("One.Piece.S01E01.1080p", category_label="Séries HD")
    found = await client.search("one piece")
    assert [t.title for t in found] == ["One.Piece.S01E01.1080p"]
    seen = fake.requests[-1]
    assert seen.headers["X-Api-Key"] == KEY
    assert KEY not in seen.url
    assert seen.key == KEY


async def test_search_normalises_accents_and_punctuation(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.add_torrent("Astérix.et.Obélix.Mission.Cléopâtre.2002.MULTI.2160p", category_label="Films HD")
    fake.add_torrent("Dune.Part.Two.2024.1080p", category_label="Films HD")
    assert [t.title for t in await client.search("ASTERIX cleopatre")] == [
        "Astérix.et.Obélix.Mission.Cléopâtre.2002.MULTI.2160p"
    ]
    assert await client.search("asterix dune") == []


async def test_search_repeats_cat_and_filters_exactly(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.add_torrent("A.Film.HD", category_label="Films HD")
    fake.add_torrent("A.Serie.HD", category_label="Séries HD")
    fake.add_torrent("A.Song", category_label="FLAC")
    found = await client.search(categories=["films-hd", "s-ries-hd"])
    assert {t.title for t in found} == {"A.Film.HD", "A.Serie.HD"}
    assert [v for k, v in fake.requests[-1].query if k == "cat"] == ["films-hd", "s-ries-hd"]
    # The observed bug: a parent does not include its children.
    assert await client.search(categories=["films"]) == []


async def test_fake_can_expand_parents(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.expand_parents = True
    fake.add_torrent("A.Film.HD", category_label="Films HD")
    assert [t.title for t in await client.search(categories=["video"])] == ["A.Film.HD"]


async def test_search_by_tmdb_newest_first_at_most_50(fake: FakeLaCale, client: LaCaleClient) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(60):
        fake.add_torrent(f"Release.{i}", tmdb_id=42 if i % 2 else 7, pub_date=start + timedelta(hours=i))
    fake.add_torrent("Pending", tmdb_id=42, approved=False)
    everything = await client.search()
    assert len(everything) == 50
    assert everything[0].title == "Release.59"
    assert [t.pub_date for t in everything] == sorted((t.pub_date for t in everything), reverse=True)
    by_tmdb = await client.search(tmdb_id="42")
    assert len(by_tmdb) == 30 and {t.title for t in by_tmdb} == {f"Release.{i}" for i in range(1, 60, 2)}


@pytest.mark.parametrize(
    ("call", "field", "limit"),
    [
        (lambda c: c.search("x" * 201), "q", 200),
        (lambda c: c.search("ok", categories=["c" * 65]), "cat", 64),
        (lambda c: c.search(tmdb_id="9" * 65), "tmdbId", 64),
        (lambda c: c.download_torrent("abc"), "info_hash", 64),
        (lambda c: c.download_torrent("z" * 40), "info_hash", 64),
        (lambda c: c.upload(upload_request(tmdb_id="1" * 65)), "tmdbId", 64),
        (lambda c: c.upload(upload_request(title=" ")), "title", None),
        (lambda c: c.upload(upload_request(tags=("",))), "tags", None),
        (lambda c: c.upload(upload_request(tmdb_type="SERIES")), "tmdbType", None),
    ],
)
async def test_limits_checked_before_any_request(
    fake: FakeLaCale, client: LaCaleClient, call: Any, field: str, limit: int | None
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await call(client)
    assert caught.value.field == field and caught.value.limit == limit
    assert fake.count() == 0


async def test_limits_at_the_bound_are_accepted(fake: FakeLaCale, client: LaCaleClient) -> None:
    await client.search("x" * 200, tmdb_id="9" * 64)
    assert fake.count(SEARCH) == 1


@pytest.mark.parametrize("bad_key", ["", "   ", "key with space", "clé", "key\nX-Evil: 1"])
def test_unusable_key_refused_at_construction(bad_key: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        LaCaleClient(bad_key, base_url="http://127.0.0.1:1")
    assert caught.value.field == "api_key"


# -- search: malformed items, drift, empty-search fallback, cache ---------------------------
async def test_search_skips_malformed_items(fake: FakeLaCale, client: LaCaleClient) -> None:
    good = fake.add_torrent("Good.One")
    fake.fail_next(
        SEARCH,
        status=200,
        body=[good, {"title": "no hash"}, 42, {**good, "infoHash": "nothex"}, {**good, "size": "big"}],
    )
    assert [t.title for t in await client.search("good")] == ["Good.One"]


async def test_search_with_no_readable_item_is_malformed(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.fail_next(SEARCH, status=200, body=[{"title": "x"}, None])
    with pytest.raises(MalformedResponse):
        await client.search("x")


async def test_drift_results_parse_and_links_stay_safe(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.drift = True
    for i in range(8):
        fake.add_torrent(f"Drift.{i}")
    found = await client.search("drift")
    assert len(found) == 8
    assert all(t.download_link and "token=" in t.download_link for t in found)
    assert any((t.link or "").startswith("http://localhost:3000") for t in found)
    for t in found:
        url = t.page_url(client.base_url)
        assert url.startswith(fake.base_url + "/")
        assert not url_carries_secret(url)
        assert "token" not in url and "apikey" not in url and "passkey" not in url


async def test_empty_search_falls_back_to_star_and_remembers(fake: FakeLaCale) -> None:
    fake.refuse_empty = True
    fake.add_torrent("Newest")
    registry = LimiterRegistry(search_interval=0)
    async with make_client(fake, limiter=registry.get(KEY)) as client:
        assert [t.title for t in await client.search()] == ["Newest"]
        assert [r.query for r in fake.requests] == [[], [("q", "*")]]
        assert registry.quirks.empty_query == "*"
        await client.search(categories=["films"])
        assert fake.requests[-1].query == [("q", "*"), ("cat", "films")]
        assert fake.count(SEARCH) == 3
    other = fake.add_key()
    async with make_client(fake, other, limiter=registry.get(other)) as client:
        await client.search()  # another key goes straight to q=*
        assert fake.count(SEARCH) == 4


async def test_empty_search_without_q_when_accepted(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.add_torrent("Newest")
    assert len(await client.search()) == 1
    assert fake.requests[-1].query == []
    assert client.limiter.quirks.empty_query == ""


async def test_empty_search_refused_both_ways_raises(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.fail_next(SEARCH, 400, error="no longer accepts empty requests", times=2)
    with pytest.raises(BadRequest):
        await client.search()
    assert fake.count(SEARCH) == 2
    assert client.limiter.quirks.empty_query is None


async def test_fake_search_cache(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.cache_seconds = 30
    fake.add_torrent("First")
    assert len(await client.search("*")) == 1
    fake.add_torrent("Second")
    assert len(await client.search("*")) == 1  # served from the 30 s cache
    fake.advance(31)
    assert len(await client.search("*")) == 2


# -- meta ---------------------------------------------------------------------------------
async def test_meta_shapes(client: LaCaleClient) -> None:
    meta = await client.meta()
    depths = {f.category.slug: f.depth for f in meta.walk_categories()}
    assert depths["films-hd"] == 2 and depths["s-ries-hd"] == 2
    assert meta.category_by_slug("films-hd").children == ()  # type: ignore[union-attr]
    assert any(g.tags == () for g in meta.tag_groups)
    assert [t.id for t in meta.all_tags()].count(TAG_LINUX) == 1
    assert meta.expand_category("films") == ["films", "films-hd", "animation"]
    assert meta.slug_for_label("Séries HD") == "s-ries-hd"


@pytest.mark.parametrize("body", [[], {"categories": [{"id": "x"}]}, {"categories": "nope"}])
async def test_meta_wrong_shape(fake: FakeLaCale, client: LaCaleClient, body: Any) -> None:
    fake.fail_next(META, status=200, body=body)
    with pytest.raises(MalformedResponse):
        await client.meta()


# -- status mapping -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ({"error": "catégorie invalide"}, None, "catégorie invalide"),
        ({"message": "champs manquants"}, None, "champs manquants"),
        ("requête trop longue", "text/plain", "requête trop longue"),
    ],
)
async def test_400_carries_server_message(
    fake: FakeLaCale, client: LaCaleClient, body: Any, content_type: str | None, expected: str
) -> None:
    fake.fail_next(SEARCH, 400, body=body, content_type=content_type)
    with pytest.raises(BadRequest) as caught:
        await client.search("x")
    assert caught.value.message == expected
    assert fake.count(SEARCH) == 1  # a 400 is not retried


async def test_400_from_the_real_rules(client: LaCaleClient) -> None:
    with pytest.raises(BadRequest, match="catégorie invalide"):
        await client.search("x", categories=["no-such-slug"])


async def test_401_missing_key(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.fail_next(SEARCH, 401, error="API key manquant")
    with pytest.raises(MissingKey, match="manquant"):
        await client.search("x")


async def test_403_unknown_key(fake: FakeLaCale) -> None:
    async with make_client(fake, "unknown-key-123456") as client:
        with pytest.raises(KeyRefused) as caught:
            await client.search("x")
    assert caught.value.upload is False and caught.value.message == "Access denied"


async def test_403_on_upload_means_scope(fake: FakeLaCale) -> None:
    async with make_client(fake, READ_ONLY_KEY) as client:
        await client.search("x")  # reading works
        with pytest.raises(KeyRefused) as caught:
            await client.upload(upload_request())
    assert caught.value.upload is True
    assert fake.accepted_uploads == []


async def test_404_download(client: LaCaleClient) -> None:
    with pytest.raises(NotFound):
        await client.download_torrent("a" * 40)


async def test_429_too_long_raises_and_pauses_the_key(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.fail_next(SEARCH, 429, retry_after=120)
    with pytest.raises(RateLimited) as caught:
        await client.search("x")
    assert caught.value.retry_after == pytest.approx(120)
    assert fake.count(SEARCH) == 1
    with pytest.raises(RateLimited) as again:
        await client.meta()  # the key is paused: no request reaches the server
    assert 100 < again.value.retry_after <= 120
    assert fake.count() == 1


async def test_429_short_is_waited_out(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.add_torrent("Found")
    fake.fail_next(SEARCH, 429, retry_after=0.05)
    started = time.monotonic()
    assert len(await client.search("found")) == 1
    assert time.monotonic() - started >= 0.05
    assert fake.count(SEARCH) == 2


async def test_429_without_header_defaults(fake: FakeLaCale) -> None:
    fake.fail_next(SEARCH, 429)
    async with make_client(fake, max_retry_after=1) as client:
        with pytest.raises(RateLimited) as caught:
            await client.search("x")
    assert caught.value.retry_after == 5


def test_parse_retry_after() -> None:
    assert parse_retry_after("12") == 12
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) == 5
    assert parse_retry_after("soon") == 5
    assert parse_retry_after("-3") == 0
    future = datetime.now(UTC) + timedelta(seconds=90)
    assert 85 <= parse_retry_after(format_datetime(future, usegmt=True)) <= 90
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0


async def test_5xx_retried_then_success(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.fail_next(META, 502, times=2)
    await client.meta()
    assert fake.count(META) == 3


async def test_5xx_exhausted(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.fail_next(SEARCH, 500, times=10)
    with pytest.raises(ServerError) as caught:
        await client.search("x")
    assert caught.value.status == 500
    assert fake.count(SEARCH) == 3  # 1 + max_retries


async def test_timeout(fake: FakeLaCale) -> None:
    fake.delay_next(META, 2.0)
    async with make_client(fake, timeout=0.2, max_retries=0) as client:
        with pytest.raises(Timeout):
            await client.meta()


async def test_timeout_retried_then_success(fake: FakeLaCale) -> None:
    fake.delay_next(META, 2.0)
    async with make_client(fake, timeout=0.2, max_retries=1) as client:
        await client.meta()
    assert fake.count(META) == 2


async def test_connection_refused() -> None:
    async with LaCaleClient(
        KEY, base_url=f"http://127.0.0.1:{closed_port()}", backoff_base=0.001, max_retries=1
    ) as client:
        with pytest.raises(ConnectionFailed):
            await client.search("x")
        with pytest.raises(ConnectionFailed):
            await client.upload(upload_request())


async def test_connection_dropped(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.drop_next(META, times=20)
    with pytest.raises(ConnectionFailed):
        await client.meta()


async def test_malformed_json(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.invalid_json_next(SEARCH)
    with pytest.raises(MalformedResponse):
        await client.search("x")


@pytest.mark.parametrize("status", [200, 403, 503])
async def test_html_challenge_is_unavailable_not_refused(fake: FakeLaCale, client: LaCaleClient, status: int) -> None:
    fake.challenge_next(SEARCH, status=status)
    with pytest.raises(MalformedResponse) as caught:
        await client.search("x")
    assert not isinstance(caught.value, KeyRefused)


async def test_html_challenge_on_upload_and_download(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.challenge_next(UPLOAD)
    with pytest.raises(MalformedResponse):
        await client.upload(upload_request())
    fake.challenge_next(DOWNLOAD, status=200)
    item = fake.add_torrent("X")
    with pytest.raises(MalformedResponse):
        await client.download_torrent(item["infoHash"])


@pytest.mark.parametrize("body", [{"results": []}, "just text", 12])
async def test_search_wrong_shape(fake: FakeLaCale, client: LaCaleClient, body: Any) -> None:
    fake.fail_next(
        SEARCH, status=200, body=body if not isinstance(body, int) else str(body), content_type="application/json"
    )
    with pytest.raises(MalformedResponse):
        await client.search("x")


async def test_no_bare_exception_ever(fake: FakeLaCale, client: LaCaleClient) -> None:
    """Whatever the fault, only LaCaleError subclasses come out."""
    faults = [
        lambda: fake.fail_next(SEARCH, 418),
        lambda: fake.fail_next(SEARCH, 302),
        lambda: fake.fail_next(SEARCH, 200, body=b"\xff\xfe\x00garbage", content_type="application/json"),
        lambda: fake.fail_next(SEARCH, 200, body=[{"title": ["list"], "pubDate": "yesterday", "infoHash": 1}]),
        lambda: fake.invalid_json_next(SEARCH, status=500, times=3),
    ]
    for inject in faults:
        inject()
        with pytest.raises(LaCaleError):
            await client.search("x")


# -- upload -------------------------------------------------------------------------------
async def test_upload_multipart_fields(fake: FakeLaCale, client: LaCaleClient) -> None:
    nfo = b"Mon Film (2025)\nVideo: 1080p x264\nAudio: French AC3 5.1\nSource: WEB\n"
    result = await client.upload(
        upload_request(
            tags=(TAG_1080P, TAG_VFF, TAG_LINUX),
            nfo=UploadFile("mon.film.nfo", nfo),
            description="Un film",
            tmdb_id="12345",
            tmdb_type="movie",  # type: ignore[arg-type]
            cover_url="https://image.example/cover.jpg",
        )
    )
    record = fake.uploads[-1]
    assert record.tags == [TAG_1080P, TAG_VFF, TAG_LINUX]  # one repeated field per tag
    assert record.fields["tmdbType"] == ["MOVIE"]
    assert record.fields["tmdbId"] == ["12345"]
    assert record.fields["description"] == ["Un film"]
    assert record.fields["coverUrl"] == ["https://image.example/cover.jpg"]
    assert record.files["nfoFile"].content == nfo and record.files["nfoFile"].filename == "mon.film.nfo"
    assert record.files["file"].content_type == "application/x-bittorrent"
    assert record.files["file"].filename == "Mon.Film.2025.1080p.torrent"
    assert result.success and result.id == record.id and result.slug == record.slug
    assert result.link == f"{fake.base_url}/torrents/{record.slug}"
    assert [t.title for t in await client.search("mon film")] == ["Mon Film 2025 1080p"]


async def test_upload_optional_fields_omitted_when_unset(fake: FakeLaCale, client: LaCaleClient) -> None:
    await client.upload(upload_request(tmdb_type="tv"))  # type: ignore[arg-type]
    record = fake.uploads[-1]
    assert set(record.fields) == {"title", "categoryId", "tmdbType"}
    assert record.fields["tmdbType"] == ["TV"]
    assert set(record.files) == {"file"}
    assert record.tags == []


async def test_upload_unknown_tag_is_bad_request(client: LaCaleClient) -> None:
    with pytest.raises(BadRequest, match="tags invalides"):
        await client.upload(upload_request(tags=("tag_that_does_not_exist",)))


async def test_upload_success_false(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.fail_next(UPLOAD, 200, body={"success": False, "error": "NFO invalide"})
    with pytest.raises(BadRequest, match="NFO invalide"):
        await client.upload(upload_request())


async def test_upload_wrong_shape(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.fail_next(UPLOAD, 200, body=["ok"])
    with pytest.raises(MalformedResponse):
        await client.upload(upload_request())


async def test_upload_duplicate_409(client: LaCaleClient) -> None:
    await client.upload(upload_request("Same.Release"))
    with pytest.raises(Duplicate):
        await client.upload(upload_request("Same.Release"))


async def test_upload_without_source_flag_gets_a_new_hash(fake: FakeLaCale, client: LaCaleClient) -> None:
    torrent = make_torrent("No.Flag", source=None)
    await client.upload(upload_request(torrent=UploadFile("n.torrent", torrent)))
    record = fake.uploads[-1]
    assert record.source_flag_added and record.stored_hash != record.info_hash
    with pytest.raises(Duplicate):
        await client.upload(upload_request(torrent=UploadFile("n.torrent", torrent)))


async def test_upload_never_retried_on_500(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.fail_next(UPLOAD, 500, times=5)
    with pytest.raises(ServerError):
        await client.upload(upload_request())
    assert fake.count(UPLOAD) == 1


async def test_upload_never_retried_on_429(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.fail_next(UPLOAD, 429, retry_after=0.01)
    with pytest.raises(RateLimited):
        await client.upload(upload_request())
    assert fake.count(UPLOAD) == 1


async def test_upload_timeout_then_409(fake: FakeLaCale) -> None:
    fake.answer_late_next(UPLOAD, 1.0)
    async with make_client(fake, timeout=0.2) as client:
        with pytest.raises(Timeout, match="may have gone through"):
            await client.upload(upload_request("Slow.Answer"))
        assert fake.count(UPLOAD) == 1 and len(fake.accepted_uploads) == 1
        with pytest.raises(Duplicate):
            await client.upload(upload_request("Slow.Answer"))


async def test_client_side_upload_limit(fake: FakeLaCale, client: LaCaleClient) -> None:
    for i in range(30):
        await client.upload(upload_request(f"Release.{i}"))
    with pytest.raises(RateLimited) as caught:
        await client.upload(upload_request("Release.30"))
    assert 0 < caught.value.retry_after <= 60
    assert fake.count(UPLOAD) == 30


async def test_server_upload_limit_pauses_the_key(fake: FakeLaCale) -> None:
    fake.upload_limit = 2
    async with make_client(fake, limiter=KeyLimiter(upload_limit=100, search_interval=0)) as client:
        await client.upload(upload_request("R.1"))
        await client.upload(upload_request("R.2"))
        with pytest.raises(RateLimited) as caught:
            await client.upload(upload_request("R.3"))
        assert 0 < caught.value.retry_after <= 60
        with pytest.raises(RateLimited):
            await client.search("anything")
    assert fake.count(UPLOAD) == 3 and fake.count(SEARCH) == 0


# -- download -----------------------------------------------------------------------------
async def test_download_embeds_the_keys_passkey(fake: FakeLaCale, client: LaCaleClient) -> None:
    item = fake.add_torrent("Personal.Torrent")
    data = await client.download_torrent(item["infoHash"].upper())
    top, _ = decode_torrent(data)
    assert top[b"announce"].decode() == f"https://tracker.la-cale.space/announce?passkey={fake.passkey_of(KEY)}"
    assert fake.requests[-1].path == f"/api/torrents/download/{item['infoHash']}"
    other = fake.add_key()
    async with make_client(fake, other) as second:
        assert fake.passkey_of(other).encode() in await second.download_torrent(item["infoHash"])


async def test_download_not_a_torrent(fake: FakeLaCale, client: LaCaleClient) -> None:
    fake.fail_next(DOWNLOAD, 200, body="<p>hello</p>")
    with pytest.raises(MalformedResponse):
        await client.download_torrent("b" * 64)


async def test_download_retried_on_5xx(fake: FakeLaCale, client: LaCaleClient) -> None:
    item = fake.add_torrent("Retry.Me")
    fake.fail_next(DOWNLOAD, 503)
    assert (await client.download_torrent(item["infoHash"])).startswith(b"d")


# -- answers of any size ------------------------------------------------------------------
MIB = 1024 * 1024
#: What a hostile or broken server may send; generated lazily by the fake.
HUGE = 200 * MIB


async def _search(client: LaCaleClient) -> Any:
    return await client.search("dune")


async def _meta(client: LaCaleClient) -> Any:
    return await client.meta()


async def _download(client: LaCaleClient) -> Any:
    return await client.download_torrent("a" * 40)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    ("call", "path", "cap", "start", "content_type"),
    [
        (_search, SEARCH, MAX_JSON_BYTES, b'[{"title": "', "application/json"),
        (_meta, META, MAX_JSON_BYTES, b'{"categories": [{"name": "', "application/json"),
        (_download, DOWNLOAD, MAX_TORRENT_BYTES, b"d8:announce", "application/x-bittorrent"),
    ],
    ids=["search", "meta", "download"],
)
async def test_oversize_answer_is_refused_without_being_read(
    fake: FakeLaCale,
    client: LaCaleClient,
    call: Any,
    path: str,
    cap: int,
    start: bytes,
    content_type: str,
    chunked: bool,
) -> None:
    """200 MiB streamed: refused from Content-Length before reading, or once the chunks
    pass the cap; the fake counts what it could write, memory stays near the cap."""
    fake.oversize_next(path, HUGE, chunked=chunked, start=start, content_type=content_type)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge) as caught:
            await call(client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    error = caught.value
    assert isinstance(error, MalformedResponse)  # callers handling "unusable answer" still do
    assert error.limit == cap
    if chunked:
        assert error.declared is None and cap < error.received <= cap + 64 * 1024
    else:
        assert error.declared == HUGE and error.received == 0
    assert fake.count(path) == 1, "not retried: the same request gets the same answer"
    # The fake's writer stops once the client closed the connection.
    await asyncio.wait_for(_until(lambda: fake.streams_finished == 1), timeout=30)
    assert fake.streamed_bytes < cap + 16 * MIB, f"{fake.streamed_bytes} bytes written"
    assert peak < cap * 1.5 + 8 * MIB, f"peak {peak / MIB:.0f} MiB traced"


async def test_small_gzip_answer_that_inflates_past_the_cap(fake: FakeLaCale, client: LaCaleClient) -> None:
    """Content-Length counts compressed bytes: the cap applies to what decompression yields."""
    bomb = gzip.compress(b"[" + b" " * (100 * MIB), 9)
    assert len(bomb) < MAX_JSON_BYTES // 10
    fake.inject(SEARCH, Fault(200, bomb, "application/json", {"Content-Encoding": "gzip"}))
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge) as caught:
            await client.search("dune")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.declared == len(bomb) and caught.value.received > MAX_JSON_BYTES
    assert peak < MAX_JSON_BYTES * 1.5 + 8 * MIB, f"peak {peak / MIB:.0f} MiB traced"


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


async def test_answer_at_the_cap_is_read_and_error_bodies_are_cut(fake: FakeLaCale) -> None:
    async with make_client(fake, max_torrent_bytes=64 * 1024, max_json_bytes=64 * 1024) as small:
        # A body exactly at the cap is read whole; one byte more is refused.
        fake.oversize_next(
            DOWNLOAD, 64 * 1024, chunked=True, start=b"d8:announce", content_type="application/x-bittorrent"
        )
        assert len(await small.download_torrent("a" * 40)) == 64 * 1024
        fake.oversize_next(
            DOWNLOAD, 64 * 1024 + 1, chunked=True, start=b"d8:announce", content_type="application/x-bittorrent"
        )
        with pytest.raises(ResponseTooLarge):
            await small.download_torrent("a" * 40)
    # An endless error body: only its start is read, the status decides the error.
    fake.oversize_next(SEARCH, HUGE, status=400, start=b'{"error": "q too long', chunked=True)
    async with make_client(fake) as client:
        with pytest.raises(BadRequest) as refused:
            await client.search("dune")
    assert refused.value.message.startswith('{"error": "q too long') and len(refused.value.message) <= 301
    await asyncio.wait_for(_until(lambda: fake.streams_finished == 3), timeout=30)
    assert fake.streamed_bytes < 2 * 64 * 1024 + 2 + 16 * MIB


# -- secrets ------------------------------------------------------------------------------
async def test_key_never_in_urls_messages_or_logs(
    fake: FakeLaCale, client: LaCaleClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    item = fake.add_torrent("Anything")
    fake.fail_next(SEARCH, 400, error=f"clé {KEY} invalide")  # a server echoing the key
    messages: list[str] = []
    with pytest.raises(BadRequest) as caught:
        await client.search("x")
    messages.append(str(caught.value))
    fake.fail_next(SEARCH, 500)
    fake.fail_next(SEARCH, 200, body=[{"title": KEY}])
    with pytest.raises(LaCaleError) as caught2:
        await client.search("x")
    messages.append(str(caught2.value))
    await client.search("anything")
    await client.meta()
    await client.download_torrent(item["infoHash"])
    await client.upload(upload_request())
    assert "***" in messages[0]
    assert all(KEY not in m for m in messages)
    assert KEY not in caplog.text
    assert fake.requests and all(KEY not in r.url for r in fake.requests)
    assert KEY not in repr(client)


# -- session ------------------------------------------------------------------------------
async def test_shared_session_is_left_open(fake: FakeLaCale) -> None:
    async with aiohttp.ClientSession() as session:
        async with make_client(fake, session=session) as client:
            await client.meta()
        assert not session.closed


async def test_own_session_is_closed(fake: FakeLaCale) -> None:
    client = make_client(fake)
    async with client:
        await client.meta()
        session = client._session
    assert session is not None and session.closed


# -- limiter ------------------------------------------------------------------------------
class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)  # time does not move: callers reserved their slots already


def test_upload_window_computes_retry_after() -> None:
    t = FakeTime()
    limiter = KeyLimiter(clock=t.clock, sleep=t.sleep)
    for _ in range(30):
        limiter.acquire_upload()
        t.now += 1
    with pytest.raises(RateLimited) as caught:
        limiter.acquire_upload()
    assert caught.value.retry_after == pytest.approx(30)  # the first upload was 30 s ago
    t.now += 30
    limiter.acquire_upload()
    assert t.slept == []  # never sleeps for uploads


async def test_search_slots_are_spaced() -> None:
    t = FakeTime()
    limiter = KeyLimiter(search_interval=2.0, clock=t.clock, sleep=t.sleep)
    await asyncio.gather(*(limiter.acquire_search() for _ in range(3)))
    assert t.slept == [2.0, 4.0]


async def test_search_interval_through_the_client(fake: FakeLaCale) -> None:
    async with make_client(fake, limiter=KeyLimiter(search_interval=0.05)) as client:
        started = time.monotonic()
        await client.search("a")
        await client.search("b")
    assert time.monotonic() - started >= 0.05


async def test_pause_makes_calls_raise_at_once() -> None:
    t = FakeTime()
    limiter = KeyLimiter(clock=t.clock, sleep=t.sleep)
    limiter.pause(10)
    limiter.pause(3)  # never shortened
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire_search()
    assert caught.value.retry_after == 10
    with pytest.raises(RateLimited):
        limiter.acquire_upload()
    t.now += 10
    await limiter.acquire_search()


def test_registry_one_limiter_per_key_never_holding_the_key() -> None:
    registry = LimiterRegistry(search_interval=1)
    a = registry.get(KEY)
    assert registry.get(KEY) is a and registry.get("another-key-00000000") is not a
    assert len(registry) == 2
    assert key_fingerprint(KEY) in registry._limiters
    assert all(KEY not in repr(k) for k in registry._limiters)
    registry.forget("another-key-00000000")
    assert len(registry) == 1


def test_registry_prune_keeps_busy_limiters() -> None:
    t = FakeTime()
    registry = LimiterRegistry(search_interval=0, clock=t.clock, sleep=t.sleep)
    for i in range(1000):
        registry.get(f"key-{i:06d}")
    registry.get("key-000001").acquire_upload()
    registry.get("key-000002").pause(5)
    assert registry.prune() == 998
    assert len(registry) == 2


async def test_identical_search_pages_are_parsed_once_and_shared_frozen() -> None:
    from bot.lacale import client as client_module

    body = json.dumps(
        [{"title": "A", "guid": "g", "size": 1, "pubDate": "2025-01-12T10:00:00.000Z", "infoHash": "ab" * 20}]
    ).encode()
    first = client_module._parse_search_body(body)
    second = client_module._parse_search_body(bytes(body))
    assert first is second and first[0].title == "A"
    with pytest.raises(MalformedResponse):
        client_module._parse_search_body(b"[not json")
