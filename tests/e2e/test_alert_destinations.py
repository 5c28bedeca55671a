"""Where alerts post, through both fakes: forums (one post per release, named after it, with
the category's tag), threads, announcement channels; what ``/alert add`` refuses for each
kind of channel; losing access pauses; age-restricted categories; a forum post retried
after an ambiguous failure is not doubled."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import VigieWorld
from tests.e2e.conftest import alert_cycle as cycle
from tests.e2e.conftest import alerts_cog as cog
from tests.fakes.discord import EMBED_LINKS, SEND_MESSAGES, SEND_MESSAGES_IN_THREADS, FakeChannel

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def ready(world: VigieWorld) -> VigieWorld:
    # La Cale's real tree has an « XXX » branch (nothing else marks it age-restricted).
    world.lacale.add_category("XXX", "xxx")
    world.lacale.add_category("Hétéro", "xxx-hetero", parent="xxx")
    await world.register_key()
    return world


async def final(world: VigieWorld, command: str, **options: Any) -> str:
    rec = await world.invoke(command, **options)
    message = await rec.wait_final()
    return str(message.get("content") or "")


def titles(message: dict[str, Any]) -> list[str]:
    return [e.get("title", "").replace("\\", "") for e in message.get("embeds", [])]


def alert_posts(world: VigieWorld, channel: FakeChannel) -> list[dict[str, Any]]:
    return [m for m in world.discord.channel_messages(channel) if m.get("embeds")]


def tag_names(forum: FakeChannel, post: FakeChannel) -> list[str]:
    names = {int(t["id"]): t["name"] for t in forum.available_tags}
    return [names[int(t)] for t in post.applied_tags]


async def test_a_forum_gets_one_post_per_release_with_the_category_tag(ready: VigieWorld) -> None:
    w = ready
    forum = w.discord.add_forum(w.guild, "sorties", tags=["Films HD", "séries tv", "Jeux"])
    role = w.discord.add_role(w.guild, "cinéphiles", mentionable=True)
    assert f"created: new releases matching it will be posted in <#{forum.id}>" in await final(
        w, "alert add", name="tout", channel=forum, mention=role
    )
    await cycle(w)
    long_title = "Un.Tres.Long.Titre." + "Encore." * 20 + "1080p"
    w.lacale.add_torrent("Dune.Part.Two.2024.2160p", category_label="Films HD")
    w.lacale.add_torrent("Arcane.S02E01.1080p", category_label="Séries TV")
    w.lacale.add_torrent("Jeu.**<@&1>**.PC", category_label="PC")
    w.lacale.add_torrent(long_title, category_label="Films HD")
    await cycle(w)
    posts = w.discord.forum_posts(forum)
    assert (
        [p.name for p in posts]
        == [
            "Dune.Part.Two.2024.2160p",
            "Arcane.S02E01.1080p",
            "Jeu.**<@&1>**.PC",  # a thread name is plain text: nothing to escape, nothing pinged
            long_title[:99] + "…",
        ]
    )
    # The tag named like the category, case and accents ignored; none for « PC ».
    assert [tag_names(forum, p) for p in posts] == [["Films HD"], ["séries tv"], [], ["Films HD"]]
    for post in posts:
        (first,) = w.discord.channel_messages(post)
        assert int(first["id"]) == post.id and len(first["embeds"]) == 1
        assert first["content"] == role.mention
    assert titles(w.discord.channel_messages(posts[2])[0]) == ["Jeu.**<@&1>**.PC"]
    # Nothing more on the next cycles, and nothing posted as a plain message anywhere.
    await cycle(w)
    assert len(w.discord.forum_posts(forum)) == 4
    assert alert_posts(w, w.channel) == []


async def test_a_forum_that_requires_a_tag_gets_its_first_tag_when_none_matches(ready: VigieWorld) -> None:
    w = ready
    forum = w.discord.add_forum(
        w.guild, "sorties", tags=[{"name": "Modération", "moderated": True}, "Divers", "Films HD"], require_tag=True
    )
    await final(w, "alert add", name="tout", channel=forum)
    await cycle(w)
    w.lacale.add_torrent("Arcane.S02E01.1080p", category_label="Séries TV")
    w.lacale.add_torrent("Dune.2021.1080p", category_label="Films HD")
    await cycle(w)
    posts = w.discord.forum_posts(forum)
    # No « Séries TV » tag: the first tag Vigie may apply (not the moderated one), so that
    # Discord does not refuse the post; the card still says « Séries TV ».
    assert [(p.name, tag_names(forum, p)) for p in posts] == [
        ("Arcane.S02E01.1080p", ["Divers"]),
        ("Dune.2021.1080p", ["Films HD"]),
    ]


async def test_a_thread_and_an_announcement_channel_get_the_posts(ready: VigieWorld) -> None:
    w = ready
    thread = w.discord.add_thread(w.channel, "sorties-dune")
    private = w.discord.add_thread(w.channel, "privé", private=True)
    news = w.discord.add_announcement(w.guild, "annonces")
    await final(w, "alert add", name="fil", query="dune", channel=thread)
    await final(w, "alert add", name="privé", query="dune", channel=private)
    await final(w, "alert add", name="annonces", query="dune", channel=news)
    await cycle(w)
    w.lacale.add_torrent("Dune.2024.1080p")
    await cycle(w)
    for channel in (thread, private, news):
        assert [titles(m) for m in alert_posts(w, channel)] == [["Dune.2024.1080p"]]
    assert alert_posts(w, w.channel) == []
    # An archived (not locked) thread is reopened by the next post, as on Discord.
    w.discord.archive_thread(thread)
    w.lacale.add_torrent("Dune.Part.Two.2024")
    await cycle(w)
    assert [titles(m) for m in alert_posts(w, thread)][-1] == ["Dune.Part.Two.2024"]
    assert not thread.archived


async def test_each_kind_of_channel_is_refused_with_what_vigie_lacks(ready: VigieWorld) -> None:
    w = ready
    bot = w.guild.me
    no_embeds = w.discord.add_channel(w.guild, "sans-liens")
    w.discord.set_overwrite(no_embeds, bot.id, deny=EMBED_LINKS)
    text = await final(w, "alert add", name="refusee", query="x", channel=no_embeds)
    assert f"cannot post in <#{no_embeds.id}>" in text and "« Embed Links »" in text

    news = w.discord.add_announcement(w.guild, "annonces")
    w.discord.set_overwrite(news, bot.id, deny=SEND_MESSAGES)
    text = await final(w, "alert add", name="refusee", query="x", channel=news, locale="fr")
    # Without Send Messages, Discord (and discord.py) take Embed Links away too.
    assert f"ne peut pas publier dans <#{news.id}>" in text and "« Envoyer des messages, Intégrer des liens »" in text

    closed = w.discord.add_channel(w.guild, "fils-fermés")
    w.discord.set_overwrite(closed, bot.id, deny=SEND_MESSAGES_IN_THREADS)
    thread = w.discord.add_thread(closed, "fil")
    text = await final(w, "alert add", name="refusee", query="x", channel=thread)
    assert "the thread" in text and "« Send Messages in Threads, Embed Links »" in text
    # Send Messages is not what a thread needs.
    open_threads = w.discord.add_channel(w.guild, "fils-ouverts")
    w.discord.set_overwrite(open_threads, bot.id, deny=SEND_MESSAGES)
    assert "created" in await final(w, "alert add", name="fil", query="x", channel=w.discord.add_thread(open_threads))

    locked = w.discord.add_thread(w.channel, "verrouillé", locked=True)
    assert "is locked" in await final(w, "alert add", name="refusee", query="x", channel=locked)
    archived = w.discord.add_thread(w.channel, "archivé", archived=True)
    assert "is archived" in await final(w, "alert add", name="refusee", query="x", channel=archived)
    hidden = w.discord.add_thread(w.channel, "caché", private=True, bot_joined=False)
    text = await final(w, "alert add", name="refusee", query="x", channel=hidden, locale="fr")
    assert f"ne voit pas le fil privé <#{hidden.id}>" in text

    forum = w.discord.add_forum(w.guild, "sorties")
    w.discord.set_overwrite(forum, bot.id, deny=SEND_MESSAGES)  # « Create Posts » on a forum
    text = await final(w, "alert add", name="refusee", query="x", channel=forum)
    assert f"cannot open posts in the forum <#{forum.id}>" in text and "« Send Messages, Embed Links »" in text

    # Moving an alert is checked the same way; changing its criteria is not held up by a
    # channel it lost meanwhile (its alert pauses at the next post, as before).
    text = await final(w, "alert edit", name="fil", channel=locked)
    assert "is locked" in text
    w.discord.archive_thread(w.discord.threads_of(open_threads)[0], locked=True)
    assert "updated" in await final(w, "alert edit", name="fil", category="films")
    listed = await w.invoke("alert list")
    description = (await listed.wait_final())["embeds"][0]["description"]
    assert "fil" in description and "refusee" not in description


async def test_losing_access_to_a_forum_or_thread_pauses_the_alert(ready: VigieWorld) -> None:
    w = ready
    forum = w.discord.add_forum(w.guild, "sorties")
    thread = w.discord.add_thread(w.channel, "fil")
    locked = w.discord.add_thread(w.channel, "verrouillé")
    tagged = w.discord.add_forum(w.guild, "étiquetée", tags=[{"name": "Modération", "moderated": True}])
    await final(w, "alert add", name="forum", query="dune", channel=forum)
    await final(w, "alert add", name="fil", query="dune", channel=thread)
    await final(w, "alert add", name="verrou", query="dune", channel=locked)
    await final(w, "alert add", name="tags", query="dune", channel=tagged)
    await cycle(w)
    w.discord.set_overwrite(forum, w.guild.me.id, deny=SEND_MESSAGES)
    w.discord.archive_thread(thread, locked=True)  # archived and locked: 50083
    w.discord.archive_thread(locked, archived=False, locked=True)  # locked, still open: 160005
    # Tags required afterwards, and the only one is for moderators: 40067.
    tagged.flags |= 1 << 4
    w.lacale.add_torrent("Dune.2024")
    await cycle(w)
    listed = await w.invoke("alert list")
    description = (await listed.wait_final())["embeds"][0]["description"]
    assert description.count("Vigie may not post in its channel any more") == 4
    # Access back: resumed, the waiting post goes out once.
    w.discord.remove_overwrite(forum, w.guild.me.id)
    await final(w, "alert resume", name="forum")
    await cog(w).sender.flush()
    assert [p.name for p in w.discord.forum_posts(forum)] == ["Dune.2024"]


async def test_age_restricted_categories_only_in_age_restricted_channels(ready: VigieWorld) -> None:
    w = ready
    plain_forum = w.discord.add_forum(w.guild, "sorties")
    text = await final(w, "alert add", name="adulte", category="xxx", channel=plain_forum)
    assert "age-restricted on La Cale" in text and f"<#{plain_forum.id}>" in text
    adult = w.discord.add_channel(w.guild, "adulte", nsfw=True)
    adult_thread = w.discord.add_thread(adult, "fil")
    # A thread counts as age-restricted when its channel is.
    assert "created" in await final(w, "alert add", name="adulte", category="xxx", channel=adult_thread)
    assert "age-restricted" in await final(w, "alert edit", name="adulte", channel=plain_forum)
    # An alert on everything, in a channel that is not age-restricted, never posts the
    # age-restricted releases there.
    await final(w, "alert add", name="tout", channel=w.channel)
    await cycle(w)
    w.lacale.add_torrent("Adult.Release.2025", category_label="Hétéro")
    w.lacale.add_torrent("Dune.2024", category_label="Films HD")
    await cycle(w)
    assert [titles(m) for m in alert_posts(w, w.channel)] == [["Dune.2024"]]
    assert [titles(m) for m in alert_posts(w, adult_thread)] == [["Adult.Release.2025"]]
    # The channel stops being age-restricted: its next age-restricted release is not posted.
    w.discord.set_nsfw(adult, False)
    w.lacale.add_torrent("Adult.Release.2026", category_label="Hétéro")
    await cycle(w)
    assert [titles(m) for m in alert_posts(w, adult_thread)] == [["Adult.Release.2025"]]


@pytest.mark.parametrize("status", [408, 502])
async def test_a_forum_post_retried_after_an_ambiguous_failure_is_not_doubled(ready: VigieWorld, status: int) -> None:
    """Discord creates the post, then the answer is lost (a proxy's 408, a 502): the post
    is retried, and neither discord.py (which resends a 502 by itself) nor Vigie's retry
    opens a second one."""
    w = ready
    forum = w.discord.add_forum(w.guild, "sorties", tags=["Films HD"])
    await final(w, "alert add", name="dune", query="dune", channel=forum)
    await cycle(w)
    w.lacale.add_torrent("Dune.2024", category_label="Films HD")
    w.lacale.add_torrent("Dune.Part.Two.2024", category_label="Films HD")
    w.discord.fail_next(f"/channels/{forum.id}/threads", status, after_handling=True)
    await cycle(w)
    assert [p.name for p in w.discord.forum_posts(forum)] == ["Dune.2024"]  # created, answer lost
    await cog(w).sender.flush()
    await cog(w).sender.flush()
    assert [p.name for p in w.discord.forum_posts(forum)] == ["Dune.2024", "Dune.Part.Two.2024"]
    # After a restart too (the claim survives; the look-up finds the posts).
    w.lacale.add_torrent("Dune.Messiah.2026", category_label="Films HD")
    w.discord.fail_next(f"/channels/{forum.id}/threads", status, after_handling=True)
    await cycle(w)
    await w.restart()
    await cog(w).sender.flush()
    assert [p.name for p in w.discord.forum_posts(forum)] == ["Dune.2024", "Dune.Part.Two.2024", "Dune.Messiah.2026"]
