"""Open /upload previews through the fake Discord and the fake La Cale (issue 9):

* item 2: Confirm authorises again and checks the key the preview named; a server's open
  previews close when its key is removed or replaced, or when Vigie leaves the server;
* item 6: a member holds at most three previews (a fourth closes the oldest, buttons
  removed), and all previews together hold a byte budget (a new one is refused when full);
* item 9: a cover URL naming an internal address is refused before anything is sent.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import VigieWorld
from tests.e2e.test_upload import (  # noqa: F401  (ready: fixture)
    attachment_reads,
    component_ids,
    confirm,
    embed_text,
    has,
    open_preview,
    ready,
)
from tests.fakes.lacale import UPLOAD

pytestmark = pytest.mark.asyncio

ROLE_CLEARED = "you may no longer upload with this server's key"
KEY_REMOVED = "an admin removed this server's La Cale key"
NFO_TEXT = ("Release notes\n" + "x" * 70 + "\n").encode()


def previews(world: VigieWorld) -> Any:
    assert world.bot is not None
    return world.bot.services.uploads.previews


async def uploader_with_role(world: VigieWorld) -> Any:
    role = world.discord.add_role(world.guild, "Uploaders")
    uploader = world.discord.add_member(world.guild, name="uploader", roles=[role], locale="en-US")
    await (await world.invoke("setup upload-role", role=role)).wait_final()
    return role, uploader


# -- item 2 ----------------------------------------------------------------------------------------------
async def test_confirm_after_the_upload_role_was_cleared_is_refused(ready: VigieWorld) -> None:
    world = ready
    _, uploader = await uploader_with_role(world)
    rec, preview = await open_preview(world, by=uploader)
    assert "upload:confirm" in component_ids(preview)
    await (await world.invoke("setup upload-role")).wait_final()  # the role cleared
    _, done = await confirm(world, rec, ROLE_CLEARED)
    assert "Nothing was sent" in embed_text(done) and done["components"] == []
    assert world.lacale.count(UPLOAD) == 0 and not world.lacale.uploads


async def test_confirm_after_the_member_lost_the_role_is_refused(ready: VigieWorld) -> None:
    world = ready
    role, uploader = await uploader_with_role(world)
    rec, _ = await open_preview(world, by=uploader)
    uploader.roles.remove(role.id)  # taken from the member after the preview
    _, done = await confirm(world, rec, ROLE_CLEARED)
    assert done["components"] == [] and world.lacale.count(UPLOAD) == 0


async def test_setup_remove_closes_the_servers_open_previews(ready: VigieWorld) -> None:
    world = ready
    own_key = world.lacale.add_key("member-own-key-1234567890abcdef")
    await world.register_member_key(world.member, own_key)
    rec, _ = await open_preview(world)
    personal, _ = await open_preview(world, by=world.member)
    await (await world.invoke("setup remove")).wait_final()
    closed = await rec.wait_final(predicate=has(KEY_REMOVED))
    assert closed["components"] == [] and "Nothing was sent" in embed_text(closed)
    # The member's preview under their own key is not the server's: it stays, and works.
    assert previews(world).of_member(world.member.id) and not previews(world).of_member(world.admin.id)
    await confirm(world, personal, "Uploaded to La Cale")
    assert [u.key for u in world.lacale.uploads] == [own_key]


async def test_confirm_racing_setup_remove_sends_nothing(ready: VigieWorld) -> None:
    world = ready
    rec, _ = await open_preview(world)
    # The edit that removes the buttons is lost: the member can still press Confirm.
    world.discord.fail_next("PATCH /webhooks/", status=404)
    await (await world.invoke("setup remove")).wait_final()
    await world.discord.wait_until(lambda: not world.discord._faults, what="the lost edit")
    assert "upload:confirm" in component_ids(rec.original or {})
    click, done = await confirm(world, rec, KEY_REMOVED)
    assert click.responded and done["components"] == []
    assert world.lacale.count(UPLOAD) == 0 and not world.lacale.uploads


async def test_setup_key_replacing_the_key_closes_previews_named_with_the_old_one(ready: VigieWorld) -> None:
    world = ready
    rec, _ = await open_preview(world)
    old = world.bot.services.vault.fingerprint(world.key)  # type: ignore[union-attr]
    await world.register_key(world.lacale.add_key("another-server-key-0123456789abcdef"))
    closed = await rec.wait_final(predicate=has("replaced this server's La Cale key"))
    assert f"`{old}`" in embed_text(closed) and closed["components"] == []
    assert world.lacale.count(UPLOAD) == 0


async def test_leaving_the_server_closes_its_previews(ready: VigieWorld) -> None:
    world = ready
    rec, _ = await open_preview(world)
    assert previews(world).held_bytes > 0
    world.discord.remove_guild(world.guild.id)
    await world.discord.wait_until(lambda: len(previews(world)) == 0, what="previews closed")
    assert previews(world).held_bytes == 0
    closed = await rec.wait_final(predicate=has("no longer in this server"))
    assert closed["components"] == [] and world.lacale.count(UPLOAD) == 0


async def test_refusal_in_french(ready: VigieWorld) -> None:
    world = ready
    _, uploader = await uploader_with_role(world)
    rec, _ = await open_preview(world, by=uploader, locale="fr")
    await (await world.invoke("setup upload-role")).wait_final()
    _, done = await confirm(world, rec, "vous ne pouvez plus uploader avec la clé de ce serveur")
    assert "Rien n'a été envoyé" in embed_text(done) and world.lacale.count(UPLOAD) == 0


# -- item 6 ----------------------------------------------------------------------------------------------
async def test_a_fourth_preview_closes_the_members_oldest(ready: VigieWorld) -> None:
    world = ready
    recs = []
    for i in range(4):
        rec, preview = await open_preview(world, title=f"Release number {i}")
        assert "upload:confirm" in component_ids(preview)
        recs.append(rec)
    oldest = await recs[0].wait_final(predicate=has("you opened a newer upload preview"))
    assert oldest["components"] == [] and "3 at most" in embed_text(oldest)
    assert len(previews(world).of_member(world.admin.id)) == 3
    for rec in recs[1:]:
        assert "upload:confirm" in component_ids(rec.original or {})
    await confirm(world, recs[3], "Uploaded to La Cale")
    assert [u.fields["title"] for u in world.lacale.uploads] == [["Release number 3"]]
    assert len(previews(world).of_member(world.admin.id)) == 2


async def test_a_full_budget_refuses_a_new_preview_before_downloading(
    ready: VigieWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = ready
    await world.restart(upload_max_bytes=64 * 1024, upload_preview_budget_bytes=1024 * 1024)
    big_nfo = b"NFO\n" + b"#" * (450 * 1024)
    for i in range(2):
        _, preview = await open_preview(world, title=f"Big {i}", nfo=big_nfo)
        assert "upload:confirm" in component_ids(preview)
    own_key = world.lacale.add_key("member-own-key-1234567890abcdef")
    await world.register_member_key(world.member, own_key)
    reads = attachment_reads(monkeypatch)
    _, refused = await open_preview(world, by=world.member, nfo=big_nfo)
    assert "Too many uploads are being prepared right now: retry in a few minutes" in refused["content"]
    assert not refused.get("components")
    assert len(previews(world)) == 2 and previews(world).held_bytes <= 1024 * 1024
    assert reads == [], "refused on the declared sizes, before downloading the attachments"
    assert world.lacale.count(UPLOAD) == 0


# -- item 9 ----------------------------------------------------------------------------------------------
async def test_cover_url_to_an_internal_address_is_refused(ready: VigieWorld) -> None:
    for url, expected in [
        ("https://169.254.169.254/latest/meta-data/", "not an IP address (`169.254.169.254`)"),
        ("https://[::ffff:127.0.0.1]/a.jpg", "not an IP address (`::ffff:127.0.0.1`)"),
        ("https://metadata.google.internal/a.jpg", "only exists on a local network (`metadata.google.internal`"),
    ]:
        _, message = await open_preview(ready, cover_url=url)
        assert expected in message["content"] and not message.get("components"), message["content"]
    _, message = await open_preview(ready, cover_url="https://127.1/a.jpg", locale="fr")
    assert "pas une adresse IP (`127.1`)" in message["content"]
    assert ready.lacale.count(UPLOAD) == 0
