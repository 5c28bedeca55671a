"""The criteria value (bot/criteria): one declaration per criterion, and everything a
layer needs from it (options, storage, compilation, matching, description)."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import i18n
from bot.criteria import BY_OPTION, CRITERIA, Criteria, ReleaseView, check
from bot.errors import UserError
from bot.lacale.models import Meta, Torrent

META = Meta.model_validate(json.loads((Path(__file__).parents[1] / "fakes" / "lacale_meta.json").read_text("utf-8")))


def torrent(title: str, *, size: int = 2_000_000_000, seeders: int = 10, category: str = "Films HD") -> Torrent:
    return Torrent.model_validate(
        {
            "title": title,
            "size": size,
            "seeders": seeders,
            "category": category,
            "pubDate": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
            "infoHash": "a" * 40,
        }
    )


def plain(text: str) -> str:
    return text


def test_each_field_is_one_criterion() -> None:
    assert [f.name for f in fields(Criteria)] == [c.name for c in CRITERIA]
    assert len({c.option for c in CRITERIA}) == len(CRITERIA) == len(BY_OPTION)
    for f in fields(Criteria):
        assert f.default == f.metadata["criterion"].empty  # an empty criterion filters nothing


def test_every_criterion_speaks_both_languages() -> None:
    """Its option's description is translated, its refusals are counted by /alert test."""
    for criterion in CRITERIA:
        assert i18n.command_text("fr", criterion.description), criterion
        assert i18n.command_text("fr", criterion.option), criterion  # the option's French name
        for lang in ("fr", "en"):
            text = i18n.t(lang, f"alert.test.drop.{criterion.kind}", count=2)
            assert not text.startswith("alert."), (criterion, lang)


def test_options_give_criteria_and_edits_change_only_what_is_given() -> None:
    criteria = Criteria.from_options({"query": "dune", "category": ("films",), "min_seeders": 0, "channel": 5})
    assert criteria == Criteria(query="dune", categories=("films",), min_seeders=0)
    edited = criteria.with_options({"max_size": 10, "query": None}, clear=("category",))
    assert edited == Criteria(query="dune", max_size=10, min_seeders=0)
    assert criteria.with_options({}) is criteria
    # A value given wins over the same option cleared.
    assert criteria.with_options({"category": ("series",)}, clear=("category",)).categories == ("series",)


def test_parsing_refuses_with_precise_messages() -> None:
    assert BY_OPTION["min_size"].parse("1,5 Go") == 1_500_000_000
    assert BY_OPTION["exclude"].parse("CAM, hd  ts") == ("cam", "hd ts")
    assert BY_OPTION["query"].parse("  One   Piece ") == "One Piece"
    with pytest.raises(UserError) as told:
        BY_OPTION["max_size"].parse("12 parsecs")
    assert (told.value.key, told.value.values["field"]) == ("alert.error.bad_size", "max_size")
    with pytest.raises(UserError) as told:
        BY_OPTION["tmdb"].parse("12a")
    assert told.value.key == "search.bad_tmdb"


def test_validation_normalises_and_checks_together() -> None:
    assert Criteria(categories=("Films HD",)).validated(META).categories == ("films-hd",)  # a label typed
    assert Criteria(exclude=("CAM", "cam", "Hd Ts")).validated(None).exclude == ("cam", "hd ts")
    with pytest.raises(UserError) as told:
        Criteria(min_size=10, max_size=9).validated(None)
    assert told.value.key == "alert.error.size_range"
    with pytest.raises(UserError) as told:
        Criteria(categories=("nowhere",)).validated(META)
    assert told.value.key == "search.unknown_category"
    assert Criteria(categories=("films",)).needs_meta and not Criteria(query="x").needs_meta


def test_storage_keeps_only_what_is_set_and_reads_old_and_new_json() -> None:
    criteria = Criteria(query="dune", categories=("films",), min_seeders=0, exclude=("cam",))
    stored = criteria.to_json()
    assert stored == {"query": "dune", "categories": ["films"], "min_seeders": 0, "exclude": ["cam"]}
    assert json.loads(json.dumps(stored)) == stored
    assert Criteria.from_json(stored) == criteria
    assert Criteria.from_json({}) == Criteria() == Criteria.from_json(None)
    # A key written by a newer version is ignored; nulls read as unset.
    assert Criteria.from_json({"query": "dune", "someday": ["x"], "tmdb_id": None}) == Criteria(query="dune")


def test_compiled_criteria_check_in_order_with_late_ones_last() -> None:
    compiled = Criteria(tmdb_id="42", query="dune", min_size=1_000).compile(None)
    assert [CRITERIA[i].name for i, _ in compiled] == ["query", "min_size", "tmdb_id"]
    # Atomic values only: the poller keeps thousands of these.
    assert all(isinstance(v, (str, int, tuple)) for _, v in compiled)
    release = ReleaseView.of(torrent("Dune.2021.1080p", size=500))
    assert check(compiled, release).kind == "size"
    assert check(compiled, ReleaseView.of(torrent("Dune.2021", size=5_000))).kind == "tmdb"
    assert check(compiled, ReleaseView.of(torrent("Dune.2021", size=5_000)), tmdb_hashes={"a" * 40}).ok
    assert check(Criteria().compile(None), release).ok  # no criteria: everything


def test_description_is_localised_and_escaped() -> None:
    criteria = Criteria(query="*dune*", min_size=2**30, min_seeders=1)
    fr = criteria.describe("fr", lambda s: s.replace("*", "\\*"))
    assert fr == ["mots « \\*dune\\* »", "au moins 1,0\xa0Gio", "au moins 1 seeder"]
    assert criteria.describe("en-US", plain)[1:] == ["at least 1.0\xa0GiB", "at least 1 seeder"]
    assert Criteria().describe("fr", plain) == []


def test_a_release_is_read_once_per_info_hash_and_only_when_asked() -> None:
    from bot.releases import RELEASES

    RELEASES.clear()
    first = ReleaseView.of(torrent("Dune.Part.Two.2024.MULTi.VFF.2160p.WEB-DL.x265-GRP"))
    assert len(RELEASES) == 0  # a query-only alert never pays for the parser
    assert first.info.badges() == ("2160p", "WEB-DL", "x265", "MULTi", "VFF")
    again = ReleaseView.of(torrent("Dune.Part.Two.2024.MULTi.VFF.2160p.WEB-DL.x265-GRP"))
    assert again.info == first.info and (RELEASES.misses, len(RELEASES)) == (1, 1)
    first.info  # noqa: B018  (kept on the view: no second lookup)
    assert RELEASES.hits == 1
