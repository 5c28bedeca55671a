"""/upload and /uploads through the fake Discord and the fake La Cale, as members would use
them: attachments from Discord's CDN, the ephemeral preview, Confirm / Cancel / Set source
flag, the tag menu, and what La Cale receives (or, without Confirm, does not)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import discord
import pytest

from bot.lacale import LaCaleClient, UploadFile, UploadRequest
from bot.torrents import read_torrent
from tests.e2e.conftest import VigieWorld
from tests.fakes.discord import FLAG_EPHEMERAL, FakeMember, InteractionRecord
from tests.fakes.lacale import UPLOAD
from tests.support.torrent_factory import make_torrent

pytestmark = pytest.mark.asyncio

FILMS_HD = "cmv0aa1fhd000003hd8x1v6q"
TAG_1080P = "cmv0tt1p108000001gh4ij5k"
TAG_VFF = "cmv0tt1vff0000005mn6op7q"
TAG_X264 = "cmv0tt1x264000004bc2de3f"
TITLE = "Dune.Part.Two.2024.MULTi.1080p.BluRay.x264"
NFO = (
    "Dune.Part.Two.2024.MULTi.1080p.BluRay.x264\n\n"
    "Vidéo  : x264 1080p\nAudio  : Français AC3 5.1, English DTS\n@everyone **not bold**\n"
).encode()


def embed_text(message: dict[str, Any]) -> str:
    parts: list[str] = []
    for embed in message.get("embeds", []):
        parts += [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", "")]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


def fields(message: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message["embeds"][0].get("fields", [])}


def component_ids(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        c["custom_id"]: c
        for row in message.get("components", [])
        for c in row.get("components", [])
        if c.get("custom_id")
    }


def has(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: text in embed_text(message)


@pytest.fixture
async def ready(world: VigieWorld) -> VigieWorld:
    """A server key registered; the admin (Manage Server) uploads with it."""
    await world.register_key()
    assert world.bot is not None
    world.bot.services.uploads.verify_delay = 0.0
    return world


async def open_preview(
    world: VigieWorld,
    *,
    by: FakeMember | None = None,
    torrent: bytes | None = None,
    filename: str = f"{TITLE}.torrent",
    nfo: bytes | None = NFO,
    locale: str = "en-US",
    **options: Any,
) -> tuple[InteractionRecord, dict[str, Any]]:
    values: dict[str, Any] = {
        "torrent": world.discord.add_attachment(
            filename, torrent if torrent is not None else make_torrent(TITLE, source="lacale")
        ),
        "category": FILMS_HD,
    }
    if nfo is not None:
        values["nfo"] = world.discord.add_attachment("release.nfo", nfo)
    values.update(options)
    rec = await world.invoke("upload", by=by, locale=locale, **values)
    await rec.wait_response()
    assert rec.deferred and rec.ephemeral, "/upload must be deferred at once, privately"
    return rec, await rec.wait_final()


def attachment_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the attachments Vigie downloads from now on, in order."""
    reads: list[str] = []
    original_read = discord.Attachment.read

    async def counting_read(self: discord.Attachment, **kwargs: Any) -> bytes:
        reads.append(self.filename)
        return await original_read(self, **kwargs)

    monkeypatch.setattr(discord.Attachment, "read", counting_read)
    return reads


async def confirm(world: VigieWorld, rec: InteractionRecord, done: str) -> tuple[InteractionRecord, dict[str, Any]]:
    click = await world.discord.click(rec, "upload:confirm")
    message = await rec.wait_final(predicate=has(done))
    return click, message


# -- the good path ---------------------------------------------------------------------------------
async def test_good_upload_with_several_tags_and_an_nfo(ready: VigieWorld) -> None:
    world = ready
    await (await world.invoke("setup upload-channel", channel=world.channel)).wait_final()
    rec, preview = await open_preview(
        world,
        tags="1080p, VFF",
        tmdb="693134",
        tmdb_type="MOVIE",
        cover_url="https://image.tmdb.org/t/p/w500/dune.jpg",
        description="Suite de Dune.",
    )
    assert preview["flags"] & FLAG_EPHEMERAL
    shown = fields(preview)
    fingerprint = world.bot.services.vault.fingerprint(world.key)  # type: ignore[union-attr]
    assert shown["Title"] == TITLE
    assert shown["Category"] == "Vidéo › Films › Films HD"
    assert shown["Tags"] == "1080p, VFF"
    assert shown["TMDB"] == "693134 (movie)"
    assert "https://image.tmdb.org/t/p/w500/dune.jpg" in shown["Cover"]
    assert shown["Content"] == "1 file · 1.0\u00a0MiB"
    assert "lacale" in shown["Source flag"]
    assert len(shown["Info hash (as sent)"].strip("`")) == 40
    assert "passkey=***" in shown["Trackers"] and "abc123" not in shown["Trackers"]
    assert f"`{fingerprint}`" in shown["Account"] and "server" in shown["Account"]
    assert shown["NFO"].startswith("```") and "Français AC3" in shown["NFO"]
    assert "Nothing is sent" in embed_text(preview)
    ids = component_ids(preview)
    assert {"upload:confirm", "upload:cancel", "upload:tags"} <= set(ids) and "upload:fix_source" not in ids
    assert world.lacale.count(UPLOAD) == 0, "nothing is sent before Confirm"

    # The tag menu: one more tag.
    chosen = await world.discord.select(rec, "upload:tags", [TAG_1080P, TAG_VFF, TAG_X264])
    await chosen.wait_response()
    preview = await rec.wait_final(predicate=lambda m: fields(m)["Tags"] == "1080p, VFF, x264")
    assert world.lacale.count(UPLOAD) == 0

    _, done = await confirm(world, rec, "Uploaded to La Cale")
    (seen,) = world.lacale.uploads
    assert seen.tags == [TAG_1080P, TAG_VFF, TAG_X264]  # one repeated `tags` field per tag
    assert seen.files["nfoFile"].content == NFO
    assert seen.fields["tmdbType"] == ["MOVIE"] and seen.fields["title"] == [TITLE]
    link = f"{world.lacale.base_url}/torrents/{seen.slug}"
    assert link in embed_text(done) and f"`{fingerprint}`" in embed_text(done)
    assert done["components"] == [], "buttons removed once uploaded"

    # The public announcement: the release card, no key, pings no one.
    posted = await world.discord.wait_for_channel_message(world.channel.id, lambda m: bool(m.get("embeds")))
    assert f"<@{world.admin.id}>" in posted["content"] and posted["mentions"] == []
    assert posted["embeds"][0]["title"] == TITLE and posted["embeds"][0]["url"] == link
    assert not posted["flags"] & FLAG_EPHEMERAL
    assert world.key not in "\n".join(world.discord.all_sent_text(include_files=True))

    listed = await (await world.invoke("uploads")).wait_final()
    assert TITLE in embed_text(listed) and "uploaded" in embed_text(listed) and link in embed_text(listed)


async def test_source_flag_fixed_by_the_button_and_the_file_returned_privately(ready: VigieWorld) -> None:
    world = ready
    original = make_torrent("Arcane.S02.MULTi.1080p.WEB", source=None, private=False)
    rec, preview = await open_preview(world, torrent=original, filename="Arcane.S02.MULTi.1080p.WEB.torrent")
    text = embed_text(preview)
    assert "Source flag missing" in text and "re-download" in text and "info hash" in text
    assert "not marked **private**" in text
    assert "upload:fix_source" in component_ids(preview)

    fix = await world.discord.click(rec, "upload:fix_source")
    await fix.wait_response()
    preview = await rec.wait_final(predicate=has("Source flag set"))
    assert "upload:fix_source" not in component_ids(preview)
    assert "set by Vigie" in fields(preview)["Source flag"]
    assert world.lacale.count(UPLOAD) == 0

    click, done = await confirm(world, rec, "Uploaded to La Cale")
    assert "Seed the fixed .torrent" in embed_text(done)
    returned = await click.wait_followup()
    assert returned["flags"] & FLAG_EPHEMERAL, "the fixed .torrent is handed back privately"
    (attachment,) = returned["attachments"]
    assert attachment["filename"].endswith(".torrent")
    info = read_torrent(attachment["data"])
    (seen,) = world.lacale.uploads
    assert info.source == "lacale"
    assert info.info_hash == seen.info_hash == seen.stored_hash and not seen.source_flag_added
    assert f"`{info.info_hash}`" == fields(done)["Info hash (as sent)"]


# -- refusals before anything reaches La Cale -------------------------------------------------------
async def test_each_validation_failure_has_its_own_message(ready: VigieWorld) -> None:
    world = ready
    good = make_torrent(TITLE, source="lacale")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"filename": "poster.jpg"}, "is not a .torrent file"),
        ({"torrent": b"definitely not bencode"}, "not a valid .torrent"),
        ({"torrent": b"d8:announce3:urle"}, "no usable `info`"),
        ({"torrent": b"d4:infod4:name1:xee"}, "damaged or incomplete"),
        ({"nfo": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(300)}, "not a text file"),
        ({"nfo": b"too short"}, "too short"),
        ({"nfo": b"x" * (600 * 1024)}, "The .nfo is too large"),
        ({"category": "not-a-category"}, "Unknown category"),
        ({"tags": "1080p, 8K"}, "Unknown tags: `8K`"),
        ({"cover_url": "http://example.com/a.jpg"}, "must start with `https://`"),
        ({"cover_url": "https://exa mple.com/a.jpg"}, "not a valid public web address"),
        ({"tmdb": "693134"}, "needs its type"),
        ({"tmdb_type": "TV"}, "needs its id"),
        ({"tmdb": "tt693134", "tmdb_type": "MOVIE"}, "digits only"),
        ({"title": "T" * 201}, "The title is too long (201 characters): 200 at most."),
        ({"torrent": make_torrent(".mkv", source="lacale")}, "The title is empty"),
    ]
    for options, expected in cases:
        torrent = options.pop("torrent", good)
        _, message = await open_preview(world, torrent=torrent, **options)
        assert expected in message["content"], (options, message["content"])
        assert not message.get("components"), "no preview for a refused upload"
    assert world.lacale.count(UPLOAD) == 0


async def test_refusals_in_french(ready: VigieWorld) -> None:
    _, message = await open_preview(ready, locale="fr", tmdb="693134")
    assert "a besoin de son type" in message["content"] and "type_tmdb" in message["content"]
    command = ready.discord.command("upload", ready.guild.id)
    names = {o["name"]: o.get("name_localizations", {}).get("fr") for o in command["options"]}
    assert names["title"] == "titre" and names["cover_url"] == "url_affiche" and names["tmdb_type"] == "type_tmdb"


async def test_oversized_torrent_is_refused_before_download(ready: VigieWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    world = ready
    await world.restart(upload_max_bytes=4096)
    reads = attachment_reads(monkeypatch)
    big = make_torrent("Huge.Pack", size=16384 * 400, piece_size=16384)
    assert len(big) > 4096
    _, message = await open_preview(world, torrent=big, filename="Huge.Pack.torrent")
    assert "too large: 0.00391 MiB at most" in message["content"]
    assert reads == [], "the attachment was downloaded although its declared size is over the cap"
    assert world.lacale.count(UPLOAD) == 0


# -- who may upload ----------------------------------------------------------------------------------
async def test_member_without_role_is_refused_and_the_upload_role_lets_them(ready: VigieWorld) -> None:
    world = ready
    _, message = await open_preview(world, by=world.member)
    assert "may not upload with this server's key" in message["content"] and "/key set" in message["content"]
    assert world.lacale.count(UPLOAD) == 0

    role = world.discord.add_role(world.guild, "Uploaders")
    uploader = world.discord.add_member(world.guild, name="uploader", roles=[role], locale="en-US")
    await (await world.invoke("setup upload-role", role=role)).wait_final()
    rec, preview = await open_preview(world, by=uploader)
    assert "This server's key" in fields(preview)["Account"]
    await confirm(world, rec, "Uploaded to La Cale")
    assert world.lacale.uploads[0].key == world.key


async def test_member_with_a_personal_key_uploads_under_it(world: VigieWorld) -> None:
    # No server key at all, no role: their own key is enough.
    world.bot.services.uploads.verify_delay = 0.0  # type: ignore[union-attr]
    own_key = world.lacale.add_key("member-own-key-1234567890abcdef")
    await world.register_member_key(world.member, own_key)
    fingerprint = world.bot.services.vault.fingerprint(own_key)  # type: ignore[union-attr]
    rec, preview = await open_preview(world, by=world.member)
    assert "Your personal key" in fields(preview)["Account"] and f"`{fingerprint}`" in fields(preview)["Account"]
    _, done = await confirm(world, rec, "Uploaded to La Cale")
    assert f"`{fingerprint}`" in embed_text(done)
    assert world.lacale.uploads[0].key == own_key
    assert own_key not in "\n".join(world.discord.all_sent_text(include_files=True))


# -- La Cale's answers ---------------------------------------------------------------------------------
async def test_duplicate_is_reported_with_its_link(ready: VigieWorld) -> None:
    world = ready
    data = make_torrent(TITLE, source="lacale")
    async with LaCaleClient(world.key, base_url=world.lacale.base_url) as client:
        await client.upload(UploadRequest(TITLE, FILMS_HD, UploadFile("x.torrent", data)))
    rec, _ = await open_preview(world, torrent=data)
    _, done = await confirm(world, rec, "already on La Cale")
    assert world.lacale.base_url in embed_text(done) and "apikey" not in embed_text(done)
    assert done["components"] == []
    assert [u.status for u in world.lacale.uploads] == [200, 409]


async def test_rate_limited_then_confirmed_again(ready: VigieWorld) -> None:
    world = ready
    world.lacale.fail_next(UPLOAD, status=429, retry_after=0)
    rec, _ = await open_preview(world)
    _, message = await confirm(world, rec, "slow down")
    assert "press Confirm again in 1 s" in embed_text(message)
    assert not component_ids(message)["upload:confirm"].get("disabled"), "the preview stays ready"
    await confirm(world, rec, "Uploaded to La Cale")
    assert len(world.lacale.accepted_uploads) == 1 and world.lacale.count(UPLOAD) == 2


async def test_key_without_upload_scope(world: VigieWorld) -> None:
    read_only = world.lacale.add_key("read-only-key-0123456789abcdef", scopes={"read"})
    await world.register_member_key(world.member, read_only)
    rec, _ = await open_preview(world, by=world.member)
    _, done = await confirm(world, rec, "refused the upload")
    assert "`upload:write`" in embed_text(done) and "/key set" in embed_text(done)
    assert done["components"] == [] and not world.lacale.accepted_uploads


async def test_timeout_after_which_la_cale_has_the_torrent(ready: VigieWorld) -> None:
    world = ready
    assert world.bot is not None
    world.bot.services.lacale.timeout = 0.3
    world.lacale.answer_late_next(UPLOAD, 1.5)
    rec, _ = await open_preview(world)
    _, done = await confirm(world, rec, "did not answer in time")
    assert "Vigie checked: the torrent is on La Cale" in embed_text(done)
    assert done["components"] == []
    assert world.lacale.count(UPLOAD) == 1 and len(world.lacale.uploads) == 1


# -- nothing without Confirm, never twice --------------------------------------------------------------
async def test_cancel_sends_nothing(ready: VigieWorld) -> None:
    world = ready
    rec, _ = await open_preview(world)
    cancel = await world.discord.click(rec, "upload:cancel")
    message = await cancel.wait_final()
    assert "nothing was sent" in embed_text(message) and message["components"] == []
    assert world.lacale.count(UPLOAD) == 0


async def test_expired_preview_loses_its_buttons(ready: VigieWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.ui import upload_view

    monkeypatch.setattr(upload_view, "VIEW_TIMEOUT", 0.3)
    rec, _ = await open_preview(ready)
    message = await rec.wait_final(predicate=has("expired"))
    assert message["components"] == [] and ready.lacale.count(UPLOAD) == 0


async def test_double_click_on_confirm_uploads_once(ready: VigieWorld) -> None:
    world = ready
    world.lacale.delay_next(UPLOAD, 0.3)
    rec, _ = await open_preview(world)
    first, second = await asyncio.gather(
        world.discord.click(rec, "upload:confirm", locale="en-US"),
        world.discord.click(rec, "upload:confirm", locale="en-US"),
    )
    await rec.wait_final(predicate=has("Uploaded to La Cale"))
    answers = [await first.wait_response(), await second.wait_response()]
    assert world.lacale.count(UPLOAD) == 1
    assert len(world.lacale.uploads) == 1
    # The second click was answered privately, not sent.
    assert sorted(a["type"] for a in answers) == [4, 7]
    assert any("being sent right now" in ((a.get("data") or {}).get("content") or "") for a in answers)


async def test_uploads_lists_nothing_at_first(ready: VigieWorld) -> None:
    message = await (await ready.invoke("uploads", by=ready.member)).wait_final()
    assert "not uploaded anything" in message["content"]


async def test_autocomplete_of_category_ids_and_several_tags(ready: VigieWorld) -> None:
    world = ready
    categories = await world.discord.autocomplete(
        "upload", "category", "films h", by=world.admin, in_channel=world.channel
    )
    assert {"name": "Vidéo › Films › Films HD — films-hd", "value": FILMS_HD} in [
        {"name": c["name"], "value": c["value"]} for c in categories
    ]
    tags = await world.discord.autocomplete("upload", "tags", "1080p, v", by=world.admin, in_channel=world.channel)
    values = [c["value"] for c in tags]
    assert "1080p, VFF" in values and "1080p, VOSTFR" in values and all(v.startswith("1080p, ") for v in values)


async def test_hostile_title_and_nfo_stay_clean_text(ready: VigieWorld) -> None:
    """The title a member types and the NFO shown verbatim: no bidi override, no
    zero-width character, no Markdown, and the NFO cannot close its code block."""
    import unicodedata

    def hidden(text: str) -> list[str]:
        text = text.replace("@\u200b", "@").replace("`\u200b", "`")  # Vigie's own breakers
        return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf") and c != "\n"]

    world = ready
    await (await world.invoke("setup upload-channel", channel=world.channel)).wait_final()
    title = "Dune\u202eexe.4pm\u200b **Bold** @everyone"
    nfo = ("Dune.Part.Two NFO\n" + "`" * 5 + "\n# heading\u202e @everyone\n" + "padding " * 10).encode()
    rec, preview = await open_preview(world, title=title, nfo=nfo)
    shown = fields(preview)
    assert shown["Title"] == "Duneexe.4pm \\*\\*Bold\\*\\* @\u200beveryone"
    block = shown["NFO"]
    assert block.startswith("```\n") and block.endswith("\n```") and "``" not in block[4:-4]
    assert hidden(preview["embeds"][0]["title"]) == [] and hidden(block) == []
    _, _done = await confirm(world, rec, "Uploaded to La Cale")
    posted = await world.discord.wait_for_channel_message(world.channel.id, lambda m: bool(m.get("embeds")))
    assert posted["embeds"][0]["title"] == "Duneexe.4pm \\*\\*Bold\\*\\* @\u200beveryone"
    assert posted["mention_everyone"] is False
    listed = await (await world.invoke("uploads")).wait_final()
    assert "Duneexe.4pm \\*\\*Bold\\*\\*" in embed_text(listed) and hidden(embed_text(listed)) == []
