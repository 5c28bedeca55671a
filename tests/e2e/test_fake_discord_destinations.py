"""Self-tests of the fake Discord's destinations: announcement channels, threads, forums, age
restriction and DMs, driven by a plain discord.py client, with every payload checked against
Discord's OpenAPI schemas (tests/fakes/discord/spec.py).

What Discord answers is checked where Discord documents it: 40058 (message in a forum), 40067
(forum post without a required tag), 50083 (locked archived thread), 160005 (locked thread), 50007
(DMs closed, or no server shared with the user), 50013/50001 (permissions)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import pytest

from tests.e2e.conftest import run_bot
from tests.fakes.discord import (
    CREATE_PUBLIC_THREADS,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    FakeChannel,
    FakeDiscord,
    FakeDiscordError,
)
from tests.fakes.discord.spec import SPEC_ENV, available, problems

pytestmark = [
    pytest.mark.asyncio,
    # These check the fake against Discord's own schemas: without them there is nothing to check against.
    pytest.mark.skipif(not available(), reason=f"Discord's OpenAPI description not found (set {SPEC_ENV})"),
]


def conforms(schema: str, payload: Any) -> None:
    found = problems(schema, payload)
    assert not found, f"{schema}: {found}"


def schema_of(ch: FakeChannel) -> str:
    if ch.is_thread:
        return "ThreadResponse"
    return "PrivateChannelResponse" if ch.guild_id is None else "GuildChannelResponse"


def _collect(into: list[Any]) -> Any:
    async def on_thread_remove(thread: discord.Thread) -> None:
        into.append(thread)

    return on_thread_remove


@pytest.fixture
def world(fake_discord: FakeDiscord) -> SimpleNamespace:
    fake = fake_discord
    guild = fake.add_guild(name="La Cale")
    text = fake.add_channel(guild, "sorties")
    news = fake.add_announcement(guild, "annonces")
    adult = fake.add_channel(guild, "xxx", nsfw=True)
    forum = fake.add_forum(guild, "releases", tags=["Films", {"name": "Séries", "emoji_name": "📺"}], require_tag=True)
    free_forum = fake.add_forum(guild, "libre", tags=["Films", {"name": "Modo", "moderated": True}])
    thread = fake.add_thread(text, "fil public")
    joined = fake.add_thread(text, "fil privé", private=True)
    hidden = fake.add_thread(text, "fil caché", private=True, bot_joined=False)
    member = fake.add_member(guild, name="alice", locale="fr")
    return SimpleNamespace(
        fake=fake,
        guild=guild,
        text=text,
        news=news,
        adult=adult,
        forum=forum,
        free_forum=free_forum,
        thread=thread,
        joined=joined,
        hidden=hidden,
        member=member,
    )


@pytest.fixture
async def client(world: SimpleNamespace) -> AsyncIterator[discord.Client]:
    async with run_bot(discord.Client(intents=discord.Intents.default()), world.fake, expect_sync=False) as running:
        yield running


async def test_channel_kinds_reach_discord_py_as_discord_sends_them(
    world: SimpleNamespace, client: discord.Client
) -> None:
    fake = world.fake
    for ch in fake.channels.values():
        conforms(schema_of(ch), ch.payload())
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    news = guild.get_channel(world.news.id)
    assert isinstance(news, discord.TextChannel) and news.is_news()
    forum = guild.get_channel(world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    assert [t.name for t in forum.available_tags] == ["Films", "Séries"] and forum.flags.require_tag
    assert not guild.get_channel(world.free_forum.id).flags.require_tag  # type: ignore[union-attr]
    adult = guild.get_channel(world.adult.id)
    assert isinstance(adult, discord.TextChannel) and adult.is_nsfw()
    assert not guild.get_channel(world.text.id).is_nsfw()  # type: ignore[union-attr]
    # GUILD_CREATE: threads apart from channels, a private thread only if the bot is in it.
    thread = guild.get_thread(world.thread.id)
    assert thread is not None and thread.parent_id == world.text.id and thread.type is discord.ChannelType.public_thread
    joined = guild.get_thread(world.joined.id)
    assert joined is not None and joined.type is discord.ChannelType.private_thread
    assert guild.get_thread(world.hidden.id) is None
    assert guild.get_channel(world.thread.id) is None

    # Changes after READY are dispatched.
    fake.set_nsfw(world.text)
    await fake.wait_until(lambda: guild.get_channel(world.text.id).is_nsfw(), what="CHANNEL_UPDATE nsfw")  # type: ignore[union-attr]
    later = fake.add_thread(world.news, "fil d'annonce")
    assert later.type == 10
    conforms("ThreadResponse", later.payload())
    await fake.wait_until(lambda: guild.get_thread(later.id) is not None, what="THREAD_CREATE")
    assert guild.get_thread(later.id).type is discord.ChannelType.news_thread  # type: ignore[union-attr]
    fake.archive_thread(later)
    await fake.wait_until(lambda: guild.get_thread(later.id) is None, what="THREAD_UPDATE archived")

    # REST: a guild's channels leave threads out; its active threads list them.
    fetched = await guild.fetch_channels()
    assert world.thread.id not in {c.id for c in fetched} and world.forum.id in {c.id for c in fetched}
    for c in await client.http.get_all_guild_channels(guild.id):
        conforms("GuildChannelResponse", c)
    active = {t.id for t in await guild.active_threads()}
    assert {world.thread.id, world.joined.id} <= active and later.id not in active


async def test_posting_in_threads_takes_send_messages_in_threads(
    world: SimpleNamespace, client: discord.Client
) -> None:
    fake = world.fake
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    thread = guild.get_thread(world.thread.id)
    assert thread is not None
    sent = await thread.send("dans le fil")
    [stored] = fake.channel_messages(world.thread)
    assert stored["id"] == str(sent.id) and stored["content"] == "dans le fil"
    conforms("MessageResponse", stored)
    assert world.thread.message_count == 1

    # The thread has its parent's permissions: Send Messages in Threads, not Send Messages.
    fake.set_overwrite(world.text, fake.bot_user, deny=SEND_MESSAGES_IN_THREADS)
    with pytest.raises(discord.Forbidden) as denied:
        await thread.send("x")
    assert denied.value.code == 50013
    await guild.get_channel(world.text.id).send("le salon, lui, reste ouvert")  # type: ignore[union-attr]
    fake.set_overwrite(world.text, fake.bot_user, allow=SEND_MESSAGES_IN_THREADS, deny=SEND_MESSAGES)
    await thread.send("le fil sans le salon")
    with pytest.raises(discord.Forbidden):
        await guild.get_channel(world.text.id).send("x")  # type: ignore[union-attr]
    fake.remove_overwrite(world.text, fake.bot_user)
    with pytest.raises(FakeDiscordError, match="parent"):
        fake.set_overwrite(world.thread, fake.bot_user, deny=SEND_MESSAGES_IN_THREADS)

    # Archived, not locked: the message unarchives it (THREAD_UPDATE).
    fake.archive_thread(world.thread)
    await fake.wait_until(lambda: guild.get_thread(world.thread.id) is None, what="archived")
    await client.get_partial_messageable(world.thread.id).send("réveil")
    assert not world.thread.archived
    await fake.wait_until(lambda: guild.get_thread(world.thread.id) is not None, what="unarchived")
    # Locked: refused without Manage Threads, archived (50083) or not (160005).
    fake.archive_thread(world.thread, locked=True)
    with pytest.raises(discord.HTTPException) as archived:
        await client.get_partial_messageable(world.thread.id).send("x")
    assert archived.value.status == 400 and archived.value.code == 50083
    fake.archive_thread(world.thread, archived=False, locked=True)
    with pytest.raises(discord.HTTPException) as locked:
        await client.get_partial_messageable(world.thread.id).send("x")
    assert locked.value.code == 160005
    # A private thread the bot is not in is out of reach; one it joined is not.
    with pytest.raises(discord.Forbidden) as hidden:
        await client.get_partial_messageable(world.hidden.id).send("x")
    assert hidden.value.code == 50001
    with pytest.raises(discord.Forbidden):
        await client.fetch_channel(world.hidden.id)
    fetched = await client.fetch_channel(world.joined.id)
    assert isinstance(fetched, discord.Thread) and fetched.locked is False
    await client.get_partial_messageable(world.joined.id).send("entre nous")
    assert [m["content"] for m in fake.channel_messages(world.joined)] == ["entre nous"]
    removed_from: list[discord.Thread] = []
    client.event(_collect(removed_from))  # registers on_thread_remove
    fake.remove_thread_member(world.joined, fake.bot_user)
    await fake.wait_until(lambda: [t.id for t in removed_from] == [world.joined.id], what="THREAD_MEMBERS_UPDATE")
    with pytest.raises(discord.Forbidden) as removed:
        await client.get_partial_messageable(world.joined.id).send("x")
    assert removed.value.code == 50001
    # A deleted thread is gone (THREAD_DELETE, then 10003).
    fake.delete_channel(world.thread)
    await fake.wait_until(lambda: guild.get_thread(world.thread.id) is None, what="THREAD_DELETE")
    with pytest.raises(discord.NotFound) as deleted:
        await client.get_partial_messageable(world.thread.id).send("x")
    assert deleted.value.code == 10003

    # Threads of a text channel: Create Public Threads.
    text = guild.get_channel(world.text.id)
    assert isinstance(text, discord.TextChannel)
    with pytest.raises(discord.Forbidden):
        await text.create_thread(name="nouveau fil", type=discord.ChannelType.public_thread)
    fake.set_overwrite(world.text, fake.bot_user, allow=CREATE_PUBLIC_THREADS)
    made = await text.create_thread(name="nouveau fil", type=discord.ChannelType.public_thread)
    assert made.parent_id == world.text.id and fake.channels[made.id].name == "nouveau fil"
    conforms("ThreadResponse", fake.channels[made.id].payload())
    fake.errors.clear()


async def test_forum_posts(world: SimpleNamespace, client: discord.Client) -> None:
    fake = world.fake
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    forum = guild.get_channel(world.forum.id)
    assert isinstance(forum, discord.ForumChannel)
    films = next(t for t in forum.available_tags if t.name == "Films")
    made = await forum.create_thread(
        name="Dune.2021.MULTi.2160p.WEB-DL.x265",
        content="Nouvelle sortie",
        embed=discord.Embed(title="Dune"),
        applied_tags=[films],
        allowed_mentions=discord.AllowedMentions.none(),
    )
    [post] = fake.forum_posts(world.forum)
    assert made.thread.id == post.id == made.message.id and post.name == "Dune.2021.MULTi.2160p.WEB-DL.x265"
    assert post.applied_tags == [films.id] and made.thread.applied_tags == [films]
    [first] = fake.channel_messages(post)
    assert first["content"] == "Nouvelle sortie" and first["embeds"][0]["title"] == "Dune"
    conforms("ThreadResponse", post.payload())
    conforms("MessageResponse", first)
    await fake.wait_until(lambda: guild.get_thread(post.id) is not None, what="THREAD_CREATE of the post")
    await made.thread.send("suite")  # a post is a thread: Send Messages in Threads
    assert [m["content"] for m in fake.channel_messages(post)] == ["Nouvelle sortie", "suite"]
    seeded = fake.add_thread(world.forum, "Arcane S02", applied_tags=["Séries"], owner=world.member)
    assert fake.forum_posts(world.forum) == [post, seeded]
    [opening] = fake.channel_messages(seeded)
    assert opening["id"] == str(seeded.id) and opening["author"]["id"] == str(world.member.id)
    assert seeded.applied_tags == [int(world.forum.tag("Séries")["id"])]
    await fake.wait_until(lambda: guild.get_thread(seeded.id) is not None, what="THREAD_CREATE of a member's post")
    assert [t.name for t in guild.get_thread(seeded.id).applied_tags] == ["Séries"]  # type: ignore[union-attr]

    # REQUIRE_TAG: a post without a tag is refused; an unknown tag too.
    with pytest.raises(discord.HTTPException) as untagged:
        await forum.create_thread(name="sans tag", content="x")
    assert untagged.value.status == 400 and untagged.value.code == 40067
    with pytest.raises(discord.HTTPException) as unknown:
        await forum.create_thread(name="tag inconnu", content="x", applied_tags=[discord.Object(1234)])  # type: ignore[list-item]
    assert unknown.value.code == 50035 and "applied_tags" in str(unknown.value)
    # A moderated tag takes Manage Threads; a forum without REQUIRE_TAG takes untagged posts.
    free = guild.get_channel(world.free_forum.id)
    assert isinstance(free, discord.ForumChannel)
    modo = next(t for t in free.available_tags if t.name == "Modo")
    with pytest.raises(discord.Forbidden):
        await free.create_thread(name="modo", content="x", applied_tags=[modo])
    await free.create_thread(name="libre", content="x")
    assert [p.name for p in fake.forum_posts(world.free_forum)] == ["libre"]
    # Create Posts is Send Messages on a forum.
    fake.set_overwrite(world.free_forum, fake.bot_user, deny=SEND_MESSAGES)
    with pytest.raises(discord.Forbidden) as no_posts:
        await free.create_thread(name="interdit", content="x")
    assert no_posts.value.code == 50013
    # A forum has no messages of its own.
    with pytest.raises(discord.HTTPException) as not_here:
        await client.get_partial_messageable(world.forum.id).send("x")
    assert not_here.value.code == 40058
    assert len(fake.forum_posts(world.forum)) == 2  # the refused ones left nothing behind
    fake.errors.clear()


async def test_forum_post_bodies_are_checked_against_discords_schema(world: SimpleNamespace) -> None:
    fake = world.fake
    tag = world.forum.tag("Séries")["id"]
    url = f"{fake.api_base}/channels/{world.forum.id}/threads"
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as http:
        bad = {"name": "", "message": {"content": 3}, "applied_tags": [tag], "auto_archive_duration": 5}
        async with http.post(url, json=bad, headers=headers) as resp:
            assert resp.status == 400
            body = await resp.json()
        assert body["code"] == 50035 and {"name", "message", "auto_archive_duration"} <= set(body["errors"])
        async with http.post(url, json={"name": "no message"}, headers=headers) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 50035
        good = {"name": "Arcane S02", "message": {"content": "ok", "flags": 4096}, "applied_tags": [tag]}
        async with http.post(url, json=good, headers=headers) as resp:
            assert resp.status == 201
            created = await resp.json()
    conforms("CreatedThreadResponse", created)
    conforms("MessageResponse", created["message"])
    assert created["applied_tags"] == [tag] and created["message"]["id"] == created["id"]
    assert created["thread_metadata"]["auto_archive_duration"] == 1440
    fake.errors.clear()


async def test_dms_closed_and_no_shared_server_answer_50007(world: SimpleNamespace, client: discord.Client) -> None:
    fake = world.fake
    user = await client.fetch_user(world.member.id)
    await user.send("Nouvelle sortie : Dune")
    assert [m["content"] for m in fake.dms_to(world.member)] == ["Nouvelle sortie : Dune"]
    conforms("PrivateChannelResponse", fake.dm_channel(world.member).payload())
    fake.set_dms_closed(world.member)
    with pytest.raises(discord.Forbidden) as closed:
        await user.send("x")
    assert closed.value.status == 403 and closed.value.code == 50007
    assert "Cannot send messages to this user" in str(closed.value)
    fake.set_dms_closed(world.member, False)
    await user.send("de nouveau")
    # Discord delivers a bot's DM only to someone who shares a server with it.
    fake.remove_member(world.guild, world.member)
    with pytest.raises(discord.Forbidden) as gone:
        await user.send("x")
    assert gone.value.code == 50007
    assert [m["content"] for m in fake.dms_to(world.member)] == ["Nouvelle sortie : Dune", "de nouveau"]
    assert fake.dms_to(fake.add_user(name="stranger")) == []
    # The DM channel request itself is checked against Discord's schema.
    with pytest.raises(discord.HTTPException) as bad:
        await client.http.start_private_message("not-a-snowflake")  # type: ignore[arg-type]
    assert bad.value.code == 50035
    fake.errors.clear()


async def test_commands_pick_and_run_in_threads_and_forums(world: SimpleNamespace) -> None:
    """A channel option resolves a thread (with its parent and metadata) and a forum; a command
    run inside a thread or a forum post sees that thread."""
    fake = world.fake
    seen: list[Any] = []
    client = discord.Client(intents=discord.Intents.default())
    tree = discord.app_commands.CommandTree(client)

    @tree.command(name="where", description="Where to post")
    @discord.app_commands.describe(channel="Destination")
    async def where(
        interaction: discord.Interaction,
        channel: discord.app_commands.AppCommandChannel | discord.app_commands.AppCommandThread,
    ) -> None:
        seen.append((channel, interaction.channel))
        await interaction.response.send_message("ok", ephemeral=True)

    async def setup_hook() -> None:
        await tree.sync()

    client.setup_hook = setup_hook  # type: ignore[method-assign]
    async with run_bot(client, fake):
        [option] = fake.command("where")["options"]
        assert set(option["channel_types"]) >= {0, 5, 11, 12, 15}
        await (await fake.invoke("where", channel=world.thread, in_channel=world.joined)).wait_final()
        picked, where_run = seen.pop()
        assert isinstance(picked, discord.app_commands.AppCommandThread)
        assert picked.parent_id == world.text.id and not picked.archived
        assert picked.permissions.send_messages_in_threads
        assert isinstance(where_run, discord.Thread) and where_run.id == world.joined.id
        await (await fake.invoke("where", channel=world.forum, in_channel=world.news)).wait_final()
        picked, _ = seen.pop()
        assert isinstance(picked, discord.app_commands.AppCommandChannel)
        assert picked.type is discord.ChannelType.forum
        await (await fake.invoke("where", channel=world.news)).wait_final()
        assert seen.pop()[0].type is discord.ChannelType.news
