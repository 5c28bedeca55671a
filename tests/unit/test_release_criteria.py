"""The release-aware criteria (bot/criteria): what a release's name says, read once by
bot.releases, against what a member asked, in any spelling, several values at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.criteria import BY_OPTION, Criteria, ReleaseView, check
from bot.errors import UserError
from bot.lacale.models import Torrent


def release(title: str) -> ReleaseView:
    return ReleaseView.of(
        Torrent.model_validate(
            {
                "title": title,
                "size": 1,
                "pubDate": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
                "infoHash": (format(abs(hash(title)), "x") * 5)[:40],
            }
        )
    )


def passes(criteria: Criteria, title: str) -> bool:
    return check(criteria.validated(None).compile(None), release(title)).ok


def kind(criteria: Criteria, title: str) -> str:
    return check(criteria.validated(None).compile(None), release(title)).kind


def test_resolution_any_of_several_in_any_spelling() -> None:
    option = BY_OPTION["resolution"]
    assert option.parse("4k, 1080") == ("2160p", "1080p")
    assert option.parse("1080p,2160P,UHD") == ("2160p", "1080p")  # canonical, once, in the vocabulary's order
    wanted = Criteria(resolution=option.parse("2160p, 1080p"))
    assert passes(wanted, "Dune.Part.Two.2024.MULTi.2160p.WEB-DL.x265-GRP")
    assert passes(wanted, "Dune.Part.Two.2024.FRENCH.1080p.BluRay.x264-GRP")
    assert not passes(wanted, "Dune.Part.Two.2024.FRENCH.720p.WEB.x264-GRP")
    assert kind(wanted, "Dune.Part.Two.2024.FRENCH.720p.WEB.x264-GRP") == "resolution"
    assert kind(wanted, "Dune.Part.Two.2024.FRENCH.WEB.x264-GRP") == "resolution"  # the name does not say
    assert passes(Criteria(resolution=("SD",)), "Les.Visiteurs.1993.FRENCH.DVDRip.480p.XviD-GRP")
    with pytest.raises(UserError) as told:
        option.parse("1080p, 8mm")
    assert told.value.key == "alert.error.bad_value"
    assert (told.value.values["option"], told.value.values["value"]) == ("resolution", "8mm")
    assert "2160p, 1080p, 720p, SD" in told.value.values["values"]


def test_resolution_is_suggested_one_value_after_the_other() -> None:
    option = BY_OPTION["resolution"]
    assert [v for _, v in option.suggest("", None)] == ["2160p", "1080p", "720p", "SD"]
    assert [v for _, v in option.suggest("4k", None)] == ["2160p"]  # an alias finds its value
    assert [v for _, v in option.suggest("4", None)] == ["2160p", "SD"]  # 4k, 480p
    assert [v for _, v in option.suggest("2160p, 72", None)] == ["2160p, 720p"]
    assert "2160p, 2160p" not in [v for _, v in option.suggest("2160p,", None)]


def test_resolution_is_stored_and_described() -> None:
    criteria = Criteria(resolution=("2160p", "1080p"))
    assert Criteria.from_json(criteria.to_json()) == criteria
    assert criteria.to_json() == {"resolution": ["2160p", "1080p"]}
    assert criteria.describe("fr", str) == ["résolution 2160p, 1080p"]
    assert criteria.describe("en", str) == ["resolution 2160p, 1080p"]


def test_source_any_of_several_and_remux_is_not_an_encode() -> None:
    option = BY_OPTION["source"]
    assert option.parse("web, bdrip, Web Rip") == ("WEB-DL", "WEBRip", "BluRay")
    web = Criteria(source=("WEB-DL", "WEBRip"))
    assert passes(web, "The.Bear.S03E01.MULTi.1080p.WEB.H264-GRP")
    assert passes(web, "The.Bear.S03E01.VOSTFR.1080p.WEBRip.x264-GRP")
    assert kind(web, "The.Bear.S03.MULTi.1080p.BluRay.x264-GRP") == "source"
    assert passes(Criteria(source=("Remux",)), "Dune.2021.MULTi.2160p.UHD.BluRay.REMUX.HDR.HEVC-GRP")
    assert not passes(Criteria(source=("BluRay",)), "Dune.2021.MULTi.2160p.UHD.BluRay.REMUX.HDR.HEVC-GRP")
    assert Criteria(source=("HDTV",)).describe("fr", str) == ["source HDTV"]
    with pytest.raises(UserError):
        option.parse("vhs")


def test_codec_by_any_of_its_names() -> None:
    option = BY_OPTION["codec"]
    assert option.parse("HEVC, h.264") == ("x264", "x265")
    hevc = Criteria(codec=option.parse("hevc"))
    assert passes(hevc, "Dune.2021.MULTi.2160p.WEB-DL.DDP5.1.x265-GRP")
    assert passes(hevc, "Dune.2021.MULTi.2160p.WEB-DL.DDP5.1.HEVC-GRP")
    assert kind(hevc, "Dune.2021.MULTi.1080p.WEB-DL.DDP5.1.H264-GRP") == "codec"
    assert passes(Criteria(codec=("AV1",)), "Dune.2021.MULTi.1080p.WEB-DL.AV1-GRP")
    assert Criteria(codec=("x265", "AV1")).describe("en", str) == ["codec x265, AV1"]


MULTI_1080 = "Dune.Part.Two.2024.MULTi.1080p.WEB-DL.x264-GRP"
MULTI_VFF = "Dune.Part.Two.2024.MULTi.VFF.2160p.WEB-DL.x265-GRP"
VOSTFR = "Dune.Part.Two.2024.VOSTFR.1080p.WEB-DL.x264-GRP"
TRUEFRENCH = "Dune.Part.Two.2024.TRUEFRENCH.1080p.BluRay.x264-GRP"
FRENCH = "Dune.Part.Two.2024.FRENCH.1080p.BluRay.x264-GRP"
VFQ = "Dune.Part.Two.2024.VFQ.1080p.WEB.x264-GRP"
VF2 = "Dune.Part.Two.2024.VF2.1080p.BluRay.x264-GRP"
NO_TAG = "Dune.Part.Two.2024.1080p.WEB-DL.x264-GRP"


@pytest.mark.parametrize(
    ("asked", "kept", "dropped"),
    [
        ("MULTi", [MULTI_1080, MULTI_VFF], [VOSTFR, FRENCH, TRUEFRENCH, VFQ, NO_TAG]),
        ("VFF", [MULTI_VFF, TRUEFRENCH, VF2], [MULTI_1080, FRENCH, VFQ, VOSTFR]),
        ("TRUEFRENCH", [TRUEFRENCH, MULTI_VFF, VF2], [FRENCH, VFQ, VOSTFR]),
        ("VFQ", [VFQ, VF2], [MULTI_VFF, TRUEFRENCH, FRENCH]),
        ("FRENCH", [FRENCH, TRUEFRENCH, MULTI_1080, MULTI_VFF, VFQ, VF2], [VOSTFR, NO_TAG]),
        ("VOSTFR", [VOSTFR], [MULTI_1080, FRENCH]),
        ("vostfr, multi", [VOSTFR, MULTI_1080], [FRENCH, NO_TAG]),
    ],
)
def test_language_follows_the_french_scene(asked: str, kept: list[str], dropped: list[str]) -> None:
    criteria = Criteria(language=BY_OPTION["language"].parse(asked))
    assert [t for t in kept if not passes(criteria, t)] == []
    assert [t for t in dropped if kind(criteria, t) != "language"] == []


def test_language_spellings_and_description() -> None:
    option = BY_OPTION["language"]
    assert option.parse("multi, vf, SUBFRENCH") == ("MULTi", "FRENCH", "VOSTFR")
    assert Criteria(language=("MULTi", "VFF")).describe("fr", str) == ["langue MULTi, VFF"]
    assert [v for _, v in option.suggest("MULTi, vf", None)][:3] == ["MULTi, VFF", "MULTi, VFQ", "MULTi, VF2"]


def test_season_keeps_its_episodes_and_its_packs() -> None:
    option = BY_OPTION["season"]
    assert option.parse("s2, 1, Saison 02, S001") == ("S01", "S02")
    second = Criteria(season=("S02",))
    assert passes(second, "The.Bear.S02E05.MULTi.1080p.WEB.H264-GRP")
    assert passes(second, "The.Bear.S02.MULTi.1080p.WEB.H264-GRP")  # the full season
    assert passes(second, "The.Bear.S01-S03.MULTi.1080p.WEB.H264-GRP")  # a pack of several
    assert kind(second, "The.Bear.S03E01.MULTi.1080p.WEB.H264-GRP") == "season"
    assert kind(second, "Dune.2021.MULTi.1080p.WEB.H264-GRP") == "season"  # a film says no season
    with pytest.raises(UserError) as told:
        option.parse("S01, deux")
    assert (told.value.key, told.value.values["value"]) == ("alert.error.bad_season", "deux")
    assert Criteria(season=("S01", "S02")).describe("fr", str) == ["saison S01, S02"]
    assert [v for _, v in option.suggest("S01, 3", None)] == ["S01, S03"]
    assert Criteria.from_json(Criteria(season=("S01",)).to_json()) == Criteria(season=("S01",))


def test_episode_or_a_full_season() -> None:
    option = BY_OPTION["episode"]
    assert option.parse("s1e2, S01E02, Intégrale, S2E10") == ("pack", "S01E02", "S02E10")
    wanted = Criteria(episode=option.parse("S01E02"))
    assert passes(wanted, "The.Bear.S01E02.MULTi.1080p.WEB.H264-GRP")
    assert passes(wanted, "The.Bear.S01E02E03.MULTi.1080p.WEB.H264-GRP")
    assert kind(wanted, "The.Bear.S01E03.MULTi.1080p.WEB.H264-GRP") == "episode"
    assert kind(wanted, "The.Bear.S02E02.MULTi.1080p.WEB.H264-GRP") == "episode"
    assert kind(wanted, "The.Bear.S01.MULTi.1080p.WEB.H264-GRP") == "episode"  # the pack is not the episode
    packs = Criteria(season=("S02",), episode=("pack",))
    assert passes(packs, "The.Bear.S02.MULTi.1080p.WEB.H264-GRP")
    assert kind(packs, "The.Bear.S02E01.MULTi.1080p.WEB.H264-GRP") == "episode"
    assert kind(packs, "The.Bear.S01.MULTi.1080p.WEB.H264-GRP") == "season"
    with pytest.raises(UserError) as told:
        option.parse("S01E02, E05")
    assert (told.value.key, told.value.values["value"]) == ("alert.error.bad_episode", "E05")
    assert Criteria(episode=("pack", "S01E02")).describe("fr", str) == ["épisode saison complète, S01E02"]
    assert [v for _, v in option.suggest("S01E02, s1e3", None)] == ["S01E02, S01E03"]
    assert [v for _, v in option.suggest("pa", None)] == ["pack"]


def test_regex_on_the_title_in_linear_time() -> None:
    option = BY_OPTION["regex"]
    wanted = Criteria(regex=option.parse(r"^dune\.part\.(one|two)\b"))
    assert passes(wanted, "Dune.Part.Two.2024.MULTi.2160p.WEB-DL.x265-GRP")  # case-insensitive
    assert kind(wanted, "Dune.2021.MULTi.2160p.WEB-DL.x265-GRP") == "regex"
    # A catastrophic-backtracking classic runs in linear time under RE2.
    evil = Criteria(regex=option.parse("(a+)+$"))
    assert not passes(evil, "a" * 5_000 + "!")
    for typed, key in [
        ("(?=dune)", "alert.error.regex.unsupported"),
        ("dune(", "alert.error.regex.parentheses"),
        ("[z-a]", "alert.error.regex.brackets"),
        ("*dune", "alert.error.regex.repetition"),
        ("x" * 201, "alert.error.regex.too_long"),
    ]:
        with pytest.raises(UserError) as told:
            option.parse(typed)
        assert told.value.key == key, typed
    assert Criteria(regex="x265").describe("en", str) == ["title matching « x265 »"]
    assert Criteria.from_json(Criteria(regex="a|b").to_json()) == Criteria(regex="a|b")
    # Checked after the others: a release the words turn away never reaches RE2.
    compiled = Criteria(regex="x", query="dune").validated(None).compile(None)
    assert compiled[-1][1] == "x"
