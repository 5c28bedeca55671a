"""The matching rule of alerts, criterion by criterion (pure functions, no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.criteria import Criteria
from bot.lacale.models import Meta, Torrent
from bot.services.alerts.fetch import TargetedQuery
from bot.services.alerts.matching import (
    AlertFilter,
    ReleaseView,
    match,
    match_all,
    normalize_words,
    parse_exclude,
)

META = Meta.model_validate(json.loads((Path(__file__).parents[1] / "fakes" / "lacale_meta.json").read_text("utf-8")))
NOW = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)


def torrent(
    title: str,
    *,
    category: str = "Films HD",
    size: int = 2_000_000_000,
    seeders: int = 10,
    info_hash: str | None = None,
) -> Torrent:
    return Torrent.model_validate(
        {
            "title": title,
            "size": size,
            "pubDate": NOW.isoformat(),
            "category": category,
            "seeders": seeders,
            "infoHash": info_hash or (format(abs(hash(title)), "x") * 5)[:40],
        }
    )


def alert(**values: Any) -> AlertFilter:
    row = SimpleNamespace(
        id=values.pop("id", 1),
        name=values.pop("name", "a"),
        criteria=Criteria(
            query=values.pop("query", None),
            categories=tuple(values.pop("categories", [])),
            tmdb_id=values.pop("tmdb_id", None),
            min_size=values.pop("min_size", None),
            max_size=values.pop("max_size", None),
            min_seeders=values.pop("min_seeders", None),
            exclude=tuple(values.pop("exclude", [])),
        ),
    )
    assert not values
    return AlertFilter.from_alert(row, META)


def ok(a: AlertFilter, t: Torrent, **kw: Any) -> bool:
    return match(a, ReleaseView.of(t), **kw).ok


def test_normalize_words_like_la_cale() -> None:
    assert normalize_words("Astérix.et.Obélix: Mission Cléopâtre (2002)") == (
        "asterix",
        "et",
        "obelix",
        "mission",
        "cleopatre",
        "2002",
    )
    assert normalize_words("One.Piece.S01E01.1080p-LACALE") == ("one", "piece", "s01e01", "1080p", "lacale")
    assert normalize_words("ÉTÉ_2024") == ("ete", "2024")
    assert normalize_words("") == () and normalize_words(None) == ()
    assert normalize_words("Спектакль.2024") == ("спектакль", "2024")  # other scripts keep their words


def test_ligatures_are_spelt_out() -> None:
    """Members type ``coeur`` and ``ae``; titles say ``Cœur`` and ``Æ``."""
    assert normalize_words("Le.Cœur.a.ses.raisons") == ("le", "coeur", "a", "ses", "raisons")
    assert normalize_words("ŒUVRE Æon ægis Straße ﬁn ﬂeur ĳs Ørsted Łódź") == (
        "oeuvre",
        "aeon",
        "aegis",
        "strasse",
        "fin",
        "fleur",
        "ijs",
        "orsted",
        "lodz",
    )
    assert ok(alert(query="coeur"), torrent("Le.Cœur.des.hommes.2003"))
    assert ok(alert(query="ae"), torrent("Æ.Flux.S01"))
    assert ok(alert(query="aeon flux"), torrent("ÆON.FLUX.2005"))
    assert ok(alert(query="cœur"), torrent("Coeur.Battant"))  # typed with the ligature too
    assert ok(alert(query="strasse"), torrent("Die.Straße.1080p"))
    assert not ok(alert(query="coeur", exclude=["oeuvre"]), torrent("Cœur.Œuvre.Complete"))


def test_search_autocomplete_and_alerts_share_the_normalisation() -> None:
    """/search's category labels, autocomplete and alert titles use one function."""
    from bot.lacale.models import normalize_text
    from bot.services.alerts.matching import normalize_label

    assert normalize_text("Cœur") == "coeur" == normalize_label("CŒUR")
    assert normalize_words("Cœur") == (normalize_text("Coeur"),)


def test_every_query_word_must_start_a_title_word() -> None:
    release = torrent("One.Piece.S01E01.1080p.WEB.x264")
    assert ok(alert(query="one piece"), release)
    assert ok(alert(query="PIECE s01"), release)  # order and case do not matter
    assert ok(alert(query="1080"), release)  # a prefix: 1080 finds 1080p
    assert not ok(alert(query="one piece s02"), release)
    assert not ok(alert(query="iece"), release)  # never the middle of a word
    assert match(alert(query="naruto"), ReleaseView.of(release)).kind == "word"
    assert ok(alert(query="Astérix"), torrent("Asterix.et.Obelix.2002"))  # accents ignored both ways
    assert ok(alert(query="le comte"), torrent("Le.Comte.de.Monte-Cristo.2024"))


def test_category_includes_children_and_uses_labels() -> None:
    films_hd = torrent("Dune.2021", category="Films HD")
    series = torrent("Arcane.S02", category="Séries TV")
    assert ok(alert(categories=["films"]), films_hd)  # parent includes its child
    assert ok(alert(categories=["video"]), series)  # grand-parent too
    assert ok(alert(categories=["films-hd"]), films_hd)
    assert not ok(alert(categories=["films-hd"]), torrent("Dune.2021", category="Films"))
    decision = match(alert(categories=["films"]), ReleaseView.of(series))
    assert not decision.ok and decision.kind == "category"
    assert ok(alert(categories=["films", "series"]), series)
    assert ok(alert(categories=["s-ries-hd"]), torrent("X", category="séries hd"))  # labels compared normalised


def test_unknown_category_matches_nothing() -> None:
    assert not ok(alert(categories=["gone-slug"]), torrent("Dune"))
    no_meta = AlertFilter.from_alert(SimpleNamespace(id=1, name="a", criteria=Criteria(categories=("films",))), None)
    assert not ok(no_meta, torrent("Dune"))


def test_sizes_are_inclusive_bounds_and_seeders_a_minimum() -> None:
    t = torrent("Dune", size=1_000, seeders=5)
    assert ok(alert(min_size=1_000, max_size=1_000), t)
    assert match(alert(min_size=1_001), ReleaseView.of(t)).kind == "size"
    assert match(alert(max_size=999), ReleaseView.of(t)).kind == "size"
    assert ok(alert(min_seeders=5), t)
    assert match(alert(min_seeders=6), ReleaseView.of(t)).kind == "seeders"


def test_excluded_words_are_whole_words_or_phrases() -> None:
    assert not ok(alert(exclude=["cam"]), torrent("Film.2024.CAM.x264"))
    assert ok(alert(exclude=["cam"]), torrent("Cameron.2024.1080p"))
    assert not ok(alert(exclude=["hd ts"]), torrent("Film.HD.TS.2024"))
    assert ok(alert(exclude=["hd ts"]), torrent("Film.HD.2024.TS"))
    assert match(alert(exclude=["vostfr"]), ReleaseView.of(torrent("Film.VOSTFR"))).kind == "exclude"


def test_parse_exclude() -> None:
    assert parse_exclude("cam, hd ts") == ["cam", "hd ts"]
    assert parse_exclude("CAM  TS") == ["cam", "ts"]
    assert parse_exclude("Vóstfr,,cam,cam") == ["vostfr", "cam"]
    assert parse_exclude("") == [] and parse_exclude(None) == []


def test_tmdb_needs_the_servers_answer() -> None:
    t = torrent("Dune.2021.1080p", info_hash="a" * 40)
    f = alert(tmdb_id="438631", query="dune")
    assert match(f, ReleaseView.of(t)).kind == "tmdb"
    assert ok(f, t, tmdb_hashes={"a" * 40})
    assert not ok(f, t, tmdb_hashes={"b" * 40})
    assert not ok(alert(tmdb_id="438631", query="arcane"), t, tmdb_hashes={"a" * 40})  # other criteria still apply


def test_match_all_keeps_release_order_and_logs_drops(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="vigie.alerts.match")
    a, b = alert(id=1, query="dune"), alert(id=2, query="arcane")
    releases = [
        ReleaseView.of(torrent("Dune.2021")),
        ReleaseView.of(torrent("Arcane.S02")),
        ReleaseView.of(torrent("Dune.Part.Two")),
    ]
    found = match_all([a, b], releases, guild_id=7)
    assert [(m.alert.alert_id, m.release.torrent.title) for m in found] == [
        (1, "Dune.2021"),
        (2, "Arcane.S02"),
        (1, "Dune.Part.Two"),
    ]
    assert "guild=7 alert=2 drop" in caplog.text and "word 'arcane' not in title" in caplog.text


def test_targeted_query_is_normalised_and_expanded() -> None:
    q1 = TargetedQuery.for_alert(alert(query="One.Piece", categories=["films"]), META)
    q2 = TargetedQuery.for_alert(alert(query="one   PIECE", categories=["films"]), META)
    assert q1 == q2  # two spellings, one request
    assert q1.text == "one piece" and set(q1.categories) == {"films", "films-hd", "animation"}
    tmdb = TargetedQuery.for_alert(alert(tmdb_id="42", query="dune", categories=["films"]), META)
    assert tmdb == TargetedQuery(tmdb_id="42")  # words and categories are checked locally
    assert TargetedQuery.for_alert(alert(min_size=5), META).is_newest
