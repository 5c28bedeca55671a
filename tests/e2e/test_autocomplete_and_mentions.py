"""Issue 9, items 10 and 11, through the fake Discord and the fake La Cale.

- Autocomplete runs no ``interaction_check``: each suggestion list checks the command's
  permission itself, and a key La Cale refuses costs one ``/meta`` a minute, not one per
  keystroke.
- ``/alert … mention:`` accepts a role only if it is mentionable or the member may
  mention every role in the alert's channel: Vigie pings with its own permission.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from tests.e2e.conftest import MANAGE_GUILD, VigieWorld
from tests.fakes.lacale import META

pytestmark = pytest.mark.asyncio

VIEW_SEND = (1 << 10) | (1 << 11)
MENTION_EVERYONE = 1 << 17


@pytest.fixture
async def ready(world: VigieWorld) -> VigieWorld:
    await world.register_key()
    return world


async def final(
    world: VigieWorld, command: str, *, by: Any = None, locale: str = "en-US", **options: Any
) -> dict[str, Any]:
    rec = await world.invoke(command, by=by, locale=locale, **options)
    return await rec.wait_final()


def alert_rows(world: VigieWorld) -> list[tuple[str, int | None]]:
    with sqlite3.connect(world.settings.database_url.split("///", 1)[1]) as conn:
        return conn.execute("SELECT name, mention_role_id FROM alerts ORDER BY name").fetchall()


# -- item 10: autocomplete ----------------------------------------------------------------------


async def test_alert_autocomplete_suggests_nothing_without_manage_server(ready: VigieWorld) -> None:
    w = ready
    await final(w, "alert add", name="dune", query="dune")
    admin_names = await w.discord.autocomplete("alert remove", "name", "du", by=w.admin, in_channel=w.channel)
    assert [c["value"] for c in admin_names] == ["dune"]
    for command in ("alert remove", "alert edit", "alert pause", "alert resume", "alert test"):
        assert await w.discord.autocomplete(command, "name", "", by=w.member, in_channel=w.channel) == []
        assert await w.discord.autocomplete(command, "name", "du", by=w.member, in_channel=w.channel) == []
    assert await w.discord.autocomplete("alert add", "category", "fil", by=w.admin, in_channel=w.channel)
    assert await w.discord.autocomplete("alert add", "category", "fil", by=w.member, in_channel=w.channel) == []
    assert await w.discord.autocomplete("alert edit", "category", "fil", by=w.member, in_channel=w.channel) == []


async def test_upload_autocomplete_suggests_nothing_to_who_may_not_upload(ready: VigieWorld) -> None:
    """The server's key is lent to the upload role and Manage Server only; a member with
    neither (and no key of their own) gets no suggestions fetched with it."""
    w = ready
    assert await w.discord.autocomplete("upload", "category", "films", by=w.admin, in_channel=w.channel)
    assert await w.discord.autocomplete("upload", "tags", "", by=w.admin, in_channel=w.channel)
    assert await w.discord.autocomplete("upload", "category", "films", by=w.member, in_channel=w.channel) == []
    assert await w.discord.autocomplete("upload", "tags", "", by=w.member, in_channel=w.channel) == []
    # /search needs no permission: members get the categories.
    assert await w.discord.autocomplete("search", "category", "films", by=w.member, in_channel=w.channel)
    # With a key of their own, a member uploads under their account: suggestions come back.
    await w.register_member_key(w.member, w.lacale.add_key())
    assert await w.discord.autocomplete("upload", "category", "films", by=w.member, in_channel=w.channel)


async def test_refused_key_costs_one_meta_request_for_twenty_keystrokes(ready: VigieWorld) -> None:
    w = ready
    personal = w.lacale.add_key()
    await w.register_member_key(w.member, personal)
    w.lacale.remove_key(personal)  # La Cale refuses it from now on
    await w.restart()  # a new process: nothing cached for that key
    before = w.lacale.count(META, key=personal)  # the check when it was registered
    typed = "séries télévisées"
    for i in range(20):
        choices = await w.discord.autocomplete("search", "category", typed[: i + 1], by=w.member, in_channel=w.channel)
        assert choices == []
        await asyncio.sleep(0.05)  # a member types; a background fetch has time to end
    await asyncio.sleep(0.2)
    assert w.lacale.count(META, key=personal) - before <= 1
    # The server's valid key is unaffected by the refused one (a cold cache answers at the
    # next keystroke).
    for _ in range(20):
        if await w.discord.autocomplete("upload", "category", "films", by=w.admin, in_channel=w.channel):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("no suggestions with the server's valid key")


# -- item 11: mentions ---------------------------------------------------------------------------


async def test_add_refuses_a_role_the_member_could_not_ping(ready: VigieWorld) -> None:
    w = ready
    secret = w.discord.add_role(w.guild, "Staff", mentionable=False)
    open_role = w.discord.add_role(w.guild, "Dune fans", mentionable=True)
    text = (await final(w, "alert add", name="dune", query="dune", mention=secret))["content"]
    assert f"Vigie will not ping <@&{secret.id}>" in text and "not mentionable" in text
    assert "Mention @everyone, @here and All Roles" in text and f"<#{w.channel.id}>" in text
    fr = (await final(w, "alert add", name="dune", query="dune", mention=secret, locale="fr"))["content"]
    assert f"Vigie ne mentionnera pas <@&{secret.id}>" in fr and "n'est pas mentionnable" in fr
    assert alert_rows(w) == []
    assert "created" in (await final(w, "alert add", name="dune", query="dune", mention=open_role))["content"]
    assert alert_rows(w) == [("dune", open_role.id)]

    # A member allowed to mention every role may pick any role.
    pinger = w.discord.add_member(
        w.guild, name="pinger", permissions=MANAGE_GUILD | VIEW_SEND | MENTION_EVERYONE, locale="en-US"
    )
    assert "created" in (await final(w, "alert add", by=pinger, name="staff", query="x", mention=secret))["content"]
    assert ("staff", secret.id) in alert_rows(w)


async def pinger_but_not_in_news(w: VigieWorld) -> tuple[Any, Any]:
    """A member who may mention every role, except in a new channel #news (an overwrite
    denies it there), once the bot has seen that overwrite."""
    pingers = w.discord.add_role(w.guild, "Pingers", permissions=MANAGE_GUILD | VIEW_SEND | MENTION_EVERYONE)
    pinger = w.discord.add_member(w.guild, name="pinger", roles=[pingers], locale="en-US")
    news = w.discord.add_channel(w.guild, "news")
    w.discord.set_overwrite(news, pingers, deny=MENTION_EVERYONE)
    assert w.bot is not None
    await w.discord.wait_until(
        lambda: getattr(w.bot.get_channel(news.id), "overwrites", None), what="the overwrite reaches the bot"
    )  # type: ignore[union-attr]
    return pinger, news


async def test_add_checks_mention_everyone_in_the_alerts_channel(ready: VigieWorld) -> None:
    w = ready
    secret = w.discord.add_role(w.guild, "Staff", mentionable=False)
    pinger, news = await pinger_but_not_in_news(w)
    text = (await final(w, "alert add", by=pinger, name="news", query="x", channel=news, mention=secret))["content"]
    assert "Vigie will not ping" in text and f"<#{news.id}>" in text
    assert alert_rows(w) == []
    assert "created" in (await final(w, "alert add", by=pinger, name="general", query="x", mention=secret))["content"]


async def test_edit_refuses_a_role_the_member_could_not_ping(ready: VigieWorld) -> None:
    w = ready
    secret = w.discord.add_role(w.guild, "Staff", mentionable=False)
    open_role = w.discord.add_role(w.guild, "Dune fans", mentionable=True)
    await final(w, "alert add", name="dune", query="dune")
    text = (await final(w, "alert edit", name="dune", mention=secret))["content"]
    assert f"Vigie will not ping <@&{secret.id}>" in text and f"<#{w.channel.id}>" in text
    fr = (await final(w, "alert edit", name="dune", mention=secret, locale="fr"))["content"]
    assert f"Vigie ne mentionnera pas <@&{secret.id}>" in fr
    assert alert_rows(w) == [("dune", None)]
    assert "updated" in (await final(w, "alert edit", name="dune", mention=open_role))["content"]
    assert alert_rows(w) == [("dune", open_role.id)]

    # Checked in the channel the alert posts to (its own, or the new one).
    pinger, news = await pinger_but_not_in_news(w)
    moved = (await final(w, "alert edit", by=pinger, name="dune", channel=news, mention=secret))["content"]
    assert "Vigie will not ping" in moved and f"<#{news.id}>" in moved
    assert alert_rows(w) == [("dune", open_role.id)]
    assert "updated" in (await final(w, "alert edit", by=pinger, name="dune", mention=secret))["content"]
    assert alert_rows(w) == [("dune", secret.id)]
    # Once the alert posts in news, the pinger (typing in general) may no longer pick it.
    assert "updated" in (await final(w, "alert edit", by=pinger, name="dune", channel=news, clear="mention"))["content"]
    again = (await final(w, "alert edit", by=pinger, name="dune", mention=secret))["content"]
    assert "Vigie will not ping" in again and f"<#{news.id}>" in again
    assert alert_rows(w) == [("dune", None)]
