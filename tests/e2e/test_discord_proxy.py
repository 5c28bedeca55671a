"""The real bot behind ``@discordjs/proxy`` (npm), the shared REST proxy for large
deployments, itself in front of the fake Discord: ``DISCORD_API_BASE`` points at the proxy,
the gateway stays Discord's (the fake's, learnt from ``GET /gateway/bot`` through the proxy).

What the proxy does to Discord's answers (checked here, @discordjs/proxy 2.1.1 on
@discordjs/rest 2.6.3):
- a 429 (or a 5xx) from Discord is waited out and retried by the proxy, but the request
  body was streamed to Discord and is replayed empty: Discord answers 400 "Cannot send an
  empty message" (50006), which the bot must take as "outcome unknown" (the first try may
  have posted), never as a refusal;
- a 4xx/5xx other than 429 is passed on with its status and JSON body; so an ambiguous 408
  (a proxy's or Discord's timeout after the message was created) reaches the bot, which
  keeps the nonce;
- X-RateLimit-* headers are dropped, so discord.py no longer tracks buckets (the proxy does).
- A 429 the proxy makes itself (only with ``rejectOnRateLimit``) carries no ``Via`` header
  and no JSON body: discord.py takes such a 429 for a Cloudflare ban and raises it at once;
  the alert sender classifies it as ambiguous and keeps the nonce (tested below against the
  fake directly, which answers such a 429 when asked ``via=False``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import MANAGE_GUILD, VigieWorld, vigie_settings
from tests.e2e.test_alerts import alert_posts, cog, cycle, db, final, titles
from tests.fakes.discord import FakeDiscord
from tests.fakes.lacale import FakeLaCale
from tests.support.discord_proxy import discord_proxy_modules, run_discord_proxy  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def proxied(
    tmp_path: Path, fake_discord: FakeDiscord, lacale: FakeLaCale, discord_proxy_modules: Path
) -> AsyncIterator[VigieWorld]:
    """The world fixture with DISCORD_API_BASE pointed at @discordjs/proxy; a key registered."""
    async with run_discord_proxy(discord_proxy_modules, f"{fake_discord.origin}/api") as proxy_base:
        guild = fake_discord.add_guild(name="Proxied", preferred_locale="en-US")
        channel = fake_discord.add_channel(guild, "general")
        admin = fake_discord.add_member(
            guild, name="admin", permissions=MANAGE_GUILD | (1 << 10) | (1 << 11), locale="en-US"
        )
        member = fake_discord.add_member(guild, name="member", locale="en-US")
        w = VigieWorld(
            discord=fake_discord,
            lacale=lacale,
            settings=vigie_settings(tmp_path, fake_discord, lacale, guild.id, discord_api_base=proxy_base),
            guild=guild,
            channel=channel,
            admin=admin,
            member=member,
            api_base=proxy_base,
        )
        first_request = len(fake_discord.requests)
        await w.start()
        try:
            await register_key(w)
            w.first_request = first_request  # type: ignore[attr-defined]
            yield w
        finally:
            await w.stop()


async def register_key(w: VigieWorld) -> None:
    """``/setup key`` and its modal. Through a proxy the fake records the modal answer a
    moment before the bot hears back and registers the modal (discord.py stores it once the
    callback request returns): a person takes longer than that to type a key, so wait for it."""
    opened = await w.invoke("setup key")
    custom_id = (await opened.wait_response())["data"]["custom_id"]
    assert w.bot is not None
    store = w.bot._connection._view_store
    await w.discord.wait_until(lambda: custom_id in store._modals, what="the bot to register its modal")
    submitted = await w.discord.submit_modal(opened, {"vigie:secret:apikey": w.key}, by=w.admin)
    assert "Fingerprint" in (await submitted.wait_final())["content"]


def through_proxy(w: VigieWorld) -> list[Any]:
    """The bot's REST requests since it started, as the fake saw them."""
    return w.discord.requests[w.first_request :]  # type: ignore[attr-defined]


async def test_search_and_alert_post_through_the_proxy(proxied: VigieWorld) -> None:
    w = proxied
    w.lacale.add_torrent("Dune.Part.Two.2024.1080p.WEB", category_label="Films HD")
    rec = await w.invoke("search", query="dune")
    message = await rec.wait_final()
    assert "Dune.Part.Two" in str(message)

    await final(w, "alert add", name="dune", query="dune")
    await cycle(w)
    w.lacale.add_torrent("Dune.Messiah.2026.2160p")
    await cycle(w)
    (post,) = [m for m in alert_posts(w, w.channel) if m["type"] == 0]  # not the /search answer
    assert titles(post) == ["Dune.Messiah.2026.2160p"]

    seen = through_proxy(w)
    assert seen and all("discord.js" in (r.user_agent or "") for r in seen), {r.user_agent for r in seen}
    keys = {r.key for r in seen}
    assert f"POST /channels/{w.channel.id}/messages" in keys  # the alert post
    assert any(k.startswith("POST /interactions/") for k in keys)  # the answers
    assert any(k.startswith(("PATCH /webhooks/", "POST /webhooks/")) for k in keys)


async def test_discord_429_through_the_proxy_is_retried_with_the_same_nonce(proxied: VigieWorld) -> None:
    """The proxy waits out Discord's 429 and replays the request, but it streamed the bot's
    body to Discord the first time and replays it empty: Discord answers 400 "Cannot send an
    empty message" (50006). That is not a refusal of the alert: it stays claimed under its
    nonce and goes out once on the next pass."""
    w = proxied
    await final(w, "alert add", name="dune", query="dune")
    await cycle(w)
    w.lacale.add_torrent("Dune.One")
    route = f"POST /channels/{w.channel.id}/messages"
    w.discord.rate_limit_next(route, retry_after=0.3)
    await cycle(w)
    assert w.discord.rate_limited == [route]
    posts = [r for r in through_proxy(w) if r.key == route]
    assert [r.status for r in posts] == [429, 400] and posts[1].json is None  # replayed without its body
    assert alert_posts(w, w.channel) == []
    pending = (
        db(w)
        .execute("select count(*), count(distinct batch_nonce) from deliveries where status = 'pending'")
        .fetchone()
    )
    assert pending == (1, 1)  # still claimed, under one nonce
    await cog(w).sender.flush()
    (post,) = alert_posts(w, w.channel)
    assert titles(post) == ["Dune.One"]
    posts = [r for r in through_proxy(w) if r.key == route]
    assert [r.status for r in posts] == [429, 400, 200] and posts[0].json["nonce"] == posts[2].json["nonce"]
    assert db(w).execute("select count(*) from deliveries where status = 'delivered'").fetchone()[0] == 1


async def test_discord_5xx_after_posting_replayed_empty_by_the_proxy_is_not_posted_twice(proxied: VigieWorld) -> None:
    """Discord posts the message but answers 502; the proxy retries with an empty body and
    passes on the 400 / 50006 it gets. Taken for a refusal, the two releases would be re-sent
    one per message under new nonces (three posts for two releases); it is an unknown
    outcome, so the nonce is kept."""
    w = proxied
    await final(w, "alert add", name="dune", query="dune")
    await cycle(w)
    w.lacale.add_torrent("Dune.One")
    w.lacale.add_torrent("Dune.Two")
    route = f"POST /channels/{w.channel.id}/messages"
    w.discord.fail_next(route, 502, after_handling=True)
    await cycle(w)
    assert len(alert_posts(w, w.channel)) == 1  # posted, though the bot was told 400
    await cog(w).sender.flush()
    await cycle(w)
    (post,) = alert_posts(w, w.channel)
    assert titles(post) == ["Dune.One", "Dune.Two"]
    posts = [r for r in through_proxy(w) if r.key == route]
    assert [r.status for r in posts] == [502, 400, 200]
    assert posts[0].json["nonce"] == posts[2].json["nonce"] and w.discord.nonce_dedup_hits == 1
    assert db(w).execute("select count(*) from deliveries where status = 'delivered'").fetchone()[0] == 2


async def test_ambiguous_408_through_the_proxy_keeps_the_nonce(proxied: VigieWorld) -> None:
    """The proxy passes a 408 (an upstream timeout after Discord created the message) to the
    bot: the retry reuses the nonce, so the message is not posted twice."""
    w = proxied
    await final(w, "alert add", name="dune", query="dune")
    await cycle(w)
    w.lacale.add_torrent("Dune.One")
    w.lacale.add_torrent("Dune.Two")
    route = f"POST /channels/{w.channel.id}/messages"
    w.discord.fail_next(route, 408, message="Request Timeout", after_handling=True)
    await cycle(w)
    assert len(alert_posts(w, w.channel)) == 1  # posted, though the bot was told 408
    pending = (
        db(w)
        .execute("select count(*), count(distinct batch_nonce) from deliveries where status = 'pending'")
        .fetchone()
    )
    assert pending == (2, 1)
    await cog(w).sender.flush()
    (message,) = alert_posts(w, w.channel)
    assert titles(message) == ["Dune.One", "Dune.Two"]
    assert w.discord.nonce_dedup_hits == 1
    posts = [r for r in through_proxy(w) if r.key == route]
    assert [r.status for r in posts] == [408, 200] and posts[0].json["nonce"] == posts[1].json["nonce"]


async def test_a_429_without_via_is_raised_at_once_and_keeps_the_nonce(world: VigieWorld) -> None:
    """discord.py takes a 429 without ``Via`` (Cloudflare, or a proxy rejecting on a rate
    limit) for a ban and raises it without retrying: the post stays claimed under its nonce
    and goes out once on the next pass."""
    w = world
    await w.register_key()
    await final(w, "alert add", name="dune", query="dune")
    await cycle(w)
    w.lacale.add_torrent("Dune.One")
    route = f"POST /channels/{w.channel.id}/messages"
    w.discord.rate_limit_next(route, retry_after=0.1, via=False)
    before = len(w.discord.requests)
    await cycle(w)
    assert alert_posts(w, w.channel) == []
    assert [r.status for r in w.discord.requests[before:] if r.key == route] == [429]  # not retried by discord.py
    pending = (
        db(w)
        .execute("select count(*), count(distinct batch_nonce) from deliveries where status = 'pending'")
        .fetchone()
    )
    assert pending == (1, 1)
    await cog(w).sender.flush()
    (message,) = alert_posts(w, w.channel)
    assert titles(message) == ["Dune.One"]
    posts = [r for r in w.discord.requests[before:] if r.key == route]
    assert [r.status for r in posts] == [429, 200] and posts[0].json["nonce"] == posts[1].json["nonce"]
