"""/search and /meta through the fake Discord and the fake La Cale."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import VigieWorld

pytestmark = pytest.mark.asyncio


def embed_text(message: dict[str, Any]) -> str:
    embed = message["embeds"][0]
    parts = [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", "")]
    parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


def component_ids(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for row in message.get("components", []):
        for comp in row.get("components", []):
            if comp.get("custom_id"):
                out[comp["custom_id"]] = comp
    return out


@pytest.fixture
async def ready(world: VigieWorld) -> VigieWorld:
    await world.register_key()
    return world


async def search(
    world: VigieWorld, *, by: Any = None, locale: str = "en-US", **options: Any
) -> tuple[Any, dict[str, Any]]:
    rec = await world.invoke("search", by=by, locale=locale, **options)
    await rec.wait_response()
    assert rec.deferred, "a search must be deferred at once"
    return rec, await rec.wait_final()


async def test_query_category_tmdb_sort_private(ready: VigieWorld) -> None:
    lc = ready.lacale
    lc.add_torrent("Dune.Part.Two.2024.1080p.WEB", category_label="Films HD", size=4 * 2**30, seeders=5, tmdb_id=693134)
    lc.add_torrent("Dune.2021.2160p.UHD", category_label="Films HD", size=20 * 2**30, seeders=50, tmdb_id=438631)
    lc.add_torrent("Dune.Prophecy.S01E01.1080p", category_label="Séries HD", size=2 * 2**30, seeders=7)

    rec, msg = await search(ready, query="dune")
    assert not rec.ephemeral
    text = embed_text(msg)
    assert text.count("Dune") == 3 and "3 results" in text
    assert "4.0\u00a0GiB" in text and "▲ 5 ▼ 1" in text and re.search(r"<t:\d+:R>", text)

    _, msg = await search(ready, query="dune", category="films")
    assert "Prophecy" not in embed_text(msg) and embed_text(msg).count("Dune") == 2

    _, msg = await search(ready, tmdb="693134")
    assert "Part.Two" in embed_text(msg) and "1 result" in embed_text(msg) and "1 results" not in embed_text(msg)

    _, msg = await search(ready, query="dune", sort="seeders")
    first = embed_text(msg).split("**1.**", 1)[1].split("\n", 1)[0]
    assert "2160p" in first

    rec, msg = await search(ready, query="dune", sort="smallest", private=True)
    assert rec.ephemeral
    assert "Prophecy" in embed_text(msg).split("**1.**", 1)[1].split("\n", 1)[0]


async def test_paging_sort_and_other_member(ready: VigieWorld) -> None:
    for i in range(23):
        ready.lacale.add_torrent(f"Show.S01E{i:02d}.1080p", size=(i + 1) * 2**20)
    rec, msg = await search(ready, query="show")
    ids = component_ids(msg)
    assert ids["search:first"]["disabled"] and ids["search:prev"]["disabled"]
    assert ids["search:counter"]["label"] == "1/3"

    last = await ready.discord.click(rec, "search:last")
    msg = await last.wait_final()
    assert component_ids(msg)["search:counter"]["label"] == "3/3"
    assert "**21.**" in embed_text(msg) and "**23.**" in embed_text(msg)
    assert component_ids(msg)["search:next"]["disabled"]

    back = await ready.discord.click(rec, "search:prev")
    msg = await back.wait_final()
    assert component_ids(msg)["search:counter"]["label"] == "2/3" and "**11.**" in embed_text(msg)

    first = await ready.discord.click(rec, "search:first")
    msg = await first.wait_final()
    assert "**1.**" in embed_text(msg)

    # Someone else cannot turn the pages or sort...
    other = await ready.discord.click(rec, "search:next", by=ready.member)
    refused = await other.wait_final()
    assert other.ephemeral and "Only the member who ran the command" in refused["content"]
    assert component_ids(rec.original)["search:counter"]["label"] == "1/3"
    # ...but can open a result's details, privately.
    details = await ready.discord.select(rec, "search:details", ["0"], by=ready.member)
    detail_msg = await details.wait_final()
    assert details.ephemeral and "Info hash" in embed_text(detail_msg)

    # Sorting by size, largest first, as the author
    sorted_rec = await ready.discord.select(rec, "search:sort", ["largest"])
    msg = await sorted_rec.wait_final()
    assert "E22" in embed_text(msg).split("**1.**", 1)[1].split("\n", 1)[0]


async def test_details_and_download_with_own_key_only(ready: VigieWorld) -> None:
    item = ready.lacale.add_torrent("Some.Movie.2020.1080p")
    rec, _ = await search(ready, query="some movie")
    # Without a personal key: told how to get one, no button.
    details = await ready.discord.select(rec, "search:details", ["0"])
    msg = await details.wait_final()
    assert "/key set" in embed_text(msg) and not msg.get("components")
    assert item["infoHash"] in embed_text(msg)

    personal = ready.lacale.add_key()
    await ready.register_member_key(ready.admin, personal)
    details = await ready.discord.select(rec, "search:details", ["0"])
    msg = await details.wait_final()
    assert "search:download" in component_ids(msg)
    got = await ready.discord.click(details, "search:download")
    final = await got.wait_final()
    assert got.ephemeral
    data = final["attachments"][0]["data"]
    assert ready.lacale.passkey_of(personal).encode() in data
    assert ready.lacale.passkey_of(ready.key).encode() not in data
    # the file was fetched with the member's key, not the server's
    downloads = [r for r in ready.lacale.requests if r.path.startswith("/api/torrents/download")]
    assert downloads and all(r.key == personal for r in downloads)


async def test_autocomplete_with_accents_and_parent_category(ready: VigieWorld) -> None:
    choices = await ready.discord.autocomplete("search", "category", "sér", by=ready.admin, in_channel=ready.channel)
    names = [c["name"] for c in choices]
    assert any("Séries TV" in n for n in names)
    assert any(c["value"] == "series" for c in choices)
    assert any(c["value"] == "s-ries-hd" for c in choices)

    ready.lacale.add_torrent("Child.Release.1080p", category_label="Séries HD")
    ready.lacale.add_torrent("Parent.Release.1080p", category_label="Séries TV")
    ready.lacale.add_torrent("Other.Release.1080p", category_label="Films")
    _, msg = await search(ready, category="series")
    text = embed_text(msg)
    assert "Child.Release" in text and "Parent.Release" in text and "Other.Release" not in text


async def test_empty_result_and_limits(ready: VigieWorld) -> None:
    _, msg = await search(ready, query="nothing-matches-this")
    assert "No release found" in msg["content"]

    before = ready.lacale.count("/api/external")
    rec = await ready.invoke("search", query="x" * 201)
    msg = await rec.wait_final()
    assert rec.ephemeral and "200" in msg["content"]
    rec = await ready.invoke("search", query="x", tmdb="abc")
    assert "digits" in (await rec.wait_final())["content"]
    rec = await ready.invoke("search", query="x", category="no-such-category")
    msg = await rec.wait_final()
    assert "Unknown category" in msg["content"]
    # the public "thinking" placeholder was replaced by a private answer
    assert rec.original is None and rec.followups[-1]["flags"] & 64
    assert ready.lacale.count("/api/external") == before


async def test_result_count_in_each_language(ready: VigieWorld) -> None:
    """Counts take the plural form of the member's language: French counts 0 and 1 as
    singular ("1 résultat"), English only 1."""
    lc = ready.lacale
    lc.add_torrent("Arcane.S01.1080p", category_label="Séries HD", seeders=3)
    lc.add_torrent("Dune.2021.2160p.UHD", category_label="Films HD", seeders=50)
    lc.add_torrent("Dune.Part.Two.2024.1080p.WEB", category_label="Films HD", seeders=5)

    _, msg = await search(ready, query="arcane", locale="fr")
    assert "Page 1/1 · 1 résultat" in embed_text(msg) and "résultats" not in embed_text(msg)
    _, msg = await search(ready, query="dune", locale="fr")
    assert "Page 1/1 · 2 résultats" in embed_text(msg)
    _, msg = await search(ready, query="arcane", locale="en-GB")
    assert embed_text(msg).endswith("Page 1/1 · 1 result")


async def test_refused_key_and_outage_messages(ready: VigieWorld) -> None:
    ready.lacale.fail_next("/api/external", status=403, error="Access denied")
    rec = await ready.invoke("search", query="a", locale="fr")
    msg = await rec.wait_final()
    assert "refusé la clé" in msg["content"] and "/setup key" in msg["content"]

    ready.lacale.fail_next("/api/external", status=500, times=10)
    rec = await ready.invoke("search", query="b")
    msg = await rec.wait_final()
    assert "not answering" in msg["content"]

    ready.lacale.clear_faults()
    ready.lacale.fail_next("/api/external", status=429, retry_after=30)
    rec = await ready.invoke("search", query="c", by=ready.admin)
    assert "retry in 30 s" in (await rec.wait_final())["content"]


async def test_untrusted_title_stays_text(ready: VigieWorld) -> None:
    ready.lacale.add_torrent("**Bold** @everyone [click](http://evil.example) <@&123> __x__")
    _rec, msg = await search(ready, query="bold")
    text = embed_text(msg)
    assert "\\*\\*Bold\\*\\*" in text and "@\u200beveryone" in text and "\\[click\\]" in text
    assert msg["mention_everyone"] is False and msg["mentions"] == [] and msg["mention_roles"] == []


async def test_identical_searches_share_one_request_and_cooldown(ready: VigieWorld) -> None:
    ready.lacale.add_torrent("Shared.Release")
    before = ready.lacale.count("/api/external")
    for member in (ready.admin, ready.member, ready.admin):
        await search(ready, query="shared", by=member)
    assert ready.lacale.count("/api/external") == before + 1
    for _ in range(4):  # 6 searches a minute by default
        await search(ready, query="shared", by=ready.admin)
    rec = await ready.invoke("search", query="shared", by=ready.admin)
    assert "retry in" in (await rec.wait_final())["content"]


async def test_no_secret_in_anything_sent(ready: VigieWorld) -> None:
    ready.lacale.drift = True
    ready.lacale.add_torrent("Drifted.Release.1080p")
    await search(ready, query="drifted")
    sent = "\n".join(ready.discord.all_sent_text())
    assert ready.key not in sent
    for word in ("passkey=", "apikey=", "token="):
        assert word not in sent.lower()


async def test_meta_categories_and_tags(ready: VigieWorld) -> None:
    rec = await ready.invoke("meta categories")
    msg = await rec.wait_final()
    text = embed_text(msg)
    assert rec.ephemeral and "`s-ries-hd`" in text and "cmv0aa1seri00005bv7f3k1p" in text
    rec = await ready.invoke("meta categories", filter="linux")
    assert "Linux" in embed_text(await rec.wait_final())
    rec = await ready.invoke("meta tags", locale="fr")
    text = embed_text(await rec.wait_final())
    assert "Genres" in text and "aucun tag dans ce groupe" in text


async def test_buttons_disappear_when_the_view_times_out(ready: VigieWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.ui.search_view as search_view

    monkeypatch.setattr(search_view, "VIEW_TIMEOUT", 0.3)
    ready.lacale.add_torrent("Timeout.Release")
    rec, msg = await search(ready, query="timeout")
    assert msg["components"]
    await ready.discord.wait_until(lambda: rec.original is not None and not rec.original.get("components"), timeout=5)
    assert rec.original["embeds"], "the results stay, only the buttons go"


async def test_links_carrying_a_secret_are_rebuilt_from_the_base_url(ready: VigieWorld) -> None:
    """A result whose ``link`` carries ``pk=``, ``torrent_pass=`` or a passkey in its path
    is shown with the link rebuilt from the base URL, in the results and in the details."""
    passkey = "0123456789abcdef0123456789abcdef"
    links = [
        "{base}/torrents/x?pk=SECRETPK1",
        "{base}/torrents/y?torrent_pass=SECRETTP2",
        "{base}/" + passkey + "/announce",
    ]
    items = [ready.lacale.add_torrent(f"Leaky.Link.{i}", link=link) for i, link in enumerate(links)]
    ready.lacale.add_torrent("Leaky.Clean.3", link="{base}/torrents/leaky-clean-3-abc123")
    rec, msg = await search(ready, query="leaky")
    description = msg["embeds"][0]["description"]
    base = ready.lacale.base_url
    for item in items:
        assert f"({base}/api/torrents/download/{item['infoHash']})" in description
    assert f"({base}/torrents/leaky-clean-3-abc123)" in description  # a clean page link is kept
    urls = set()
    for index in range(4):
        details = await ready.discord.select(rec, "search:details", [str(index)])
        urls.add((await details.wait_final())["embeds"][0]["url"])
    assert urls == {f"{base}/api/torrents/download/{item['infoHash']}" for item in items} | {
        f"{base}/torrents/leaky-clean-3-abc123"
    }
    sent = "\n".join(ready.discord.all_sent_text())
    for secret in ("SECRETPK1", "SECRETTP2", passkey):
        assert secret not in sent


def _hidden(text: str) -> list[str]:
    """Control/format characters left in text Vigie posted (its own mention breaker,
    ``@\\u200beveryone``, aside)."""
    import unicodedata

    text = text.replace("@\u200b", "@")
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]


async def test_public_search_shows_query_and_titles_cleaned_and_escaped(ready: VigieWorld) -> None:
    """The member's query in the public title and La Cale's titles carry no bidi override,
    zero-width character or line break, and no Markdown or mention renders."""
    ready.lacale.add_torrent("Bold.Release\u202eexe.4pm\u200b\nEVERYONE **LINE** <@&123>")
    rec, msg = await search(ready, query="**bold** @everyone \u202e")
    assert not rec.ephemeral
    embed = msg["embeds"][0]
    title = embed["title"]
    assert "\\*\\*bold\\*\\*" in title and "@\u200beveryone" in title
    assert _hidden(title) == [] and "\n" not in title
    line = embed["description"].split("\n", 1)[0]  # "**1.** [title](link)"
    shown = line.split("[", 1)[1].rsplit("](", 1)[0]
    assert shown == "Bold.Releaseexe.4pm EVERYONE \\*\\*LINE\\*\\* \\<@&123>"
    assert _hidden(embed["description"].replace("\n", " ")) == []
    assert msg["mention_everyone"] is False and msg["mention_roles"] == []
    # The details card and the select's labels too.
    labels = [o["label"] for row in msg["components"] for c in row["components"] for o in c.get("options", [])]
    assert all(_hidden(label) == [] and "\n" not in label for label in labels)
    details = await ready.discord.select(rec, "search:details", ["0"])
    card = (await details.wait_final())["embeds"][0]
    assert card["title"] == "Bold.Releaseexe.4pm EVERYONE \\*\\*LINE\\*\\* \\<@&123>"


async def test_empty_search_names_the_query_escaped(ready: VigieWorld) -> None:
    _, msg = await search(ready, query="__nothing__\u202e matches")
    assert "No release found" in msg["content"] and "\\_\\_nothing\\_\\_ matches" in msg["content"]
    assert _hidden(msg["content"]) == []
