"""bot.torrents: the caps on what a torrent may declare (issue 9, item 5).

A hostile .torrent under 10 MiB can hold ~440,000 tracker URLs, a million tiny items,
deep nesting or megabyte-long names. Each cap is refused with its own reason (and so its
own message) before torf decodes anything; just under each cap the torrent is read.
"""

from __future__ import annotations

import pickle

import pytest
from torf import _flatbencode as bencode

import bot.torrents
from bot.torrents import (
    MAX_DEPTH,
    MAX_FILES,
    MAX_NAME_BYTES,
    MAX_TRACKERS,
    TorrentFileError,
    read_torrent,
    set_source,
)
from tests.support.torrent_factory import make_torrent


def refusal(data: bytes) -> TorrentFileError:
    with pytest.raises(TorrentFileError) as exc:
        read_torrent(data)
    assert exc.value.detail
    return exc.value


def with_announce_list(tiers: list[list[bytes]]) -> bytes:
    meta = bencode.decode(make_torrent("Trackers", announce=None))
    meta[b"announce"] = tiers[0][0]
    meta[b"announce-list"] = tiers
    return bencode.encode(meta)


# -- tracker URLs -------------------------------------------------------------------------------
def test_duplicate_tracker_urls_are_listed_once_in_first_seen_order() -> None:
    urls = [f"https://t{i}.example/announce".encode() for i in range(50)]
    tiers = [[u] for u in urls] + [urls[::-1]] + [[urls[7], urls[3]]]  # 150 entries, 50 distinct
    info = read_torrent(with_announce_list(tiers))
    assert info.announce == tuple(u.decode() for u in urls)


def test_tracker_urls_up_to_the_cap_are_read() -> None:
    urls = [f"https://t{i}.example/announce".encode() for i in range(MAX_TRACKERS)]
    assert len(read_torrent(with_announce_list([urls[:100], urls[100:]])).announce) == MAX_TRACKERS


def test_more_tracker_urls_than_the_cap_are_refused() -> None:
    urls = [f"https://t{i}.example/announce".encode() for i in range(MAX_TRACKERS + 1)]
    err = refusal(with_announce_list([[u] for u in urls]))
    assert (err.reason, err.limit) == ("too_many_trackers", MAX_TRACKERS)


def test_two_hundred_thousand_copies_of_one_url_are_refused() -> None:
    # The stall of issue 9: duplicates count (each one is read and checked by torf).
    # Today's code read this (slowly: deduplication through a list); it must be refused.
    url = b"http://t.example/a?passkey=0123456789abcdef"
    data = with_announce_list([[url] * 100_000, [url] * 100_000])
    assert len(data) < 10 * 1024 * 1024
    err = refusal(data)
    assert (err.reason, err.limit) == ("too_many_trackers", MAX_TRACKERS)
    assert "0123456789abcdef" not in err.detail


# -- files --------------------------------------------------------------------------------------
def test_files_up_to_the_cap_are_read() -> None:
    data = make_torrent("Pack", files=[(f"d{i % 10}/f{i}", 1) for i in range(MAX_FILES)])
    assert read_torrent(data).file_count == MAX_FILES


def test_more_files_than_the_cap_are_refused() -> None:
    data = make_torrent("Pack", files=[(f"f{i}", 1) for i in range(MAX_FILES + 1)])
    err = refusal(data)
    assert (err.reason, err.limit) == ("too_many_files", MAX_FILES)


def test_padding_files_count_towards_the_file_cap() -> None:
    meta = bencode.decode(make_torrent("Pack", files=[(f"f{i}", 1) for i in range(MAX_FILES // 2 + 1)]))
    files = meta[b"info"][b"files"]
    pad = {b"attr": b"p", b"length": 0, b"path": [b".pad", b"0"]}
    meta[b"info"][b"files"] = [entry for f in files for entry in (f, pad)]
    assert refusal(bencode.encode(meta)).reason == "too_many_files"


# -- nesting ------------------------------------------------------------------------------------
def test_nesting_too_deep() -> None:
    # (Was refused as "invalid" before the caps had their own reasons.)
    err = refusal(b"d3:foo" + b"l" * 100 + b"e" * 100 + b"4:infodee")
    assert (err.reason, err.limit) == ("too_deep", MAX_DEPTH)


def test_nesting_at_the_cap_is_read() -> None:
    # Top-level dict (1) + info dict (2) + "junk" lists up to MAX_DEPTH levels in all.
    junk = 0
    for _ in range(MAX_DEPTH - 2):
        junk = [junk]
    assert read_torrent(make_torrent("Deep", extra_info={"junk": junk})).name == "Deep"
    junk = [junk]
    assert refusal(make_torrent("Deep", extra_info={"junk": junk})).reason == "too_deep"


def test_file_path_deeper_than_the_cap_is_refused() -> None:
    ok = "/".join(["d"] * (MAX_DEPTH - 1) + ["file.mkv"])
    assert read_torrent(make_torrent("Pack", files=[(ok, 10), ("b", 1)])).file_count == 2
    err = refusal(make_torrent("Pack", files=[("d/" + ok, 10), ("b", 1)]))
    assert (err.reason, err.limit) == ("too_deep", MAX_DEPTH)


# -- names --------------------------------------------------------------------------------------
def test_name_longer_than_the_cap_is_refused() -> None:
    assert read_torrent(make_torrent("é" * (MAX_NAME_BYTES // 2))).name == "é" * (MAX_NAME_BYTES // 2)
    err = refusal(make_torrent("N" * (MAX_NAME_BYTES + 1)))
    assert (err.reason, err.limit) == ("name_too_long", MAX_NAME_BYTES)
    err = refusal(make_torrent("N" * 9_000_000))
    assert err.reason == "name_too_long"


def test_path_component_longer_than_the_cap_is_refused() -> None:
    assert read_torrent(make_torrent("Pack", files=[("x" * MAX_NAME_BYTES, 1), ("b", 1)])).file_count == 2
    err = refusal(make_torrent("Pack", files=[("d/" + "x" * (MAX_NAME_BYTES + 1), 1), ("b", 1)]))
    assert (err.reason, err.limit) == ("name_too_long", MAX_NAME_BYTES)


def test_long_strings_elsewhere_are_fine() -> None:
    # A long comment is no file name: read (C-speed work), not refused.
    assert read_torrent(make_torrent("C", comment="c" * 2_000_000)).comment == "c" * 2_000_000


# -- integers -----------------------------------------------------------------------------------
def test_integer_digits_have_a_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_torrent("Ints", extra_info={"junk": [10**30] * 40})
    assert read_torrent(data).name == "Ints"
    monkeypatch.setattr(bot.torrents, "MAX_INT_DIGITS", 1000)
    assert refusal(data).reason == "invalid"


def test_integer_digits_budget_refuses_ten_mib_of_huge_integers() -> None:
    big = b"i" + b"9" * 4000 + b"e"
    data = make_torrent("Ints")[:-1] + b"4:junkl" + big * 2500 + b"ee"
    assert refusal(data).reason == "invalid"


# -- the error crosses processes ----------------------------------------------------------------
def test_error_survives_pickling_with_its_reason_and_limit() -> None:
    err = TorrentFileError("too_many_files", "more than 10000 files at byte 5", limit=10_000)
    back = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes, just made
    assert (type(back), back.reason, back.detail, back.limit) == (
        TorrentFileError,
        "too_many_files",
        err.detail,
        10_000,
    )
    assert str(back) == str(err)


def test_detail_is_cut_for_the_logs() -> None:
    assert len(TorrentFileError("invalid", "x" * 1_000_000).detail) <= 500


def test_set_source_applies_the_caps() -> None:
    data = make_torrent("Pack", files=[(f"f{i}", 1) for i in range(MAX_FILES + 1)])
    with pytest.raises(TorrentFileError) as exc:
        set_source(data)
    assert exc.value.reason == "too_many_files"
