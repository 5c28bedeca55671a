"""Release-aware criteria through the fake Discord and the fake La Cale: the real bot reads
each release's name (resolution, source, codec, language…) and its alerts keep only what
they ask for; /alert test shows what it read and which criterion turned each result away;
cards and search results carry the badges."""

from __future__ import annotations

from typing import Any

import pytest

from bot.releases import RELEASES
from tests.e2e.conftest import VigieWorld
from tests.e2e.test_alerts import alert_posts, cycle, final, titles

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def ready(world: VigieWorld) -> VigieWorld:
    await world.register_key()
    return world


def posted_titles(world: VigieWorld) -> list[str]:
    return [t for m in alert_posts(world, world.channel) for t in titles(m)]


async def test_a_multi_alert_keeps_multi_and_drops_vostfr(ready: VigieWorld) -> None:
    w = ready
    created = await final(w, "alert add", name="dune vf", query="dune", language="multi")
    assert "language MULTi" in created["content"]
    w.lacale.add_torrent("Dune.Part.Two.2024.MULTi.1080p.WEB.H264-GRP")
    w.lacale.add_torrent("Dune.Part.Two.2024.VOSTFR.1080p.WEB.H264-GRP")
    w.lacale.add_torrent("Dune.Part.Two.2024.MULTi.VFF.2160p.WEB-DL.x265-GRP")
    await cycle(w)
    assert sorted(posted_titles(w)) == [
        "Dune.Part.Two.2024.MULTi.1080p.WEB.H264-GRP",
        "Dune.Part.Two.2024.MULTi.VFF.2160p.WEB-DL.x265-GRP",
    ]
    # The alert's cards carry the badges of what the name says.
    cards = {e["title"].replace("\\", ""): e for m in alert_posts(w, w.channel) for e in m["embeds"]}
    assert (
        "2160p · WEB-DL · x265 · MULTi · VFF"
        in cards["Dune.Part.Two.2024.MULTi.VFF.2160p.WEB-DL.x265-GRP"]["description"]
    )
    listed = (await final(w, "alert list"))["embeds"][0]["description"]
    assert "language MULTi" in listed


async def test_a_resolution_filter_and_its_edit(ready: VigieWorld) -> None:
    w = ready
    await final(w, "alert add", name="uhd", resolution="4k, 1080p")
    w.lacale.add_torrent("Arcane.S02E01.MULTi.2160p.WEB-DL.x265-GRP")
    w.lacale.add_torrent("Arcane.S02E01.MULTi.720p.WEB-DL.x264-GRP")
    w.lacale.add_torrent("Arcane.S02E01.MULTi.1080p.WEB-DL.x264-GRP")
    await cycle(w)
    assert sorted(posted_titles(w)) == [
        "Arcane.S02E01.MULTi.1080p.WEB-DL.x264-GRP",
        "Arcane.S02E01.MULTi.2160p.WEB-DL.x265-GRP",
    ]
    edited = await final(w, "alert edit", name="uhd", resolution="720p", codec="h264")
    assert "resolution 720p" in edited["content"] and "codec x264" in edited["content"]
    w.lacale.add_torrent("Arcane.S02E02.MULTi.720p.WEB-DL.x264-GRP")
    w.lacale.add_torrent("Arcane.S02E02.MULTi.720p.WEB-DL.x265-GRP")
    await cycle(w)
    assert posted_titles(w)[-1] == "Arcane.S02E02.MULTi.720p.WEB-DL.x264-GRP" and len(posted_titles(w)) == 3
    cleared = await final(w, "alert edit", name="uhd", clear="resolution, codec")
    assert "every new release" in cleared["content"]


async def test_a_regex_alert_and_a_refused_pattern(ready: VigieWorld) -> None:
    w = ready
    refused = await final(w, "alert add", name="bad", regex="(?=dune)")
    assert "look-around" in refused["content"] and "(?=dune)" in refused["content"]
    assert "No alerts yet" in (await final(w, "alert list"))["content"]  # nothing was saved
    await final(w, "alert add", name="dune films", regex=r"^dune\.(part\.)?(one|two)\b")
    w.lacale.add_torrent("Dune.Part.Two.2024.MULTi.1080p.WEB.H264-GRP")
    w.lacale.add_torrent("Dune.Prophecy.S01E01.MULTi.1080p.WEB.H264-GRP")
    await cycle(w)
    assert posted_titles(w) == ["Dune.Part.Two.2024.MULTi.1080p.WEB.H264-GRP"]


async def test_bad_values_are_refused_before_la_cale_is_asked(ready: VigieWorld) -> None:
    w = ready
    before = len(w.lacale.requests)
    answer = await final(w, "alert add", name="x", language="multi, klingon")
    assert "« klingon » is not a value language knows" in answer["content"]
    assert "MULTi, VFF, VFQ, VF2, TRUEFRENCH, FRENCH, VOSTFR, VO" in answer["content"]
    answer = await final(w, "alert add", name="x", episode="S01E02, E05", locale="fr")
    assert "« E05 » n'est pas un épisode" in answer["content"]
    assert len(w.lacale.requests) == before


async def test_suggestions_complete_one_value_after_the_other(ready: VigieWorld) -> None:
    w = ready
    choices = await w.discord.autocomplete("alert add", "language", "MULTi, vf", by=w.admin, in_channel=w.channel)
    assert [c["value"] for c in choices][:3] == ["MULTi, VFF", "MULTi, VFQ", "MULTi, VF2"]
    choices = await w.discord.autocomplete("alert edit", "codec", "hev", by=w.admin, in_channel=w.channel)
    assert [c["value"] for c in choices] == ["x265"]


async def test_alert_test_shows_what_was_read_and_what_turned_each_away(ready: VigieWorld) -> None:
    w = ready
    w.lacale.add_torrent("Dune.Part.Two.2024.MULTi.2160p.WEB-DL.x265-GRP")
    w.lacale.add_torrent("Dune.Part.Two.2024.VOSTFR.1080p.WEB.H264-GRP")
    w.lacale.add_torrent("Dune.Part.Two.2024.MULTi.720p.WEB.H264-GRP")
    await final(w, "alert add", name="dune", query="dune", language="MULTi", resolution="2160p, 1080p")
    RELEASES.clear()
    answer = await final(w, "alert test", name="dune")
    text = answer["content"]
    assert "The newest results, as Vigie read their names" in text
    lines: dict[str, str] = {}
    for line in text.splitlines():
        for title in ("MULTi.2160p", "VOSTFR.1080p", "MULTi.720p"):
            if title in line.replace("\\", ""):
                lines[title] = line
    assert lines["MULTi.2160p"].startswith("✅") and "2160p · WEB-DL · x265 · MULTi" in lines["MULTi.2160p"]
    assert lines["VOSTFR.1080p"].startswith("❌") and "1080p · WEB-DL · x264 · VOSTFR" in lines["VOSTFR.1080p"]
    assert "turned away: language MULTi" in lines["VOSTFR.1080p"]
    assert "turned away: resolution 2160p, 1080p" in lines["MULTi.720p"]
    assert "1 in another language" in text and "1 in another resolution" in text
    assert titles(answer) == ["Dune.Part.Two.2024.MULTi.2160p.WEB-DL.x265-GRP"]
    # Three names read once each, however many times they were looked at.
    assert RELEASES.misses == 3


async def test_search_results_carry_the_badges(ready: VigieWorld) -> None:
    w = ready
    w.lacale.add_torrent("Dune.Part.Two.2024.MULTi.2160p.WEB-DL.x265-GRP")
    answer: dict[str, Any] = await final(w, "search", query="dune")
    page = answer["embeds"][0]["description"]
    assert "2160p · WEB-DL · x265 · MULTi" in page
