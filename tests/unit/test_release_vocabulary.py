"""The canonical values of the release-aware criteria and the spellings members type."""

from __future__ import annotations

import pytest

from bot.releases.vocabulary import (
    CODECS,
    LANGUAGES,
    RESOLUTIONS,
    SOURCES,
    VOCABULARIES,
    Criterion,
    canonical,
    choices,
)


def test_the_canonical_values_of_issue_12() -> None:
    assert list(RESOLUTIONS) == ["2160p", "1080p", "720p", "SD"]
    assert list(SOURCES) == ["WEB-DL", "WEBRip", "BluRay", "Remux", "HDTV", "DVD"]
    assert list(CODECS) == ["x264", "x265", "AV1"]
    assert list(LANGUAGES) == ["MULTi", "VFF", "VFQ", "VF2", "TRUEFRENCH", "FRENCH", "VOSTFR", "VO"]


@pytest.mark.parametrize(
    ("criterion", "typed", "expected"),
    [
        ("resolution", "4K", "2160p"),
        ("resolution", "uhd", "2160p"),
        ("resolution", "2160P", "2160p"),
        ("resolution", "1080", "1080p"),
        ("resolution", "480p", "SD"),
        ("resolution", "576p", "SD"),
        ("resolution", "sd", "SD"),
        ("source", "web-dl", "WEB-DL"),
        ("source", "WEB DL", "WEB-DL"),
        ("source", "webdl", "WEB-DL"),
        ("source", "web", "WEB-DL"),
        ("source", "WebRip", "WEBRip"),
        ("source", "blu-ray", "BluRay"),
        ("source", "BDRip", "BluRay"),
        ("source", "remux", "Remux"),
        ("source", "hdtv", "HDTV"),
        ("source", "DVDRip", "DVD"),
        ("codec", "H.264", "x264"),
        ("codec", "AVC", "x264"),
        ("codec", "h265", "x265"),
        ("codec", "HEVC", "x265"),
        ("codec", "av1", "AV1"),
        ("language", "multi", "MULTi"),
        ("language", "MULTI", "MULTi"),
        ("language", "vff", "VFF"),
        ("language", "VFI", "VFF"),
        ("language", "vfq", "VFQ"),
        ("language", "vf2", "VF2"),
        ("language", "TrueFrench", "TRUEFRENCH"),
        ("language", "french", "FRENCH"),
        ("language", "vostfr", "VOSTFR"),
        ("language", "SUBFRENCH", "VOSTFR"),
        ("language", " vo ", "VO"),
    ],
)
def test_canonical_reads_aliases_case_insensitively(criterion: str, typed: str, expected: str) -> None:
    assert canonical(criterion, typed) == expected
    assert canonical(Criterion(criterion), typed) == expected


@pytest.mark.parametrize(
    ("criterion", "typed"),
    [
        ("resolution", "1440x"),
        ("resolution", ""),
        ("source", "cam"),
        ("codec", "xvid"),
        ("language", "german"),
        ("language", "x"),
    ],
)
def test_canonical_is_none_for_unknown_values(criterion: str, typed: str) -> None:
    assert canonical(criterion, typed) is None


def test_every_canonical_value_reads_as_itself() -> None:
    for criterion, vocabulary in VOCABULARIES.items():
        for value in vocabulary:
            assert canonical(criterion, value) == value
            assert canonical(criterion, value.lower()) == value


def test_an_unknown_criterion_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        canonical("colour", "red")


def test_choices_for_autocomplete() -> None:
    assert choices("source") == list(SOURCES)
    assert choices("language", "") == list(LANGUAGES)
    assert choices("resolution", "4k") == ["2160p"]
    assert choices("codec", "hev") == ["x265"]
    assert choices("source", "web") == ["WEB-DL", "WEBRip"]
    assert choices("language", "VOST") == ["VOSTFR"]
    # "french" starts FRENCH and is inside TRUEFRENCH: the value starting with it comes first.
    assert choices("language", "french") == ["FRENCH", "TRUEFRENCH", "VOSTFR"]
    assert choices("codec", "zzz") == []
