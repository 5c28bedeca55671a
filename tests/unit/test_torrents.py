"""bot.torrents: reading, validating, re-sourcing .torrent files; title and URL helpers."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import pytest
import torf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torf import _flatbencode as bencode

from bot.torrents import (
    TorrentFileError,
    TorrentInfo,
    clean_title,
    has_lacale_source,
    read_torrent,
    redact_announce,
    set_source,
)
from tests.support.torrent_factory import DEFAULT_ANNOUNCE, info_hash_of, make_torrent

HEX40 = re.compile(r"[0-9a-f]{40}\Z")
MiB = 1024 * 1024
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reason_of(data, **kwargs) -> str:
    with pytest.raises(TorrentFileError) as exc:
        read_torrent(data, **kwargs)
    assert exc.value.detail  # always something for the logs
    return exc.value.reason


def decoded(data: bytes):
    return bencode.decode(data)


def encode_in_order(items) -> bytes:
    """A bencoded dict with its keys in the given (possibly unsorted) order."""
    return b"d" + b"".join(bencode.encode(k) + v for k, v in items) + b"e"


def with_info_changes(data: bytes, **changes) -> bytes:
    """Re-encode ``data`` with info keys changed (value None deletes the key)."""
    meta = decoded(data)
    for key, value in changes.items():
        k = key.replace("_", " ").encode()
        if value is None:
            meta[b"info"].pop(k, None)
        else:
            meta[b"info"][k] = value
    return bencode.encode(meta)


# --------------------------------------------------------------------------- basics


def test_reads_a_single_file_torrent():
    data = make_torrent("One.Piece.S01E01.1080p.mkv", size=3 * MiB, comment="hello")
    info = read_torrent(data)
    assert isinstance(info, TorrentInfo)
    assert info.name == "One.Piece.S01E01.1080p.mkv"
    assert info.total_size == 3 * MiB
    assert info.file_count == 1
    assert info.files == (("One.Piece.S01E01.1080p.mkv", 3 * MiB),)
    assert info.piece_size == 16384
    assert info.private is True
    assert info.source is None
    assert info.comment == "hello"
    assert info.created_by == "Vigie tests"
    assert info.announce == (DEFAULT_ANNOUNCE,)
    assert info.raw == data
    assert HEX40.match(info.info_hash)
    assert info.info_hash == info_hash_of(data)


def test_info_is_frozen_and_repr_hides_raw_bytes_and_passkey():
    info = read_torrent(make_torrent())
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "x"  # type: ignore[misc]
    assert "abc123" not in repr(info)
    assert "bytes>" in repr(info)


def test_accepts_bytearray_and_memoryview():
    data = make_torrent()
    assert read_torrent(bytearray(data)).info_hash == read_torrent(memoryview(data)).info_hash
    assert isinstance(read_torrent(bytearray(data)).raw, bytes)


@pytest.mark.parametrize("value", [None, "d4:infode", 42, ["x"]])
def test_non_bytes_input_is_a_torrent_file_error(value):
    assert reason_of(value) == "not_bencode"


def test_multi_file_totals_and_paths():
    files = [("E01.mkv", 1000), ("E02.mkv", 2000), ("Subs/E01.fr.srt", 30), ("empty.nfo", 0)]
    info = read_torrent(make_torrent("Show.S01.1080p", files=files))
    assert info.file_count == 4
    assert info.total_size == 3030
    assert info.files == (
        ("Show.S01.1080p/E01.mkv", 1000),
        ("Show.S01.1080p/E02.mkv", 2000),
        ("Show.S01.1080p/Subs/E01.fr.srt", 30),
        ("Show.S01.1080p/empty.nfo", 0),
    )


def test_file_list_is_capped_but_everything_is_counted():
    files = [(f"f{i:04}.bin", i) for i in range(1500)]
    info = read_torrent(make_torrent("Big", files=files))
    assert info.file_count == 1500
    assert len(info.files) == 1000
    assert info.files[-1] == ("Big/f0999.bin", 999)
    assert info.total_size == sum(range(1500))


def test_padding_files_are_left_out():
    data = make_torrent("Pack", files=[("a.mkv", 20000), (".pad/12768", 12768), ("b.mkv", 100)])
    meta = decoded(data)
    meta[b"info"][b"files"][1][b"attr"] = b"p"
    info = read_torrent(bencode.encode(meta))
    assert info.file_count == 2
    assert info.total_size == 20100
    assert [p for p, _ in info.files] == ["Pack/a.mkv", "Pack/b.mkv"]


def test_all_trackers_are_listed_once_in_order():
    urls = ["https://tracker.la-cale.space/announce?passkey=abc", "udp://other:6969/announce"]
    info = read_torrent(make_torrent(announce=urls))
    assert info.announce == tuple(urls)
    assert read_torrent(make_torrent(announce=None)).announce == ()


def test_non_utf8_name_is_decoded_with_replacement():
    data = with_info_changes(make_torrent(), name=b"\xe9t\xe9.1080p")
    assert read_torrent(data).name == "\ufffdt\ufffd.1080p"


def test_millisecond_creation_date_does_not_make_the_torrent_invalid():
    # torf's creation_date setter raises ValueError("year 55840 is out of range") here.
    data = make_torrent(creation_date=1_700_000_000_000)
    with pytest.raises(ValueError):
        torf.Torrent.read_stream(data)
    assert read_torrent(data).name == "Some.Release.1080p"


# --------------------------------------------------------------------------- private


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), (0, False), (1, True), (2, True), (b"1", False), (b"0", False), ([1], False)],
)
def test_private_flag(value, expected):
    data = with_info_changes(make_torrent(private=False), private=value)
    assert read_torrent(data).private is expected


def test_factory_private_flag():
    assert read_torrent(make_torrent(private=True)).private is True
    assert read_torrent(make_torrent(private=False)).private is False
    assert b"7:private" not in make_torrent(private=False)


# --------------------------------------------------------------------------- errors


def test_size_cap_is_checked_first():
    assert reason_of(b"x" * 11, max_bytes=10) == "too_large"
    data = make_torrent()
    with pytest.raises(TorrentFileError) as exc:
        read_torrent(data, max_bytes=len(data) - 1)
    assert exc.value.reason == "too_large"
    assert exc.value.limit == len(data) - 1
    assert read_torrent(data, max_bytes=len(data)).raw == data


def test_default_cap_is_10_mib():
    assert reason_of(b"d" + b" " * (10 * MiB)) == "too_large"


def test_torrent_between_torf_cap_and_ours_is_read():
    # torf refuses anything over 10**7 bytes with a bare ValueError; 10 MiB is larger.
    data = make_torrent("Huge", size=(10_100_000 // 20) * 16384)
    assert 10**7 < len(data) <= 10 * MiB
    info = read_torrent(data)
    assert info.total_size == (10_100_000 // 20) * 16384


def test_empty():
    assert reason_of(b"") == "empty"
    assert reason_of(bytearray()) == "empty"


@pytest.mark.parametrize(
    "data",
    [
        b"hello world",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"<html></html>",
        b" ",
        b"i42e",  # valid bencode, but not a dictionary
        b"le",
        b"4:spam",
        b"d",
        b"d4:info",
        b"de trailing",
        b"dee",
        b"di1ei2ee",  # non-string key
        b"d3:fooe",  # key without value
        b"d3:fooi03ee",  # leading zero
        b"d3:fooi-0ee",
        b"d3:fooi1.5ee",
        b"d3:fooi" + b"9" * 5000 + b"ee",  # flatbencode: ValueError (int digits limit)
        b"d4:info99999999999999:x",  # flatbencode: MemoryError
        b"d4:info" + b"9" * 25 + b":x",  # flatbencode: OverflowError
        b"d3:foo-1:xe",
    ],
)
def test_not_bencode(data):
    assert reason_of(data) == "not_bencode"


@pytest.mark.parametrize(
    "data",
    [b"de", b"d3:fooi1ee", b"d4:info4:spame", b"d4:infoli1eee", b"d4:infoi1ee", b"d5:infoxdee"],
)
def test_no_info(data):
    assert reason_of(data) == "no_info"


def _invalid_cases():
    base = make_torrent(size=100_000)  # 7 pieces of 16 KiB
    meta = decoded(base)
    info = meta[b"info"]

    def variant(**kw):
        return with_info_changes(base, **kw)

    yield "empty info", b"d4:infodee"
    yield "missing name", variant(name=None)
    yield "empty name", variant(name=b"")
    yield "missing pieces", variant(pieces=None)
    yield "empty pieces", variant(pieces=b"")
    yield "pieces not multiple of 20", variant(pieces=info[b"pieces"] + b"x")
    yield "too many pieces", variant(pieces=info[b"pieces"] + b"y" * 20)
    yield "too few pieces", variant(pieces=info[b"pieces"][:-20])
    yield "piece length not 16 KiB multiple", variant(piece_length=1000)
    yield "piece length zero", variant(piece_length=0)
    yield "piece length string", variant(piece_length=b"16384")
    yield "no length nor files", variant(length=None)
    yield "both length and files", variant(files=[{b"length": 1, b"path": [b"a"]}])
    yield "negative length", variant(length=-5)
    yield "name is an int", variant(name=5)
    multi = decoded(make_torrent(files=[("a", 100_000), ("b", 10)]))
    bad = bencode.decode(bencode.encode(multi))
    bad[b"info"][b"files"][1][b"length"] = -10
    yield "negative file length", bencode.encode(bad)
    bad = bencode.decode(bencode.encode(multi))
    bad[b"info"][b"files"][1][b"path"] = []
    yield "empty path", bencode.encode(bad)
    bad = bencode.decode(bencode.encode(multi))
    bad[b"info"][b"files"][1][b"path"] = b"a"
    yield "path not a list", bencode.encode(bad)
    bad = bencode.decode(bencode.encode(multi))
    bad[b"info"][b"files"] = b"nope"
    yield "files not a list", bencode.encode(bad)
    bad = {**meta, b"announce": b"not a url"}
    yield "bad announce url", bencode.encode(bad)
    bad = {**meta, b"announce-list": [[b"http://ok/announce", b"::nope::"]]}
    yield "bad announce-list url", bencode.encode(bad)
    yield (
        "v2-only torrent",
        encode_in_order(
            [
                (
                    b"info",
                    bencode.encode(
                        {
                            b"name": b"x",
                            b"piece length": 16384,
                            b"meta version": 2,
                            b"file tree": {b"x": {b"": {b"length": 5, b"pieces root": b"r" * 32}}},
                        }
                    ),
                ),
            ]
        ),
    )
    yield (
        "duplicate top-level info key",
        encode_in_order([(b"info", bencode.encode(info)), (b"info", bencode.encode(info))]),
    )
    yield "duplicate key inside info", b"d4:infod4:name1:a4:name1:bee"
    # "nesting too deep" has its own reason now: tests/unit/test_torrent_caps.py


@pytest.mark.parametrize(("label", "data"), list(_invalid_cases()), ids=lambda v: v if isinstance(v, str) else "")
def test_invalid(label, data):
    assert reason_of(data) == "invalid", label


def test_item_budget(monkeypatch):
    import bot.torrents

    data = make_torrent(files=[(f"f{i}", 100) for i in range(30)])
    assert read_torrent(data).file_count == 30
    monkeypatch.setattr(bot.torrents, "MAX_ITEMS", 100)
    assert reason_of(data) == "invalid"
    assert reason_of(b"d3:fool" + b"i0e" * 200 + b"e4:infodee") == "invalid"


def test_error_attributes():
    err = TorrentFileError("too_large", "11 > 10", limit=10)
    assert (err.reason, err.detail, err.limit) == ("too_large", "11 > 10", 10)
    assert "too_large" in str(err)
    assert TorrentFileError("empty").limit is None


# --------------------------------------------------------------------------- info hash


def test_info_hash_is_sha1_of_the_info_dict():
    data = make_torrent("Hash.Me", files=[("a", 40000), ("b/c", 5)])
    expected = hashlib.sha1(bencode.encode(decoded(data)[b"info"]), usedforsecurity=False).hexdigest()
    assert read_torrent(data).info_hash == expected == torf.Torrent.read_stream(data).infohash


def test_info_hash_with_an_unknown_info_key():
    data = make_torrent(extra_info={"x_cross_seed": "vigie-1234", "zz-meta": {"a": [1, 2]}})
    original_info = bencode.encode(decoded(data)[b"info"])
    assert b"12:x_cross_seed" in original_info  # the key really is in the hashed bytes
    info = read_torrent(data)
    assert info.info_hash == hashlib.sha1(original_info, usedforsecurity=False).hexdigest()
    assert info.info_hash != read_torrent(make_torrent()).info_hash
    # torf preserves unknown UTF-8 keys, so it agrees here:
    assert torf.Torrent.read_stream(data).infohash == info.info_hash


def test_info_hash_with_a_non_utf8_info_key():
    meta = decoded(make_torrent())
    meta[b"info"][b"\xff\xfeweird"] = b"value"
    data = bencode.encode(meta)
    original_info = bencode.encode(meta[b"info"])
    # torf cannot hash this at all: it sorts str and bytes keys together.
    with pytest.raises(TypeError):
        torf.Torrent.read_stream(data).infohash  # noqa: B018
    assert read_torrent(data).info_hash == hashlib.sha1(original_info, usedforsecurity=False).hexdigest()


def test_info_hash_of_non_canonical_info_is_the_original_bytes():
    meta = decoded(make_torrent(source="other"))
    items = sorted(meta[b"info"].items(), reverse=True)  # keys in reverse order
    info_bytes = encode_in_order([(k, bencode.encode(v)) for k, v in items])
    data = encode_in_order([(b"announce", bencode.encode(meta[b"announce"])), (b"info", info_bytes)])
    info = read_torrent(data)
    assert info.info_hash == hashlib.sha1(info_bytes, usedforsecurity=False).hexdigest()
    # torf re-encodes its decoded copy (sorted) and gets another hash:
    assert torf.Torrent.read_stream(data).infohash != info.info_hash


def test_info_hash_when_private_is_not_0_or_1():
    data = with_info_changes(make_torrent(private=False), private=2)
    original_info = bencode.encode(decoded(data)[b"info"])
    info = read_torrent(data)
    assert info.info_hash == hashlib.sha1(original_info, usedforsecurity=False).hexdigest()
    # torf turned it into True, which it encodes as i1e:
    assert torf.Torrent.read_stream(data).infohash != info.info_hash


def test_info_hash_ignores_everything_outside_info():
    a = read_torrent(make_torrent(comment="a", announce="http://one/announce"))
    b = read_torrent(make_torrent(comment="b", announce="http://two/announce"))
    assert a.info_hash == b.info_hash


# --------------------------------------------------------------------------- set_source


def test_set_source_round_trip_single_file():
    data = make_torrent("Film.2024.1080p.mkv", size=5 * MiB, comment="c")
    before = read_torrent(data)
    out = set_source(data)
    after = read_torrent(out)
    assert after.source == "lacale"
    assert has_lacale_source(after)
    assert after.info_hash != before.info_hash
    assert after.info_hash == info_hash_of(out)
    assert after.info_hash == hashlib.sha1(bencode.encode(decoded(out)[b"info"]), usedforsecurity=False).hexdigest()
    for field in (
        "name",
        "files",
        "total_size",
        "file_count",
        "private",
        "piece_size",
        "comment",
        "created_by",
        "announce",
    ):
        assert getattr(after, field) == getattr(before, field), field


def test_set_source_round_trip_multi_file():
    data = make_torrent("Pack", files=[("a/1.mkv", 70000), ("b.srt", 12)], private=False)
    out = set_source(data)
    after = read_torrent(out)
    assert after.source == "lacale"
    assert after.files == read_torrent(data).files
    assert after.private is False
    assert b"7:private" not in out


def test_set_source_only_touches_info_source():
    data = make_torrent(source="OtherTracker", extra_info={"unknown": "kept"})
    before, after = decoded(data), decoded(set_source(data))
    assert after[b"info"].pop(b"source") == b"lacale"
    assert before[b"info"].pop(b"source") == b"OtherTracker"
    assert after == before


def test_set_source_keeps_raw_values_torf_would_rewrite():
    meta = decoded(make_torrent(private=False))
    meta[b"info"][b"private"] = 2
    meta[b"info"][b"\xff\xfeweird"] = b"\x00\xff"
    meta[b"piece layers"] = {b"\x01" * 32: b"\x02" * 32}  # v2-style binary keys
    meta[b"creation date"] = 1_700_000_000_000
    out = decoded(set_source(bencode.encode(meta)))
    assert out[b"info"][b"private"] == 2
    assert out[b"info"][b"\xff\xfeweird"] == b"\x00\xff"
    assert out[b"piece layers"] == {b"\x01" * 32: b"\x02" * 32}
    assert out[b"creation date"] == 1_700_000_000_000


def test_set_source_is_identity_when_already_set():
    data = make_torrent(source="lacale")
    assert set_source(data) == data
    assert read_torrent(data).source == "lacale"


def test_set_source_custom_value_and_case():
    data = make_torrent(source="LACALE")
    assert not has_lacale_source(read_torrent(data))
    assert read_torrent(set_source(data)).source == "lacale"
    assert read_torrent(set_source(data, "other")).source == "other"


def test_set_source_refuses_bad_data_with_torrent_file_error():
    for data, reason in [(b"", "empty"), (b"nope", "not_bencode"), (b"de", "no_info"), (b"d4:infodee", "invalid")]:
        with pytest.raises(TorrentFileError) as exc:
            set_source(data)
        assert exc.value.reason == reason
    with pytest.raises(TorrentFileError) as exc:
        set_source(make_torrent(), max_bytes=10)
    assert exc.value.reason == "too_large"


@pytest.mark.parametrize("source", ["", None, b"lacale"])
def test_set_source_bad_source_argument(source):
    with pytest.raises(ValueError):
        set_source(make_torrent(), source)  # type: ignore[arg-type]


def test_has_lacale_source():
    assert has_lacale_source(read_torrent(make_torrent(source="lacale")))
    assert not has_lacale_source(read_torrent(make_torrent(source=None)))
    assert not has_lacale_source(read_torrent(make_torrent(source="LaCale")))
    assert not has_lacale_source(read_torrent(make_torrent(source="lacale ")))


def test_source_read_from_raw_bytes():
    assert read_torrent(with_info_changes(make_torrent(), source=b"\xffx")).source == "\ufffdx"
    assert read_torrent(with_info_changes(make_torrent(), source=7)).source is None


# --------------------------------------------------------------------------- factory


def test_factory_is_fast_and_valid():
    import time

    start = time.perf_counter()
    for i in range(100):
        data = make_torrent(f"R{i}", files=[("a.mkv", 10 * MiB), ("b.nfo", 100)])
    assert (time.perf_counter() - start) / 100 < 0.005
    torf.Torrent.read_stream(data).validate()


def test_factory_auto_piece_size_for_big_torrents():
    data = make_torrent("Remux", size=80 * 1024**3, piece_size=None)
    info = read_torrent(data)
    assert info.total_size == 80 * 1024**3
    assert info.piece_size >= 4 * MiB
    assert len(data) < 1 * MiB


def test_info_hash_of_refuses_non_canonical():
    with pytest.raises(ValueError):
        info_hash_of(b"d4:infod4:name1:x3:abci1eee")


# --------------------------------------------------------------------------- clean_title


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("One.Piece.S01E01.1080p", "One.Piece.S01E01.1080p"),
        ("One.Piece.S01E01.1080p.torrent", "One.Piece.S01E01.1080p"),
        ("One.Piece.S01E01.1080p.TORRENT", "One.Piece.S01E01.1080p"),
        ("Film.2024.1080p.WEB.x264-GRP.mkv", "Film.2024.1080p.WEB.x264-GRP"),
        ("Film.2024.mkv.torrent", "Film.2024"),
        ("  Le   Film \t (2024)\n", "Le Film (2024)"),
        ("A\x00B\x1fC", "A B C"),
        ("Album.FLAC", "Album.FLAC"),
        ("", ""),
        ("   ", ""),
        (".torrent", ""),
    ],
)
def test_clean_title(name, title):
    assert clean_title(name) == title


def test_clean_title_is_capped():
    assert clean_title("x" * 500) == "x" * 200
    assert clean_title("a" * 199 + " b") == "a" * 199  # no trailing space after the cut


# --------------------------------------------------------------------------- redact_announce


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://tracker.la-cale.space/announce?passkey=abc123", "https://tracker.la-cale.space/announce?passkey=***"),
        ("https://t.example/announce?foo=1&PassKey=s3cr3t&bar=2", "https://t.example/announce?foo=1&PassKey=***&bar=2"),
        (
            "https://t.example/announce?apikey=k&token=t&authkey=a&torrent_pass=p",
            "https://t.example/announce?apikey=***&token=***&authkey=***&torrent_pass=***",
        ),
        ("https://t.example/0123456789abcdef0123456789abcdef/announce", "https://t.example/***/announce"),
        ("https://t.example/announce/0123456789ABCDEF0123456789ABCDEF0123", "https://t.example/announce/***"),
        ("udp://t.example:6969/announce", "udp://t.example:6969/announce"),
        ("http://user:pw@t.example/announce", "http://***@t.example/announce"),
        ("https://t.example/a?x=0123456789abcdef0123456789abcdef", "https://t.example/a?x=***"),
        ("https://t.example/announce.php?passkey=", "https://t.example/announce.php?passkey="),
        ("https://t.example/aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bD1fH2/announce", "https://t.example/***/announce"),
        (
            "https://t.example/announcement-of-the-very-long-path-name/x",
            "https://t.example/announcement-of-the-very-long-path-name/x",
        ),
        ("", ""),
        ("not a url", "not a url"),
        ("http://[broken/announce?passkey=x", "http://[broken/announce?passkey=***"),
    ],
)
def test_redact_announce(url, expected):
    assert redact_announce(url) == expected


@given(st.text(max_size=200))
@FAST
def test_redact_announce_never_raises_and_hides_passkeys(text):
    out = redact_announce(text)
    assert isinstance(out, str)
    secret = "0123456789abcdef0123456789abcdef"
    assert secret not in redact_announce(f"https://t/{secret}/announce?{text}")
    assert "zzsecret" not in redact_announce(f"https://t/announce?passkey=zzsecret&{text}")


# --------------------------------------------------------------------------- properties


def check_contract(data) -> tuple[TorrentInfo, bytes, TorrentInfo] | None:
    """read_torrent gives a TorrentInfo or a TorrentFileError, nothing else; what it
    accepts, set_source can re-source. Returns (info, re-sourced bytes, their info)."""
    try:
        info = read_torrent(data)
    except TorrentFileError as e:
        assert e.reason in {"too_large", "empty", "not_bencode", "no_info", "invalid"}  # noqa: PT017 - either outcome is allowed
        return None
    assert HEX40.match(info.info_hash)
    assert info.raw == bytes(data)
    assert info.file_count >= len(info.files)
    assert info.total_size >= 0
    out = set_source(data)
    again = read_torrent(out)
    assert again.source == "lacale"
    assert (again.name, again.files, again.total_size, again.private) == (
        info.name,
        info.files,
        info.total_size,
        info.private,
    )
    return info, out, again


@given(st.binary(max_size=600))
@FAST
def test_arbitrary_bytes(data):
    check_contract(data)


@given(st.binary(max_size=300))
@FAST
def test_arbitrary_bytes_behind_a_dict_prefix(tail):
    check_contract(b"d4:info" + tail)
    check_contract(b"d4:infod" + tail)


bencode_keys = st.one_of(
    st.sampled_from(
        [
            b"info",
            b"name",
            b"length",
            b"files",
            b"path",
            b"pieces",
            b"piece length",
            b"private",
            b"source",
            b"announce",
            b"announce-list",
        ]
    ),
    st.binary(max_size=8),
)
bencode_values = st.recursive(
    st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.binary(max_size=40)),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(bencode_keys, children, max_size=5),
    ),
    max_leaves=10,
)


@given(bencode_values)
@FAST
def test_arbitrary_bencode(value):
    data = bencode.encode(value)
    check_contract(data)
    check_contract(bencode.encode({b"info": value}))


@st.composite
def plausible_info(draw):
    """Info dicts close to valid ones, so validation (not decoding) is what's exercised."""
    piece = draw(st.sampled_from([16384, 32768, 16383, 0, -16384]))
    info = {b"name": draw(st.one_of(st.binary(max_size=12), st.integers()))}
    if draw(st.booleans()):
        info[b"length"] = draw(st.integers(min_value=-10, max_value=200_000))
        size = max(info[b"length"], 0)
    else:
        files = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        b"length": st.integers(min_value=-10, max_value=100_000),
                        b"path": st.lists(st.binary(max_size=6), max_size=3),
                    }
                ),
                max_size=4,
            )
        )
        info[b"files"] = files
        size = sum(max(f[b"length"], 0) for f in files)
    count = -(-size // piece) if piece > 0 else 1
    count += draw(st.sampled_from([0, 0, 0, 1, -1]))
    info[b"pieces"] = b"\x01" * (20 * max(count, 0) + draw(st.sampled_from([0, 0, 0, 3])))
    info[b"piece length"] = piece
    extra = draw(st.dictionaries(bencode_keys, bencode_values, max_size=2))
    for k, v in extra.items():
        info.setdefault(k, v)
    return info


@given(plausible_info(), st.sampled_from([None, b"http://t/a?passkey=1", b"nope", 5]))
@FAST
def test_plausible_torrents(info, announce):
    meta = {b"info": info}
    if announce is not None:
        meta[b"announce"] = announce
    data = bencode.encode(meta)
    result = check_contract(data)
    if result is not None:
        assert result[0].info_hash == hashlib.sha1(bencode.encode(info), usedforsecurity=False).hexdigest()


path_parts = st.sampled_from(["E01.mkv", "Subs", "fr.srt", "été", "a b", "x" * 40, "Sample"])
valid_torrents = st.builds(
    make_torrent,
    st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and "/" not in s),
    files=st.one_of(
        st.none(),
        st.lists(
            st.tuples(st.lists(path_parts, min_size=1, max_size=3).map("/".join), st.integers(1, 200_000)),
            min_size=1,
            max_size=5,
        ),
    ),
    source=st.one_of(st.none(), st.sampled_from(["lacale", "other", "LACALE"])),
    private=st.booleans(),
    comment=st.one_of(st.none(), st.text(max_size=20)),
    size=st.integers(1, 300_000),
    extra_info=st.one_of(
        st.none(), st.dictionaries(st.sampled_from(["x", "zz", "entropy"]), st.integers(), max_size=2)
    ),
)


@given(valid_torrents)
@FAST
def test_valid_torrents_round_trip(data):
    result = check_contract(data)
    assert result is not None
    info, out, again = result
    assert info.info_hash == info_hash_of(data)
    assert again.info_hash == info_hash_of(out)
    if info.source == "lacale":
        assert out == data
    else:
        assert again.info_hash != info.info_hash


@given(valid_torrents, st.data())
@FAST
def test_truncated_valid_torrents(data, draw):
    cut = draw.draw(st.integers(0, len(data) - 1))
    with pytest.raises(TorrentFileError):
        read_torrent(data[:cut])


@given(valid_torrents, st.data())
@FAST
def test_mutated_valid_torrents(data, draw):
    i = draw.draw(st.integers(0, len(data) - 1))
    kind = draw.draw(st.sampled_from(["replace", "insert", "delete"]))
    byte = bytes([draw.draw(st.integers(0, 255))])
    if kind == "replace":
        mutated = data[:i] + byte + data[i + 1 :]
    elif kind == "insert":
        mutated = data[:i] + byte + data[i:]
    else:
        mutated = data[:i] + data[i + 1 :]
    check_contract(mutated)
