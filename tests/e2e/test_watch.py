"""/watch through the fake Discord and the fake La Cale: a member's own alerts, sent to
them by direct message by the real poller and sender. Cycles are triggered by the test."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from tests.e2e.conftest import VigieWorld
from tests.e2e.conftest import alert_cycle as cycle
from tests.e2e.conftest import alerts_cog as cog
from tests.fakes.discord import FakeMember

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def ready(world: VigieWorld) -> VigieWorld:
    """A server with a key and watches turned on."""
    await world.register_key()
    text = await final(world, "setup watches", state="on")
    assert "/watch add" in text
    return world


async def final(world: VigieWorld, command: str, *, by: FakeMember | None = None, **options: Any) -> str:
    rec = await world.invoke(command, by=by, **options)
    message = await rec.wait_final()
    return str(message.get("content") or "") + "".join(
        str(e.get("description") or "") for e in message.get("embeds", [])
    )


def dms(world: VigieWorld, member: FakeMember | None = None) -> list[dict[str, Any]]:
    return world.discord.dms_to(member or world.member)


def titles(message: dict[str, Any]) -> list[str]:
    return [e.get("title", "").replace("\\", "") for e in message.get("embeds", [])]


def db(world: VigieWorld) -> sqlite3.Connection:
    return sqlite3.connect(world.settings.database_url.split("///", 1)[1])


async def test_a_watch_sends_one_dm_per_matching_release_and_nothing_else(ready: VigieWorld) -> None:
    w = ready
    w.lacale.add_torrent("Dune.Old.1080p")
    text = await final(w, "watch add", by=w.member, name="dune", query="dune")
    assert "dune" in text and "direct message" in text
    await cycle(w)
    assert dms(w) == []  # what existed before the watch is not sent

    w.lacale.add_torrent("Dune.Part.Two.2160p")
    w.lacale.add_torrent("Arcane.S02E01.1080p")
    await cycle(w)
    await cycle(w)
    (message,) = dms(w)
    assert titles(message) == ["Dune.Part.Two.2160p"]
    assert message["enforce_nonce"] is True and len(str(message["nonce"])) <= 25
    assert message["allowed_mentions"]["parse"] == []
    footer = message["embeds"][0]["footer"]["text"]
    assert "dune" in footer and "La Cale FR" in footer
    # Nothing in the server's channels, nothing to the admin.
    assert [m for m in w.discord.channel_messages(w.channel) if m.get("embeds")] == []
    assert dms(w, w.admin) == []

    listed = await final(w, "watch list", by=w.member)
    assert "dune" in listed and "1 sent" in listed
    status = await (await w.invoke("setup status")).wait_final()
    fields = {f["name"]: f["value"] for f in status["embeds"][0]["fields"]}
    assert "on: members may watch" in fields["Members' watches (/watch)"]
    assert "1 watch in this server" in fields["Members' watches (/watch)"]
    # Another member sees only theirs.
    assert "no watch" in await final(w, "watch list", by=w.admin)


async def test_two_watches_of_one_member_matching_one_release_send_one_dm(ready: VigieWorld) -> None:
    w = ready
    await final(w, "watch add", by=w.member, name="dune", query="dune")
    await final(w, "watch add", by=w.member, name="uhd", query="2160p")
    await cycle(w)
    w.lacale.add_torrent("Dune.Part.Two.2160p")
    w.lacale.add_torrent("Dune.Part.One.1080p")
    await cycle(w)
    await cycle(w)
    (message,) = dms(w)
    assert sorted(titles(message)) == ["Dune.Part.One.1080p", "Dune.Part.Two.2160p"]
    rows = db(w).execute("select user_id, count(*) from deliveries group by user_id").fetchall()
    assert rows == [(w.member.id, 2)]


async def test_watch_is_every_members_command_in_both_languages(world: VigieWorld) -> None:
    commands = {c["name"]: c for c in world.discord.commands(guild_id=world.guild.id)}
    watch = commands["watch"]
    assert watch["name_localizations"]["fr"] == "veille"
    assert watch.get("default_member_permissions") is None
    subcommands = {o["name"]: o for o in watch["options"]}
    assert set(subcommands) == {"add", "list", "edit", "remove", "pause", "resume", "test"}
    add = {o["name"]: o for o in subcommands["add"]["options"]}
    # The same criteria as /alert, without a channel, a role, or a TMDB id (a request of its own).
    assert {"name", "query", "category", "min_size", "max_size", "min_seeders", "exclude"} <= set(add)
    assert not {"channel", "mention", "tmdb", "backfill"} & set(add)
    assert add["query"]["description_localizations"]["fr"]
    setup = {o["name"]: o for o in commands["setup"]["options"]}
    state = setup["watches"]["options"][0]
    assert [c["value"] for c in state["choices"]] == ["on", "off"]
    assert state["choices"][0]["name_localizations"]["fr"] == "activées"


async def test_watches_off_in_a_server_refuse_add_with_how_to_get_them(world: VigieWorld) -> None:
    w = world
    await w.register_key()
    text = await final(w, "watch add", by=w.member, name="dune", query="dune")
    assert "/setup watches on" in text and "/key set" in text
    french = await w.invoke("watch add", by=w.member, locale="fr", name="dune", query="dune")
    assert "désactivées" in str((await french.wait_final())["content"])
    assert db(w).execute("select count(*) from watches").fetchone()[0] == 0

    # Turned on, then off: a watch on the server's key waits (not polled), says why.
    await final(w, "setup watches", state="on")
    await final(w, "watch add", by=w.member, name="dune", query="dune")
    await final(w, "setup remove")
    assert "no usable La Cale key" in await final(w, "watch list", by=w.member)
    await w.register_key()
    await final(w, "setup watches", state="off")
    w.lacale.add_torrent("Dune.Part.Two.2160p")
    await cycle(w)
    assert dms(w) == []
    assert "turned watches off" in await final(w, "watch list", by=w.member)
    # Members may not turn it on themselves.
    refused = await w.discord.invoke(
        "setup watches", by=w.member, in_channel=w.channel, enforce_permissions=False, state="on"
    )
    assert "Manage Server" in str((await refused.wait_final())["content"])
    assert db(w).execute("select watches_enabled from guild_settings").fetchall() == [(0,)]


async def test_dms_closed_pause_the_watch_with_the_reason_and_the_member_is_told(ready: VigieWorld) -> None:
    w = ready
    await final(w, "watch add", by=w.member, name="dune", query="dune")
    await cycle(w)
    w.discord.close_dms(w.member)
    w.lacale.add_torrent("Dune.Part.Two.2160p")
    await cycle(w)
    assert dms(w) == []
    assert db(w).execute("select paused, pause_reason from watches").fetchall() == [(1, "dms_closed")]

    # Their next command, whatever it is, carries the news once.
    rec = await w.invoke("key status", by=w.member)
    await rec.wait_final()
    told = str((await rec.wait_followup(1))["content"])
    assert "dune" in told and "direct message" in told and "/watch resume" in told
    assert db(w).execute("select notice_pending from watches").fetchall() == [(0,)]
    again = await w.invoke("key status", by=w.member)
    await again.wait_final()
    await asyncio.sleep(0.3)
    assert again.followups == []
    listed = await final(w, "watch list", by=w.member)
    assert "paused" in listed and "DMs are closed" in listed

    # Nothing lost: once DMs are open and the watch resumed, what matched is sent.
    w.discord.close_dms(w.member, False)
    await final(w, "watch resume", by=w.member, name="dune")
    await cog(w).sender.flush()
    (message,) = dms(w)
    assert titles(message) == ["Dune.Part.Two.2160p"]


async def test_watch_limits_per_member_and_per_server(ready: VigieWorld) -> None:
    w = ready
    await w.restart(watches_per_member=2, watches_per_guild=3)
    await final(w, "watch add", by=w.member, name="a", query="a")
    await final(w, "watch add", by=w.member, name="b", query="b")
    text = await final(w, "watch add", by=w.member, name="c", query="c")
    assert "2 watches" in text and "/watch remove" in text
    await final(w, "watch add", by=w.admin, name="a", query="a")
    text = await final(w, "watch add", by=w.admin, name="b", query="b")
    assert "3 watches" in text
    assert db(w).execute("select count(*) from watches").fetchone()[0] == 3


async def test_same_release_to_an_alert_and_a_watch_one_post_and_one_dm(ready: VigieWorld) -> None:
    w = ready
    await final(w, "alert add", name="dune", query="dune")
    await final(w, "watch add", by=w.member, name="dune", query="dune")
    await cycle(w)
    w.lacale.add_torrent("Dune.Part.Two.2160p")
    await cycle(w)
    await cycle(w)
    posts = [m for m in w.discord.channel_messages(w.channel) if m.get("embeds")]
    assert [titles(m) for m in posts] == [["Dune.Part.Two.2160p"]]
    assert [titles(m) for m in dms(w)] == [["Dune.Part.Two.2160p"]]


async def test_restart_mid_delivery_sends_no_second_dm(ready: VigieWorld) -> None:
    w = ready
    await final(w, "watch add", by=w.member, name="dune", query="dune")
    await cycle(w)
    w.lacale.add_torrent("Dune.One")
    w.lacale.add_torrent("Dune.Two")
    dm = w.discord.dm_channel(w.member)
    # The DM is created, but the answer is lost (a proxy's timeout): the rows stay claimed.
    w.discord.fail_next(f"POST /channels/{dm.id}/messages", 408, message="Request Timeout", after_handling=True)
    await cycle(w)
    assert len(dms(w)) == 1
    claimed = db(w).execute("select count(*), count(distinct batch_nonce) from deliveries where status = 'pending'")
    assert claimed.fetchone() == (2, 1)
    await w.restart()
    await cog(w).sender.flush()
    await cycle(w)
    (message,) = dms(w)
    assert titles(message) == ["Dune.One", "Dune.Two"]
    assert w.discord.nonce_dedup_hits == 1
    assert db(w).execute("select count(*) from deliveries where status = 'delivered'").fetchone()[0] == 2


async def test_server_watches_cost_no_la_cale_request_of_their_own(ready: VigieWorld) -> None:
    w = ready
    await final(w, "alert add", name="dune", query="dune")
    await cycle(w)
    w.lacale.add_torrent("Arcane.S02E01.1080p")
    await cycle(w)
    alone = w.lacale.count("/api/external")
    w.lacale.add_torrent("Arcane.S02E02.1080p")
    await cycle(w)
    assert w.lacale.count("/api/external") - alone == 1
    for i in range(5):
        await final(w, "watch add", by=w.member, name=f"w{i}", query="arcane")
    w.lacale.add_torrent("Arcane.S02E03.1080p")
    before = w.lacale.count("/api/external")
    await cycle(w)
    assert w.lacale.count("/api/external") - before == 1  # the same one newest page
    (message,) = dms(w)
    assert titles(message) == ["Arcane.S02E03.1080p"]


async def test_a_personal_key_watches_where_the_server_has_not_turned_watches_on(world: VigieWorld) -> None:
    w = world
    await w.register_key()
    personal = w.lacale.add_key()
    await w.register_member_key(w.member, personal)
    w.lacale.add_torrent("Dune.Old.1080p")
    text = await final(w, "watch add", by=w.member, name="dune", query="dune")
    assert "personal La Cale key" in text
    await cycle(w)
    assert dms(w) == []
    w.lacale.add_torrent("Dune.Part.Two.2160p")
    before = w.lacale.count("/api/external", key=personal)
    server_before = w.lacale.count("/api/external", key=w.key)
    await cycle(w)
    (message,) = dms(w)
    assert titles(message) == ["Dune.Part.Two.2160p"]
    # Polled with the member's key, once; the server's key is not used for it.
    assert w.lacale.count("/api/external", key=personal) - before == 1
    assert w.lacale.count("/api/external", key=w.key) == server_before
    assert "on your personal key" in await final(w, "watch list", by=w.member)

    # /key remove stops the watches that ran on it, and says so.
    rec = await w.invoke("key remove", by=w.member)
    await rec.wait_final()
    told = str((await rec.wait_followup(1))["content"])
    assert "dune" in told and "personal key" in told
    w.lacale.add_torrent("Dune.Part.Three.2160p")
    after = w.lacale.count("/api/external", key=personal)
    await cycle(w)
    assert len(dms(w)) == 1
    assert w.lacale.count("/api/external", key=personal) == after
    listed = await final(w, "watch list", by=w.member)
    assert "paused" in listed and "which you removed" in listed
    refused = await final(w, "watch resume", by=w.member, name="dune")
    assert "/setup watches on" in refused


async def test_a_member_who_left_gets_no_dm_and_their_watches_there_pause(ready: VigieWorld) -> None:
    """Without member events (the default: no privileged intent), the DM finds them gone."""
    w = ready
    await final(w, "watch add", by=w.member, name="dune", query="dune")
    await cycle(w)
    w.discord.remove_member(w.guild, w.member)
    w.lacale.add_torrent("Dune.Part.Two.2160p")
    await cycle(w)
    await cycle(w)
    assert w.discord.dms_to(w.member) == []
    assert db(w).execute("select paused, pause_reason from watches").fetchall() == [(1, "member_left")]
    (pending,) = db(w).execute("select status, batch_nonce from deliveries").fetchall()
    assert pending == ("pending", None)  # kept, unclaimed: sent if they come back and resume


async def test_with_member_events_leaving_pauses_at_once(ready: VigieWorld) -> None:
    w = ready
    await w.restart(discord_members_intent=True)
    await final(w, "watch add", by=w.member, name="dune", query="dune")
    await final(w, "watch add", by=w.admin, name="dune", query="dune")
    w.discord.remove_member(w.guild, w.member)
    paused = await w.discord.wait_until(
        lambda: db(w).execute("select user_id from watches where paused").fetchall(), what="the watch paused"
    )
    assert paused == [(w.member.id,)]
    assert db(w).execute("select pause_reason from watches where paused").fetchall() == [("member_left",)]


async def test_a_watch_has_the_release_aware_criteria_of_alerts(ready: VigieWorld) -> None:
    w = ready
    created = await final(
        w, "watch add", by=w.member, name="dune vf", query="dune", language="multi", resolution="2160p"
    )
    assert "language MULTi" in created
    await cycle(w)
    w.lacale.add_torrent("Dune.Part.Two.2024.MULTi.1080p.WEB.H264-GRP")
    w.lacale.add_torrent("Dune.Part.Two.2024.VOSTFR.2160p.WEB-DL.x265-GRP")
    w.lacale.add_torrent("Dune.Part.Two.2024.MULTi.VFF.2160p.WEB-DL.x265-GRP")
    await cycle(w)
    (message,) = dms(w)
    assert titles(message) == ["Dune.Part.Two.2024.MULTi.VFF.2160p.WEB-DL.x265-GRP"]
    assert "2160p · WEB-DL · x265 · MULTi · VFF" in message["embeds"][0]["description"]
    # /watch test explains each result: what was read, and the criterion that turned it away.
    tested = await final(w, "watch test", by=w.member, name="dune vf")
    assert "Dune.Part.Two.2024.VOSTFR.2160p" in tested and "VOSTFR" in tested
    # Editing a criterion away (clear) is a new start, and the watch's description follows.
    edited = await final(w, "watch edit", by=w.member, name="dune vf", clear="resolution")
    assert "language MULTi" in edited and "2160p" not in edited.split("\n", 1)[1]
    refused = await final(w, "watch edit", by=w.member, name="dune vf", clear="tmdb")
    assert "cannot be cleared" in refused
