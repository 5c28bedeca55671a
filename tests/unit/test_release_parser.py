"""What a release name says (bot/releases/parse.py) and the cache by info hash
(bot/releases/cache.py)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.releases import (
    RELEASES,
    ReleaseInfo,
    ReleaseParser,
    parse_release,
    parsed,
    warm_up,
)
from bot.releases import parse as parse_module
from tests.support.release_names import FIELDS, load_release_names, score


@pytest.mark.parametrize(
    ("name", "languages"),
    [
        ("Dune.Part.Two.2024.MULTi.VFF.2160p.WEB-DL.DDP5.1.x265-GRP", {"MULTi", "VFF"}),
        ("Dune.Part.Two.2024.MULTI.VFQ.1080p.WEB.H264-GRP", {"MULTi", "VFQ"}),
        ("Le Labyrinthe 2014 Multi-VF2 1080p BluRay x264-PopHD", {"MULTi", "VF2"}),
        ("Spy.Kids.2001.MULTi.VF2.1080p.BluRay.x264-PopHD", {"MULTi", "VF2"}),
        ("Ouija.Origin.of.Evil.2016.MULTi.TRUEFRENCH.1080p.BluRay.x264-MELBA", {"MULTi", "TRUEFRENCH"}),
        ("After Earth 2013 VFF BDrip x264 YJ", {"VFF"}),
        ("Maman, j'ai raté l'avion 1990 VFI 1080p BluRay DTS x265-HTG", {"VFF"}),
        ("Everest.2015.FRENCH.VFQ.BDRiP.x264-CNF30", {"FRENCH", "VFQ"}),
        ("Dunkirk.2017.VFF.VFQ.2160p.BluRay.x265-GRP", {"VFF", "VFQ"}),
        ("Pompeii.2014.TRUEFRENCH.BRRip.XviD-DesTroY", {"TRUEFRENCH"}),
        ("Incassable.TRUE.FRENCH.PROPER.READ.NFO.DVDRiP.DiVX.SBC-KFT", {"TRUEFRENCH"}),
        ("Big.Eyes.2014.FRENCH.BDRip.XviD-GLUPS", {"FRENCH"}),
        ("Pokémon S16 - E29 - 1280*720 HDTV VF.mkv", {"FRENCH"}),
        ("Insaisissables 1080p FR EN x264 ac3 mHDgz", {"FRENCH"}),
        ("Arrow.S03E01.FASTSUB.VOSTFR.HDTV.x264-ADDiCTiON", {"VOSTFR"}),
        ("Color.Of.Night.Unrated.DC.VostFR.BRrip.x264", {"VOSTFR"}),
        ("The.Conjuring.The.Devil.Made.Me.Do.It.2021.SUBFRENCH.2160p.WEB.H265-McNULTY", {"VOSTFR"}),
        ("Underworld Quadrilogie VO+VFF+VFQ 1080p HDlight.x264", {"VO", "VFF", "VFQ"}),
        ("Cowboy Bebop - 1080p BDrip Audio+sub MULTI (VF / VOSTFR)", {"MULTi", "FRENCH", "VOSTFR"}),
        # Several subtitles are not several audio tracks; "Fre" is guessit's French.
        ("Movie Directory 25 Anniversary 1990 Eng Fre Multi Subs 720p [H264 mp4]", {"FRENCH"}),
        # A title's words are not tags.
        ("La.French.2014.FRENCH.BRRip.x264.AC3-DesTroY", {"FRENCH"}),
        ("The.French.Connection.1971.1080p.BluRay.x264-GRP", set()),
        ("Vostok.2019.1080p.WEB.H264-GRP", set()),
        ("Oppenheimer.2023.2160p.UHD.BluRay.x265-GRP", set()),
    ],
)
def test_french_language_tags(name: str, languages: set[str]) -> None:
    assert parse_release(name).languages == frozenset(languages)


@pytest.mark.parametrize(
    ("name", "resolution", "source", "codec"),
    [
        ("Movie.2024.2160p.WEB-DL.DDP5.1.x265-GRP", "2160p", "WEB-DL", "x265"),
        ("Movie.2024.1080p.WEB.H264-GRP", "1080p", "WEB-DL", "x264"),
        ("Movie.2024.1080p.WEBRip.x264-GRP", "1080p", "WEBRip", "x264"),
        ("Movie.2024.720p.BluRay.x264-GRP", "720p", "BluRay", "x264"),
        ("Movie.2024.BDRip.x264-GRP", None, "BluRay", "x264"),
        ("Movie.2024.2160p.UHD.BluRay.HEVC-GRP", "2160p", "BluRay", "x265"),
        ("Movie.2024.1080p.BluRay.REMUX.AVC.DTS-HD.MA.5.1-GRP", "1080p", "Remux", "x264"),
        ("Movie.2019.UHD.BDRemux.2160p.HEVC-GRP", "2160p", "Remux", "x265"),
        ("Movie.2019.4K.Remux.HDR-GRP", "2160p", "Remux", None),
        ("Show.S01E01.720p.HDTV.x264-GRP", "720p", "HDTV", "x264"),
        ("Show.S01E01.PDTV.XviD-GRP", None, "HDTV", None),
        ("Movie.2010.DVDRip.XviD-GRP", None, "DVD", None),
        ("Movie.2010.PAL.DVDR-GRP", None, "DVD", None),
        ("Movie.2010.576p.DVDRip.x264-GRP", "SD", "DVD", "x264"),
        ("Movie.2023.1080p.WEB-DL.AV1.Opus-GRP", "1080p", "WEB-DL", "AV1"),
        ("Pirates de langkasuka.2008.FRENCH.1920X1080.h264.AVC.AsiaRa", "1080p", None, "x264"),
        ("Movie.2015.1920x800.BluRay.x264-GRP", "1080p", "BluRay", "x264"),
        ("One Piece 603 VOSTFR PS VITA (960x544) V2", "SD", None, None),
        ("Movie.2016.HDTS.TrueFrench-GRP", None, None, None),  # a telesync is none of our sources
    ],
)
def test_resolution_source_codec(name: str, resolution: str | None, source: str | None, codec: str | None) -> None:
    info = parse_release(name)
    assert (info.resolution, info.source, info.codec) == (resolution, source, codec)


@pytest.mark.parametrize(
    ("name", "seasons", "episodes", "full_season"),
    [
        ("Show.S01E02.MULTi.1080p.WEB.H264-GRP", (1,), (2,), False),
        ("Show.S02.MULTi.1080p.WEB.H264-GRP", (2,), (), True),
        ("Show.S01-S03.MULTi.1080p.BluRay.x265-GRP", (1, 2, 3), (), True),
        ("Show.S01E01E02.FRENCH.720p.HDTV.x264-GRP", (1,), (1, 2), False),
        ("Kaamelott Saison 2 Épisode 5 FRENCH 1080p", (2,), (5,), False),
        ("Movie.2024.MULTi.1080p.WEB.H264-GRP", (), (), False),
    ],
)
def test_seasons_and_episodes(
    name: str, seasons: tuple[int, ...], episodes: tuple[int, ...], full_season: bool
) -> None:
    info = parse_release(name)
    assert (info.seasons, info.episodes, info.full_season) == (seasons, episodes, full_season)


def test_badges_read_resolution_source_codec_then_languages_in_order() -> None:
    info = parse_release("Show.S01E02.VOSTFR.MULTi.VFF.2160p.WEB-DL.DDP5.1.x265-GRP")
    assert info.badges() == ("2160p", "WEB-DL", "x265", "MULTi", "VFF", "VOSTFR")
    assert ReleaseInfo(codec="AV1", languages=frozenset({"VO", "FRENCH"})).badges() == ("AV1", "FRENCH", "VO")
    assert ReleaseInfo().badges() == ()


@pytest.mark.parametrize("name", ["", "   ", ".....", "-", "x" * 5000, "[]()", "S01E", "\x00\x01", "🎬🎬", None, 42])
def test_malformed_names_read_as_empty(name: object) -> None:
    info = parse_release(name)  # type: ignore[arg-type]
    assert isinstance(info, ReleaseInfo)
    assert info.languages == frozenset() or name == "x" * 5000


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=120))
def test_never_raises(name: str) -> None:
    assert isinstance(parse_release(name), ReleaseInfo)


def test_a_guessit_failure_reads_nothing_instead_of_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    import guessit

    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("rebulk exploded")

    monkeypatch.setattr(guessit, "guessit", broken)
    info = parse_release("Movie.2024.MULTi.VFF.1080p.WEB.H264-GRP")
    # guessit's fields are empty; the French tags are our own rules and still read.
    assert (info.resolution, info.source, info.codec) == (None, None, None)
    assert info.languages == {"MULTi", "VFF"}


def test_a_long_name_is_cut_before_guessit() -> None:
    name = "Movie.2024.MULTi.1080p.WEB.H264-GRP." + "x" * 10_000
    assert parse_release(name).languages == {"MULTi"}
    assert parse_module.NAME_READ_MAX < 1000


# -- the cache ------------------------------------------------------------------------------------


def test_a_release_is_read_once_per_info_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    real = parse_module.parse_release

    def counting(name: str) -> ReleaseInfo:
        reads.append(name)
        return real(name)

    monkeypatch.setattr("bot.releases.cache.parse_release", counting)
    cache = ReleaseParser(size=10)
    first = cache.parsed("ABCDEF" * 7, "Movie.2024.MULTi.VFF.1080p.WEB.H264-GRP")
    again = cache.parsed("abcdef" * 7, "Movie.2024.MULTi.VFF.1080p.WEB.H264-GRP")  # same hash, other case
    assert again is first and len(reads) == 1
    assert (cache.hits, cache.misses, len(cache)) == (1, 1, 1)
    # Without an info hash nothing identifies the release: read every time, not cached.
    cache.parsed("", "Movie.2024.1080p.WEB.H264-GRP")
    cache.parsed("", "Movie.2024.1080p.WEB.H264-GRP")
    assert len(reads) == 3 and len(cache) == 1


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = ReleaseParser(size=2)
    cache.parsed("a" * 40, "A.2024.1080p.WEB.H264-GRP")
    cache.parsed("b" * 40, "B.2024.720p.WEB.H264-GRP")
    cache.parsed("a" * 40, "A.2024.1080p.WEB.H264-GRP")  # "a" used again: "b" is now the oldest
    cache.parsed("c" * 40, "C.2024.2160p.WEB.H265-GRP")
    assert len(cache) == 2
    misses = cache.misses
    cache.parsed("a" * 40, "A.2024.1080p.WEB.H264-GRP")
    assert cache.misses == misses
    cache.parsed("b" * 40, "B.2024.720p.WEB.H264-GRP")
    assert cache.misses == misses + 1
    with pytest.raises(ValueError):
        ReleaseParser(size=0)


def test_the_cache_is_safe_from_threads() -> None:
    cache = ReleaseParser(size=50)
    names = [f"Movie.{year}.MULTi.1080p.WEB.H264-GRP" for year in range(2000, 2020)]
    results: list[ReleaseInfo] = []
    lock = threading.Lock()

    def work(offset: int) -> None:
        for index in range(60):
            position = (index + offset) % len(names)
            info = cache.parsed(f"{position:040x}", names[position])
            with lock:
                results.append(info)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 240 and all(info.languages == {"MULTi"} for info in results)
    assert len(cache) == len(names) and cache.hits + cache.misses == 240


def test_the_process_wide_cache_and_warm_up() -> None:
    warm_up()
    RELEASES.clear()
    info = parsed("f" * 40, "Movie.2024.MULTi.VFF.2160p.WEB-DL.x265-GRP")
    assert info.badges() == ("2160p", "WEB-DL", "x265", "MULTi", "VFF")
    assert parsed("f" * 40, "ignored: the name of a known hash is not read again") is info
    RELEASES.clear()


# -- accuracy on real names -----------------------------------------------------------------------

#: The floor each field must keep on tests/data/release_names_fr.tsv. The parser reads
#: every field of every name correctly today (see benchmarks/release_parser.py); the floor
#: leaves room for 2 misses in 228 names (a guessit upgrade moving one edge case), and a
#: regression past it fails here.
ACCURACY_FLOOR = 0.99


def test_accuracy_on_real_french_release_names() -> None:
    names = load_release_names()
    assert len(names) >= 200
    assert len({labelled.name for labelled in names}) == len(names)
    assert all(labelled.cited_from for labelled in names)
    result = score(names, parse_release)
    shares = {field: result.share(field) for field in FIELDS}
    assert all(share >= ACCURACY_FLOOR for share in shares.values()), (shares, result.misses)
