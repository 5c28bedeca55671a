"""Validation of /upload input before anything reaches La Cale: every refusal has its own
message key, and what is accepted is normalised once."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import i18n
from bot.errors import UserError
from bot.lacale.models import Meta, UploadResult
from bot.services.uploads import (
    DESCRIPTION_MAX,
    MAX_TAGS,
    NFO_MAX_BYTES,
    NFO_MIN_CHARS,
    TITLE_MAX,
    check_cover_url,
    check_description,
    check_nfo_attachment,
    check_title,
    check_tmdb,
    check_torrent_attachment,
    decode_nfo,
    nfo_excerpt,
    read_torrent_file,
    resolve_category,
    resolve_tag_list,
    tag_choices,
    upload_link,
)
from bot.torrent_pool import TorrentPool
from tests.support.torrent_factory import make_torrent

META = Meta.model_validate(json.loads((Path(__file__).parents[1] / "fakes" / "lacale_meta.json").read_text("utf-8")))
FILMS_HD = "cmv0aa1fhd000003hd8x1v6q"
PC_GAMES = "cmv0aa1pcjx00016kf6m2q4b"
TAG_1080P = "cmv0tt1p108000001gh4ij5k"
TAG_VFF = "cmv0tt1vff0000005mn6op7q"
TAG_WINDOWS = "cmv0tt1wind000009gh4ij5k"
MIB = 1024 * 1024

NFO_TEXT = "Release.Name.2025.1080p\n\nVideo: x264 1080p\nAudio: French AC3 5.1\nSource: BluRay\n"


@pytest.fixture
async def pool() -> AsyncIterator[TorrentPool]:
    """Torrents are read in worker processes (never the event loop's default executor)."""
    pool = TorrentPool(workers=1)
    yield pool
    pool.close()


def refused(key: str) -> pytest.RaisesContext[UserError]:  # type: ignore[type-arg]
    """Asserts the UserError key (and that both catalogues have it) after the block."""
    assert i18n.has(key), key
    return pytest.raises(UserError, match="^" + re.escape(key) + "$")


# -- the .torrent attachment ---------------------------------------------------------------
def test_attachment_must_be_named_torrent() -> None:
    with refused("upload.torrent.not_torrent"):
        check_torrent_attachment("cover.jpg", 1000, 10 * MIB)
    with refused("upload.torrent.not_torrent"):
        check_torrent_attachment("release.torrent.exe", 1000, 10 * MIB)
    check_torrent_attachment("Release.2025.TORRENT", 1000, 10 * MIB)


def test_attachment_declared_size_is_checked_before_download() -> None:
    with refused("upload.torrent.too_large") as exc:
        check_torrent_attachment("big.torrent", 10 * MIB + 1, 10 * MIB)
    assert exc.value.values["limit"] == "10"
    check_torrent_attachment("max.torrent", 10 * MIB, 10 * MIB)
    with refused("upload.torrent.empty"):
        check_torrent_attachment("empty.torrent", 0, 10 * MIB)


def test_not_torrent_message_quotes_the_name_safely() -> None:
    with refused("upload.torrent.not_torrent") as exc:
        check_torrent_attachment("@everyone `evil` **bold**.png", 10, MIB)
    shown = exc.value.values["filename"]
    assert shown.startswith("`") and shown.endswith("`") and shown.count("`") == 2


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b"", "upload.torrent.empty"),
        (b"hello, I am not a torrent", "upload.torrent.not_bencode"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "upload.torrent.not_bencode"),
        (b"d8:announce3:urle", "upload.torrent.no_info"),
        (b"d4:infoi3ee", "upload.torrent.no_info"),
        (b"d4:infod4:name1:xee", "upload.torrent.invalid"),
    ],
)
async def test_torrent_content_failures_map_to_messages(data: bytes, key: str, pool: TorrentPool) -> None:
    with refused(key):
        await read_torrent_file(data, 10 * MIB, pool, owner=1)


async def test_torrent_over_cap_after_download(pool: TorrentPool) -> None:
    data = make_torrent("Big.Release", size=1 << 30, piece_size=16384)
    with refused("upload.torrent.too_large") as exc:
        await read_torrent_file(data, 4096, pool, owner=1)
    assert exc.value.values["limit"]


async def test_refused_torrent_log_line_masks_a_passkey_in_the_tracker_path(
    caplog: pytest.LogCaptureFixture, pool: TorrentPool
) -> None:
    """The call site masks the URL itself: checked with the plain LogRecord factory, so the
    process-wide redaction filter cannot be what hides the passkey."""
    from torf import _flatbencode as bencode

    passkey = "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"
    metainfo = bencode.decode(make_torrent("Refused.Release", source="lacale"))
    metainfo[b"announce"] = f"https://tracker.example:99999/{passkey}/announce".encode()
    previous = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    try:
        with caplog.at_level(logging.INFO, logger="bot.services.uploads.validation"), refused("upload.torrent.invalid"):
            await read_torrent_file(bencode.encode(metainfo), 10 * MIB, pool, owner=1)
    finally:
        logging.setLogRecordFactory(previous)
    assert "refused .torrent" in caplog.text and "tracker.example:99999/***/announce" in caplog.text
    assert passkey not in caplog.text


async def test_each_torrent_cap_has_its_own_message(pool: TorrentPool) -> None:
    trackers = make_torrent("T", announce=[f"https://t{i}.example/announce" for i in range(201)])
    files = make_torrent("F", files=[(f"f{i}", 1) for i in range(10_001)])
    deep = make_torrent("D", files=[("/".join(["d"] * 70), 1), ("b", 1)])
    named = make_torrent("N" * 2000)
    shown: dict[str, str] = {}
    for data, key in [
        (trackers, "upload.torrent.too_many_trackers"),
        (files, "upload.torrent.too_many_files"),
        (deep, "upload.torrent.too_deep"),
        (named, "upload.torrent.name_too_long"),
    ]:
        with refused(key) as exc:
            await read_torrent_file(data, 10 * MIB, pool, owner=1)
        shown[key] = i18n.t("en", key, **exc.value.values)
    assert "more than 200 tracker addresses" in shown["upload.torrent.too_many_trackers"]
    assert "more than 10\u202f000 files" in shown["upload.torrent.too_many_files"]
    assert "more than 64 levels" in shown["upload.torrent.too_deep"]
    assert "longer than 1\u202f024 bytes" in shown["upload.torrent.name_too_long"]
    assert "plus de 10\u202f000 fichiers" in i18n.t("fr", "upload.torrent.too_many_files", limit="10\u202f000")


async def test_valid_torrent_is_read(pool: TorrentPool) -> None:
    info = await read_torrent_file(make_torrent("Good.Release.1080p", source="lacale"), 10 * MIB, pool, owner=1)
    assert info.name == "Good.Release.1080p" and info.source == "lacale" and info.private


# -- the NFO ----------------------------------------------------------------------------------
def test_nfo_utf8_and_bom() -> None:
    assert decode_nfo(NFO_TEXT.encode()) == NFO_TEXT
    assert decode_nfo(b"\xef\xbb\xbf" + "Sous-titres français intégrés. ".encode() * 3).startswith("Sous-titres")


def test_nfo_utf16_with_bom() -> None:
    assert decode_nfo(NFO_TEXT.encode("utf-16")) == NFO_TEXT


def test_nfo_cp437_art() -> None:
    art = ("\u2588\u2593\u2592\u2591 RELEASE \u2591\u2592\u2593\u2588\n" + "\u2554" + "\u2550" * 40 + "\u2557\n") * 3
    data = art.encode("cp437")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert decode_nfo(data) == art


def test_nfo_cp1252_french() -> None:
    text = "Film français, sous-titres intégrés, qualité élevée. Déjà vu à l'été.\n"
    assert decode_nfo(text.encode("cp1252")) == text


def test_nfo_binary_is_refused() -> None:
    with refused("upload.nfo.not_text"):
        decode_nfo(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with refused("upload.nfo.not_text"):
        decode_nfo(bytes(range(1, 32)) * 40)  # no NUL, but control characters everywhere


def test_nfo_too_short_or_blank() -> None:
    with refused("upload.nfo.too_short") as exc:
        decode_nfo(b"x" * (NFO_MIN_CHARS - 1))
    assert exc.value.values["minimum"] == NFO_MIN_CHARS
    with refused("upload.nfo.too_short"):
        decode_nfo(b"   short   " + b" " * 200 + b"\n" * 50)
    assert decode_nfo(b"y" * NFO_MIN_CHARS)


def test_nfo_too_large() -> None:
    with refused("upload.nfo.too_large"):
        decode_nfo(b"a" * (NFO_MAX_BYTES + 1))
    with refused("upload.nfo.too_large"):
        check_nfo_attachment(NFO_MAX_BYTES + 1)
    with refused("upload.nfo.too_short"):
        check_nfo_attachment(0)
    check_nfo_attachment(NFO_MAX_BYTES)


def test_nfo_excerpt_is_short() -> None:
    text = "\n\n" + "\n".join(f"line {i}   " for i in range(40))
    excerpt = nfo_excerpt(text)
    assert excerpt.startswith("line 0") and excerpt.endswith("…") and excerpt.count("\n") == 12
    assert len(nfo_excerpt("z" * 5000)) <= 600


# -- title ----------------------------------------------------------------------------------------
def test_title_rules() -> None:
    with refused("upload.title.empty"):
        check_title("   \n\t ")
    with refused("upload.title.too_long") as exc:
        check_title("x" * (TITLE_MAX + 1))
    assert exc.value.values == {"limit": TITLE_MAX, "length": TITLE_MAX + 1}
    assert check_title("y" * TITLE_MAX) == "y" * TITLE_MAX
    assert check_title("  One.Piece\nS01E01\x00 1080p  ") == "One.Piece S01E01 1080p"


# -- TMDB ----------------------------------------------------------------------------------------
def test_tmdb_pairs() -> None:
    assert check_tmdb(None, None) == (None, None)
    assert check_tmdb("  ", "") == (None, None)
    assert check_tmdb("27205", "MOVIE") == ("27205", "MOVIE")
    assert check_tmdb(" 1399 ", "tv") == ("1399", "TV")
    with refused("upload.tmdb.missing_type"):
        check_tmdb("27205", None)
    with refused("upload.tmdb.missing_id"):
        check_tmdb(None, "TV")
    with refused("upload.tmdb.not_digits"):
        check_tmdb("tt1375666", "MOVIE")
    with refused("upload.tmdb.not_digits"):
        check_tmdb("١٢٣", "MOVIE")  # Arabic-Indic digits: str.isdigit() says yes, TMDB says no
    with refused("upload.tmdb.too_long"):
        check_tmdb("1" * 65, "MOVIE")
    with refused("upload.tmdb.bad_type"):
        check_tmdb("1", "SERIES")


# -- cover URL -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://image.tmdb.org/t/p/w500/abc.jpg",
        "https://i.imgur.com/x.png?size=large",
        "HTTPS://Example.com:8443/a.png",
    ],
)
def test_cover_url_accepted(url: str) -> None:
    assert check_cover_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://example.com/a.jpg", "upload.cover.not_https"),
        ("ftp://example.com/a.jpg", "upload.cover.not_https"),
        ("javascript:alert(1)", "upload.cover.not_https"),
        ("example.com/a.jpg", "upload.cover.not_https"),
        ("https://", "upload.cover.invalid"),
        ("https:///a.jpg", "upload.cover.invalid"),
        ("https://localhost/a.jpg", "upload.cover.local_name"),  # was .invalid: now its own, more precise message
        ("https://exa mple.com/a.jpg", "upload.cover.invalid"),
        ("https://example.com/a b.jpg", "upload.cover.invalid"),
        ("https://user:pass@example.com/a.jpg", "upload.cover.invalid"),
        ("https://example.com:notaport/a.jpg", "upload.cover.invalid"),
        ("https://example.com/<script>", "upload.cover.invalid"),
        ("https://la-cale.space/img.jpg?apikey=secret", "upload.cover.secret"),
        ("https://" + "a" * 2050 + ".com", "upload.cover.too_long"),
    ],
)
def test_cover_url_refused(url: str, key: str) -> None:
    with refused(key):
        check_cover_url(url)


def test_cover_url_empty_is_none() -> None:
    assert check_cover_url(None) is None and check_cover_url("  ") is None


def test_description() -> None:
    assert check_description("  ") is None
    assert check_description(" Hello ") == "Hello"
    with refused("upload.description.too_long"):
        check_description("d" * (DESCRIPTION_MAX + 1))


# -- category and tags ---------------------------------------------------------------------------
def test_category_by_id_slug_or_label() -> None:
    assert resolve_category(META, FILMS_HD).category.id == FILMS_HD
    assert resolve_category(META, "films-hd").category.id == FILMS_HD
    assert resolve_category(META, "films hd").category.id == FILMS_HD
    assert resolve_category(META, "Vidéo › Films › Films HD").category.id == FILMS_HD
    assert resolve_category(META, FILMS_HD).label == "Vidéo › Films › Films HD"


@pytest.mark.parametrize("value", ["", "   ", "cat_does_not_exist", "Linuxx"])
def test_unknown_category(value: str) -> None:
    with refused("upload.category.unknown"):
        resolve_category(META, value)


def test_tags_by_name_slug_or_id() -> None:
    tags = resolve_tag_list(META, f"1080p, vff ,{TAG_WINDOWS},, 1080p")
    assert [t.id for t in tags] == [TAG_1080P, TAG_VFF, TAG_WINDOWS]
    assert resolve_tag_list(META, None) == () and resolve_tag_list(META, " , ") == ()


def test_unknown_tags_are_named() -> None:
    with refused("upload.tags.unknown") as exc:
        resolve_tag_list(META, "1080p, 8K, `@everyone`")
    assert "8K" in exc.value.values["tags"] and "1080p" not in exc.value.values["tags"]


def big_meta(count: int) -> Meta:
    return Meta.model_validate(
        {
            "categories": [{"id": "c1", "name": "Jeux", "slug": "jeux"}],
            "tagGroups": [
                {
                    "id": "g1",
                    "name": "Genres",
                    "order": 1,
                    "tags": [{"id": f"t{i}", "name": f"Tag {i}", "slug": f"tag-{i}"} for i in range(count)],
                },
                {
                    "id": "g2",
                    "name": "Plateforme (Jeux)",
                    "order": 2,
                    "tags": [{"id": "win", "name": "Windows", "slug": "windows"}],
                },
                {
                    "id": "g3",
                    "name": "Type (Séries)",
                    "order": 3,
                    "tags": [{"id": "mini", "name": "Mini-série", "slug": "mini"}],
                },
            ],
            "ungroupedTags": [{"id": "u1", "name": "Remux", "slug": "remux"}],
        }
    )


def test_too_many_tags() -> None:
    meta = big_meta(40)
    typed = ", ".join(f"Tag {i}" for i in range(MAX_TAGS + 1))
    with refused("upload.tags.too_many"):
        resolve_tag_list(meta, typed)


def test_tag_choices_fit_a_select_and_favour_the_category() -> None:
    meta = big_meta(40)
    current = resolve_tag_list(meta, "Tag 39")
    options = tag_choices(meta, ("Jeux",), current)
    ids = [t.id for t in options]
    assert len(ids) == MAX_TAGS and len(set(ids)) == MAX_TAGS
    assert ids[0] == "t39"  # what the member chose is never dropped
    assert ids[1] == "win"  # "Plateforme (Jeux)" names the category: first after the chosen
    assert "mini" not in ids  # meant for series, and no room left


def test_tag_choices_with_the_real_meta() -> None:
    films = resolve_category(META, FILMS_HD)
    ids = [t.id for t in tag_choices(META, films.path, ())]
    assert ids.index(TAG_1080P) < ids.index("cmv0tt1film000011qr8st9u") < ids.index(TAG_WINDOWS)
    games = resolve_category(META, PC_GAMES)
    ids = [t.id for t in tag_choices(META, games.path, ())]
    assert ids[0] == "cmv0tt1linu000008bc2de3f" and ids[1] == TAG_WINDOWS


# -- links --------------------------------------------------------------------------------------
def test_upload_link_never_carries_a_key() -> None:
    base = "https://la-cale.space"
    h = "a" * 40
    assert upload_link(UploadResult(link=f"{base}/torrents/x-1", slug="x-1"), base, h) == f"{base}/torrents/x-1"
    assert (
        upload_link(UploadResult(link="http://localhost:3000/torrents/x-1", slug="x-1"), base, h)
        == f"{base}/torrents/x-1"
    )
    assert upload_link(UploadResult(link=f"{base}/torrents/x?token=abc", slug="x"), base, h) == f"{base}/torrents/x"
    assert upload_link(UploadResult(link=None, slug="../../evil"), base, h) == f"{base}/api/torrents/download/{h}"
