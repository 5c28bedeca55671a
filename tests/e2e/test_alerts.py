"""/alert through the fake Discord and the fake La Cale: the real bot, its real scheduler
and sender. Cycles are triggered by the test (the bot's own timer waits a minute)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from typing import Any

import pytest

from tests.e2e.conftest import VigieWorld
from tests.e2e.conftest import alert_cycle as cycle
from tests.e2e.conftest import alerts_cog as cog
from tests.fakes.discord import FakeChannel, FakeDiscordError

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def ready(world: VigieWorld) -> VigieWorld:
    await world.register_key()
    return world


async def final(world: VigieWorld, command: str, **options: Any) -> dict[str, Any]:
    rec = await world.invoke(command, **options)
    return await rec.wait_final()


def titles(message: dict[str, Any]) -> list[str]:
    return [e.get("title", "").replace("\\", "") for e in message.get("embeds", [])]


def alert_posts(world: VigieWorld, channel: FakeChannel) -> list[dict[str, Any]]:
    return [m for m in world.discord.channel_messages(channel) if m.get("embeds")]


def db(world: VigieWorld) -> sqlite3.Connection:
    return sqlite3.connect(world.settings.database_url.split("///", 1)[1])


async def test_commands_add_list_test_edit_pause_resume_remove(ready: VigieWorld) -> None:
    w = ready
    w.lacale.add_torrent("Dune.2021.1080p.BluRay", category_label="Films HD", size=8 * 2**30)
    w.lacale.add_torrent("Dune.2021.CAM", category_label="Films HD", size=2 * 2**30)
    w.lacale.add_torrent("Arcane.S02E01.1080p", category_label="Séries TV")
    role = w.discord.add_role(w.guild, "Dune fans", mentionable=True)

    text = (await final(w, "alert add", name="dune", query="dune", category="films", mention=role, exclude="cam"))[
        "content"
    ]
    assert "« dune » created" in text and f"<#{w.channel.id}>" in text
    assert "1 release already on La Cale matches it: it is not posted" in text

    listed = await final(w, "alert list")
    body = listed["embeds"][0]["description"]
    assert "**dune**" in body and "▶️ active" in body and f"<@&{role.id}>" in body and "without « cam »" in body

    tested = await w.invoke("alert test", name="dune")
    answer = await tested.wait_final()
    assert tested.ephemeral
    assert "How matching works" in answer["content"] and "1 would be posted" in answer["content"]
    assert "1 with an excluded word" in answer["content"]
    assert titles(answer) == ["Dune.2021.1080p.BluRay"]
    assert alert_posts(w, w.channel) == []  # a test posts nothing

    choices = await w.discord.autocomplete("alert remove", "name", "du", by=w.admin, in_channel=w.channel)
    assert [c["value"] for c in choices] == ["dune"]

    edited = await final(w, "alert edit", name="dune", min_size="4.5 GiB", clear="mention")
    assert "updated" in edited["content"] and "at least 4.5" in edited["content"] and "<@&" not in edited["content"]

    assert "paused" in (await final(w, "alert pause", name="dune"))["content"]
    assert "⏸️ paused: paused by an admin" in (await final(w, "alert list"))["embeds"][0]["description"]
    assert "resumed" in (await final(w, "alert resume", name="dune"))["content"]
    assert "▶️ active" in (await final(w, "alert list"))["embeds"][0]["description"]

    assert "removed" in (await final(w, "alert remove", name="dune"))["content"]
    assert "No alerts yet" in (await final(w, "alert list"))["content"]
    assert "No alert named" in (await final(w, "alert remove", name="dune"))["content"]


async def test_commands_in_french_and_for_admins_only(ready: VigieWorld) -> None:
    w = ready
    rec = await w.invoke("alert add", name="dune", query="dune", locale="fr")
    content = (await rec.wait_final())["content"]
    assert "Alerte « dune » créée" in content
    # Nothing on La Cale matches yet: said in words, not "0 sortie(s)".
    assert content.endswith("Aucune sortie déjà sur La Cale n'y correspond.")
    with pytest.raises(FakeDiscordError):  # hidden from members (default_member_permissions)
        await w.invoke("alert list", by=w.member)
    rec = await w.discord.invoke(
        "alert list", by=w.member, in_channel=w.channel, locale="en-US", enforce_permissions=False
    )
    assert "Manage Server" in (await rec.wait_final())["content"]
    commands = {c["name"]: c for c in w.discord.commands(guild_id=w.guild.id)}
    assert commands["alert"]["name_localizations"]["fr"] == "alerte"
    assert commands["alert"]["default_member_permissions"] == str(1 << 5)


async def test_no_backlog_then_one_post_pinging_only_its_role(ready: VigieWorld) -> None:
    w = ready
    for i in range(3):
        w.lacale.add_torrent(f"Dune.Old.{i}.1080p")
    role = w.discord.add_role(w.guild, "Dune fans", mentionable=True)
    other = w.discord.add_role(w.guild, "Other", mentionable=True)
    await final(w, "alert add", name="dune", query="dune", mention=role)
    await cycle(w)
    assert alert_posts(w, w.channel) == []

    w.lacale.add_torrent(f"Dune.@everyone.<@&{other.id}>.2160p")
    await cycle(w)
    message = await w.discord.wait_for_channel_message(w.channel, lambda m: bool(m.get("embeds")))
    assert message["content"] == f"<@&{role.id}>"
    assert message["mention_roles"] == [str(role.id)] and not message["mention_everyone"]
    allowed = message["allowed_mentions"]
    assert allowed["parse"] == [] and [int(r) for r in allowed["roles"]] == [role.id] and not allowed.get("users")
    assert message["enforce_nonce"] is True and len(str(message["nonce"])) <= 25
    embed = message["embeds"][0]
    assert "Dune" in embed["title"] and "dune" in embed["footer"]["text"]
    await cycle(w)
    await cycle(w)
    assert len(alert_posts(w, w.channel)) == 1

    listed = (await final(w, "alert list"))["embeds"][0]["description"]
    assert "last match <t:" in listed and "1 posted" in listed


async def test_two_alerts_one_channel_one_message(ready: VigieWorld) -> None:
    w = ready
    a = w.discord.add_role(w.guild, "A", mentionable=True)
    b = w.discord.add_role(w.guild, "B", mentionable=True)
    await final(w, "alert add", name="dune", query="dune", mention=a)
    await final(w, "alert add", name="films", category="films", mention=b)
    w.lacale.add_torrent("Dune.Part.Two.2024.2160p", category_label="Films HD")
    await cycle(w)
    (message,) = alert_posts(w, w.channel)
    assert len(message["embeds"]) == 1
    footer = message["embeds"][0]["footer"]["text"]
    assert "dune" in footer and "films" in footer
    assert set(message["mention_roles"]) == {str(a.id), str(b.id)}


async def test_burst_larger_than_a_page_is_filled(ready: VigieWorld) -> None:
    w = ready
    await final(w, "alert add", name="dune", query="dune")
    w.lacale.add_torrent("Before")
    await cycle(w)
    for i in range(3):
        w.lacale.add_torrent(f"Dune.{i}.1080p")
    for i in range(60):
        w.lacale.add_torrent(f"Linux.Distro.{i}")
    report = await cycle(w)
    assert report.outcomes == {"gap": 1}
    (message,) = alert_posts(w, w.channel)
    assert titles(message) == ["Dune.0.1080p", "Dune.1.1080p", "Dune.2.1080p"]


async def test_unfillable_gap_is_reported_with_times(ready: VigieWorld) -> None:
    w = ready
    await final(w, "alert add", name="dune", query="dune")
    w.lacale.add_torrent("Dune.Before")
    await cycle(w)
    for i in range(65):
        w.lacale.add_torrent(f"Dune.Burst.{i:02d}")
    await cycle(w)
    posts = alert_posts(w, w.channel)
    posted = [t for m in posts for t in titles(m)]
    assert len(posted) == 1 + 50 and len(posts) == 1 + 5  # ten embeds per message
    # Posted in the server's language (this one is French), with two Discord timestamps.
    notice = await w.discord.wait_for_channel_message(w.channel, lambda m: "ont pu échapper" in m["content"])
    assert len(re.findall(r"<t:\d+:f>", notice["content"])) == 2 and "« dune »" in notice["content"]


async def test_deleted_channel_pauses_the_alert_and_tells_admins(ready: VigieWorld) -> None:
    w = ready
    target = w.discord.add_channel(w.guild, "dune-alerts")
    await final(w, "alert add", name="dune", query="dune", channel=target)
    await cycle(w)
    w.discord.delete_channel(target)
    w.lacale.add_torrent("Dune.2024")
    await cycle(w)
    system = w.guild.system_channel
    assert system is not None
    notice = await w.discord.wait_for_channel_message(system, lambda m: "a été supprimé" in m["content"])
    assert "« dune »" in notice["content"] and "/alert edit" in notice["content"]
    assert "paused: its channel was deleted" in (await final(w, "alert list"))["embeds"][0]["description"]
    status = await final(w, "setup status")
    assert any("1 paused" in f["value"] for f in status["embeds"][0]["fields"])
    # Moved to a live channel: the waiting post goes there, once.
    await final(w, "alert edit", name="dune", channel=w.channel)
    await cog(w).sender.flush()
    (message,) = alert_posts(w, w.channel)
    assert titles(message) == ["Dune.2024"]


async def test_forbidden_channel_pauses_and_log_channel_is_told(ready: VigieWorld) -> None:
    w = ready
    log_channel = w.discord.add_channel(w.guild, "vigie-log")
    await final(w, "setup log-channel", channel=log_channel)
    target = w.discord.add_channel(w.guild, "dune-alerts")
    await final(w, "alert add", name="dune", query="dune", channel=target)
    await cycle(w)
    w.discord.forbid_channel(target)
    w.lacale.add_torrent("Dune.2024")
    await cycle(w)
    notice = await w.discord.wait_for_channel_message(log_channel, lambda m: "ne peut plus publier" in m["content"])
    assert f"<#{target.id}>" in notice["content"]
    status = await final(w, "setup status", locale="en-US")
    alerts_field = next(f["value"] for f in status["embeds"][0]["fields"] if f["name"] == "Alerts")
    assert "1 paused" in alerts_field and "dune — Vigie may not post in its channel any more" in alerts_field
    w.discord.forbid_channel(target, False)
    await final(w, "alert resume", name="dune")
    await cog(w).sender.flush()
    assert [titles(m) for m in alert_posts(w, target)] == [["Dune.2024"]]


async def test_la_cale_refusing_the_key_pauses_alerts(ready: VigieWorld) -> None:
    w = ready
    await final(w, "alert add", name="dune", query="dune")
    await cycle(w)
    w.lacale.remove_key(w.key)
    report = await cycle(w)
    assert report.outcomes == {"key_refused": 1}
    system = w.guild.system_channel
    assert system is not None
    await w.discord.wait_for_channel_message(system, lambda m: "a refusé la clé du serveur" in m["content"])
    assert "La Cale refused the server's key" in (await final(w, "alert list"))["embeds"][0]["description"]
    assert "/setup key" in (await final(w, "alert resume", name="dune"))["content"]
    row = db(w).execute("select key_status from guild_settings").fetchone()
    assert row[0] == "refused"


async def test_la_cale_500_then_recovery_loses_nothing(ready: VigieWorld) -> None:
    w = ready
    await final(w, "alert add", name="dune", query="dune")
    await cycle(w)
    w.lacale.add_torrent("Dune.One")
    w.lacale.fail_next("/api/external", 500, times=50)
    report = await cycle(w)
    assert report.outcomes == {"unavailable": 1}
    w.lacale.clear_faults()
    w.lacale.add_torrent("Dune.Two")
    await cycle(w)
    (message,) = alert_posts(w, w.channel)
    assert titles(message) == ["Dune.One", "Dune.Two"]


async def test_restart_with_pending_deliveries_delivers_once(ready: VigieWorld) -> None:
    w = ready
    await final(w, "alert add", name="dune", query="dune")
    await cycle(w)
    # The sender dies; the poller records two matches; then the whole bot stops.
    sender_task = next(t for t in cog(w).pipeline.tasks if t.get_name() == "alert-sender")
    sender_task.cancel()
    await asyncio.gather(sender_task, return_exceptions=True)
    w.lacale.add_torrent("Dune.One")
    w.lacale.add_torrent("Dune.Two")
    await cog(w).scheduler.run_cycle(spread=0)
    assert alert_posts(w, w.channel) == []
    assert db(w).execute("select count(*) from deliveries where status = 'pending'").fetchone()[0] == 2
    await w.restart()
    # Sent at start, without waiting for a poll.
    message = await w.discord.wait_for_channel_message(w.channel, lambda m: bool(m.get("embeds")))
    assert titles(message) == ["Dune.One", "Dune.Two"]
    await cycle(w)
    await w.restart()
    await cycle(w)
    assert len(alert_posts(w, w.channel)) == 1
    assert db(w).execute("select count(*) from deliveries where status = 'delivered'").fetchone()[0] == 2


async def test_ambiguous_408_after_posting_is_retried_with_the_same_nonce(ready: VigieWorld) -> None:
    """A REST proxy answers 408 on its own timeout after Discord created the message: the
    retry must reuse the nonce (Discord answers it with the existing message), never
    re-send the releases under new nonces (two posts)."""
    w = ready
    await final(w, "alert add", name="dune", query="dune")
    await cycle(w)
    w.lacale.add_torrent("Dune.One")
    w.lacale.add_torrent("Dune.Two")
    route = f"POST /channels/{w.channel.id}/messages"
    w.discord.fail_next(route, 408, message="Request Timeout", after_handling=True)
    await cycle(w)
    assert len(alert_posts(w, w.channel)) == 1  # posted, though the answer was a 408
    pending = (
        db(w)
        .execute("select count(*), count(distinct batch_nonce) from deliveries where status = 'pending'")
        .fetchone()
    )
    assert pending == (2, 1)  # still claimed under one nonce
    await cog(w).sender.flush()
    (message,) = alert_posts(w, w.channel)
    assert titles(message) == ["Dune.One", "Dune.Two"]
    assert w.discord.nonce_dedup_hits == 1
    assert db(w).execute("select count(*) from deliveries where status = 'delivered'").fetchone()[0] == 2


async def test_alert_card_link_carrying_a_secret_is_rebuilt(ready: VigieWorld) -> None:
    w = ready
    await final(w, "alert add", name="dune", query="dune")
    await cycle(w)
    passkey = "0123456789abcdef0123456789abcdef"
    one = w.lacale.add_torrent("Dune.One", link="{base}/torrents/dune-one?authkey=SECRETAK")
    two = w.lacale.add_torrent("Dune.Two", link="{base}/announce/" + passkey)
    await cycle(w)
    (message,) = alert_posts(w, w.channel)
    base = w.lacale.base_url
    assert [e["url"] for e in message["embeds"]] == [
        f"{base}/api/torrents/download/{t['infoHash']}" for t in (one, two)
    ]
    sent = "\n".join(w.discord.all_sent_text())
    assert "SECRETAK" not in sent and passkey not in sent


async def test_alert_names_queries_and_cards_are_clean(ready: VigieWorld) -> None:
    """/alert list and the alert card show names, queries and titles escaped, without
    bidi overrides, zero-width characters or line breaks."""
    import unicodedata

    def hidden(text: str) -> list[str]:
        text = text.replace("@\u200b", "@")
        return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf")]

    w = ready
    await final(w, "alert add", name="**dune**\u202e\u200b", query="dune __x__\u2066")
    body = (await final(w, "alert list"))["embeds"][0]["description"]
    first = body.split("\n", 1)[0]
    assert first.startswith("**\\*\\*dune\\*\\***") and hidden(body.replace("\n", " ")) == []
    assert "dune \\_\\_x\\_\\_" in body
    choices = await w.discord.autocomplete("alert remove", "name", "", by=w.admin, in_channel=w.channel)
    assert [c["name"] for c in choices] == ["**dune**"]  # no Markdown renders there; no bidi override either
    await cycle(w)
    w.lacale.add_torrent("Dune.X\u202eexe.4pm\u200b\n**Bold** @everyone")
    await cycle(w)
    (message,) = alert_posts(w, w.channel)
    embed = message["embeds"][0]
    assert embed["title"] == "Dune.Xexe.4pm \\*\\*Bold\\*\\* @\u200beveryone"
    assert hidden(embed["title"]) == [] and hidden(embed["footer"]["text"]) == []
    assert message["mention_everyone"] is False
