"""Self-tests of the fake Discord harness, driven by a small throwaway discord.py bot.

The bot below is not Vigie: it exercises each kind of Discord feature the real bot relies on
(options, groups, attachments, autocomplete, deferrals, views, modals, files, channel posts,
localized commands) so that a harness regression shows up here first.
"""

from __future__ import annotations

import asyncio
import io
from types import SimpleNamespace
from typing import Any, ClassVar

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket

from bot.discord_api_base import use_discord_api_base
from tests.e2e.conftest import run_bot
from tests.fakes.discord import MANAGE_GUILD, FakeDiscord, FakeDiscordError

RELEASES = [
    "Dune.2021.MULTi.1080p.BluRay",
    "Dune.Part.Two.2024.MULTi.2160p.WEB",
    "Arcane.S02.MULTi.1080p.WEB",
]


class FrTranslator(app_commands.Translator):
    FR: ClassVar[dict[str, str]] = {
        "search": "chercher",
        "Search the tracker": "Chercher sur le tracker",
        "query": "requête",
        "What to look for": "Ce que vous cherchez",
    }

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale, context: Any) -> str | None:
        return self.FR.get(string.message) if locale is discord.Locale.french else None


class KeyModal(discord.ui.Modal, title="API key"):
    key: discord.ui.TextInput[Any] = discord.ui.TextInput(label="Key", custom_id="api_key", min_length=8)

    def __init__(self) -> None:
        super().__init__(custom_id="setup:key")
        self.note: discord.ui.TextInput[Any] = discord.ui.TextInput(custom_id="note", required=False)
        self.add_item(discord.ui.Label(text="Note", component=self.note))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"key saved ({len(self.key.value)} chars, note={self.note.value!r})", ephemeral=True
        )


class MenuView(discord.ui.View):
    def __init__(self, author_id: int) -> None:
        super().__init__(timeout=60)
        self.author_id = author_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.author_id:
            await interaction.response.send_message("not your menu", ephemeral=True)
            return False
        return True

    @discord.ui.button(label="OK", custom_id="menu:ok", style=discord.ButtonStyle.primary)
    async def ok(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.edit_message(content="clicked", view=None)

    @discord.ui.button(label="Later", custom_id="menu:later")
    async def later(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="later")

    @discord.ui.select(
        custom_id="menu:choice",
        options=[discord.SelectOption(label="A", value="a"), discord.SelectOption(label="B", value="b")],
    )
    async def choice(self, interaction: discord.Interaction, select: discord.ui.Select[Any]) -> None:
        await interaction.response.send_message(f"chose {select.values[0]}", ephemeral=True)


class TrackerCog(commands.Cog):
    def __init__(self, bot: TestBot) -> None:
        self.bot = bot

    @app_commands.command(name="search", description="Search the tracker")
    @app_commands.describe(query="What to look for", category="Category", limit="How many")
    @app_commands.choices(
        category=[app_commands.Choice(name="Films", value="films"), app_commands.Choice(name="Séries", value="series")]
    )
    async def search(
        self,
        interaction: discord.Interaction,
        query: str,
        category: app_commands.Choice[str] | None = None,
        limit: app_commands.Range[int, 1, 10] = 5,
    ) -> None:
        embed = discord.Embed(title=f"Results for {query}", description=f"limit={limit}")
        embed.add_field(name="category", value=category.value if category else "all")
        embed.add_field(name="locale", value=str(interaction.locale))
        embed.set_footer(text=f"guild={interaction.guild_id}")
        await interaction.response.send_message(f"{len(query)} hits", embed=embed)

    @app_commands.command(name="pick", description="Pick a release")
    async def pick(self, interaction: discord.Interaction, release: str) -> None:
        await interaction.response.send_message(f"picked {release}", ephemeral=True)

    @pick.autocomplete("release")
    async def pick_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=r, value=r) for r in RELEASES if current.lower() in r.lower()][:25]

    @app_commands.command(name="upload", description="Upload a torrent")
    async def upload(self, interaction: discord.Interaction, torrent: discord.Attachment) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await torrent.read()
        await interaction.followup.send(f"received {torrent.filename} ({len(data)} bytes)", ephemeral=True)
        await interaction.edit_original_response(
            content="uploaded", attachments=[discord.File(io.BytesIO(data[::-1]), filename="result.torrent")]
        )

    @app_commands.command(name="menu", description="Show a menu")
    async def menu(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("menu", view=MenuView(interaction.user.id))

    @app_commands.command(name="file", description="Send a file")
    async def file(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "here", file=discord.File(io.BytesIO(b"d8:announce3:urle"), filename="my file.torrent")
        )

    @app_commands.command(name="cleanup", description="Defer, delete, follow up")
    async def cleanup(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.delete_original_response()
        await interaction.followup.send("done", ephemeral=True)

    @app_commands.command(name="slow", description="Answers too late")
    async def slow(self, interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.2)
        try:
            await interaction.response.send_message("late")
        except discord.NotFound as exc:
            self.bot.late_errors.append(exc.code)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class SetupCog(commands.GroupCog, group_name="setup", group_description="Configure the bot"):
    @app_commands.command(name="key", description="Set the API key")
    async def key(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(KeyModal())

    @app_commands.command(name="channel", description="Where alerts go")
    async def channel(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        await channel.send(
            f"{interaction.user.mention} alerts will be posted here @everyone",
            allowed_mentions=discord.AllowedMentions.none(),
            nonce=1234,
        )
        await interaction.response.send_message(f"alerts → {channel.mention}", ephemeral=True)


@app_commands.command(name="ping", description="Guild-only ping")
async def ping(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("pong")


class TestBot(commands.AutoShardedBot):
    __test__ = False

    def __init__(self, guild_id: int) -> None:
        super().__init__(command_prefix=commands.when_mentioned, intents=discord.Intents.default())
        self.guild_id = guild_id
        self.late_errors: list[int] = []

    async def setup_hook(self) -> None:
        await self.tree.set_translator(FrTranslator())
        await self.add_cog(TrackerCog(self))
        await self.add_cog(SetupCog())
        self.tree.add_command(ping, guild=discord.Object(self.guild_id))
        await self.tree.sync()
        await self.tree.sync(guild=discord.Object(self.guild_id))


@pytest.fixture
def world(fake_discord: FakeDiscord) -> SimpleNamespace:
    fake = fake_discord
    guild = fake.add_guild(name="La Cale")
    alerts = fake.add_channel(guild, "alertes")
    mod = fake.add_role(guild, "Modo", permissions=MANAGE_GUILD)
    alice = fake.add_member(guild, name="alice", roles=[mod])
    bob = fake.add_member(guild, name="bob", locale="en-US")
    return SimpleNamespace(fake=fake, guild=guild, alerts=alerts, mod=mod, alice=alice, bob=bob)


@pytest.fixture
async def bot(world: SimpleNamespace) -> Any:
    async with run_bot(TestBot(world.guild.id), world.fake, expect_sync=2) as running:
        yield running


async def test_login_ready_and_guild_cache(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    assert bot.user is not None and bot.user.id == fake.application_id
    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.name == "La Cale"
    assert {c.name for c in guild.text_channels} == {"general", "alertes"}
    assert guild.me is not None and guild.me.guild_permissions.send_messages
    mod = guild.get_role(world.mod.id)
    assert mod is not None and mod.permissions.manage_guild
    assert fake.identify_count == 1 and fake.ready_count == 1
    [conn] = fake.gateway_connections
    assert conn["query"]["v"] == "10" and conn["query"]["encoding"] == "json"
    assert conn["query"].get("compress") in ("zlib-stream", "zstd-stream")
    assert bot.shard_count == 1


async def test_sync_payload_and_localizations(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    search = fake.command("search")
    assert search["name_localizations"] == {"fr": "chercher"}
    assert search["description_localizations"] == {"fr": "Chercher sur le tracker"}
    query = search["options"][0]
    assert query["name"] == "query" and query["name_localizations"] == {"fr": "requête"}
    assert search["id"] and search["application_id"] == str(fake.application_id) and search["version"]
    setup = fake.command("setup")
    assert setup["default_member_permissions"] == str(MANAGE_GUILD) and setup["dm_permission"] is False
    assert [c["name"] for c in fake.commands(world.guild.id)] == ["ping"]
    # discord.py parsed the answer: ids are known to the tree.
    synced = await bot.tree.fetch_commands()
    assert {c.name for c in synced} >= {"search", "setup", "upload"}


async def test_slash_command_options_and_validation(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    rec = await fake.invoke("search", query="dune", category="films", limit=3, by=world.bob)
    msg = await rec.wait_final()
    assert rec.callback_type == 4 and not rec.ephemeral and not rec.deferred
    assert msg["content"] == "4 hits"
    embed = msg["embeds"][0]
    assert embed["title"] == "Results for dune" and embed["description"] == "limit=3"
    assert {f["name"]: f["value"] for f in embed["fields"]} == {"category": "films", "locale": "en-US"}
    assert msg in fake.channel_messages(world.guild.system_channel_id)
    assert "Results for dune" in fake.all_sent_text()

    # The French name works too (Discord sends the default name to the bot).
    rec = await fake.invoke("chercher", requête="arcane")
    assert (await rec.wait_final())["content"] == "6 hits"

    with pytest.raises(FakeDiscordError, match="max_value"):
        await fake.invoke("search", query="x", limit=11)
    with pytest.raises(FakeDiscordError, match="choices"):
        await fake.invoke("search", query="x", category="music")
    with pytest.raises(FakeDiscordError, match="no option"):
        await fake.invoke("search", query="x", year=2020)
    with pytest.raises(FakeDiscordError, match="required"):
        await fake.invoke("search")
    with pytest.raises(FakeDiscordError, match="group"):
        await fake.invoke("setup")


async def test_guild_command_and_dm(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    assert (await (await fake.invoke("ping")).wait_final())["content"] == "pong"
    rec = await fake.invoke("search", dm=True, by=world.bob, query="x")
    assert (await rec.wait_final())["content"] == "1 hits"
    assert "user" in rec.payload and "guild_id" not in rec.payload
    with pytest.raises(FakeDiscordError, match="DMs"):
        await fake.invoke("setup key", dm=True, by=world.alice)
    with pytest.raises(FakeDiscordError, match="ping"):
        await fake.invoke("ping", dm=True, by=world.bob)


async def test_subcommand_channel_option_allowed_mentions_and_nonce(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    rec = await fake.invoke("setup channel", channel=world.alerts, by=world.alice)
    msg = await rec.wait_final()
    assert rec.ephemeral and msg["content"] == f"alerts → <#{world.alerts.id}>"
    posted = await fake.wait_for_channel_message(world.alerts, lambda m: "alerts will be posted" in m["content"])
    assert posted["allowed_mentions"] == {"parse": []}
    assert posted["mentions"] == [] and posted["mention_everyone"] is False
    assert posted["nonce"] == "1234" and posted["enforce_nonce"] is True
    # The same nonce again: Discord answers with the first message instead of posting twice.
    rec = await fake.invoke("setup channel", channel=world.alerts, by=world.alice)
    await rec.wait_final()
    assert len(fake.channel_messages(world.alerts)) == 1 and fake.nonce_dedup_hits == 1
    # Discord hides /setup from members without Manage Server.
    with pytest.raises(FakeDiscordError, match="default_member_permissions"):
        await fake.invoke("setup channel", channel=world.alerts, by=world.bob)


async def test_modal_roundtrip(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    rec = await fake.invoke("setup key", by=world.alice)
    await rec.wait_response()
    assert rec.callback_type == 9 and rec.modal is not None and rec.modal["title"] == "API key"
    with pytest.raises(FakeDiscordError, match="min_length"):
        await fake.submit_modal(rec, {"api_key": "short"})
    secret = "s3cr3t-api-key-123"
    sub = await fake.submit_modal(rec, {"api_key": secret, "note": "hi"})
    msg = await sub.wait_final()
    assert msg["content"] == "key saved (18 chars, note='hi')" and sub.ephemeral
    assert secret not in fake.all_sent_text(include_files=True)


async def test_attachment_defer_followup_and_edit(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    torrent = b"d8:announce40:https://tracker.example/announce/PASSKEYe"
    att = fake.add_attachment("release.torrent", torrent)
    rec = await fake.invoke("upload", torrent=att, by=world.alice)
    msg = await rec.wait_final(predicate=lambda m: m["content"] == "uploaded")
    assert rec.callback_type == 5 and rec.deferred and rec.ephemeral
    assert len(rec.followups) == 1 and rec.followups[0]["id"] == msg["id"]  # replaced the "thinking" message
    [result] = msg["attachments"]
    assert result["filename"] == "result.torrent" and result["data"] == torrent[::-1]
    assert fake.file_bytes(result["url"]) == torrent[::-1]
    assert msg not in fake.channel_messages(world.guild.system_channel_id)  # ephemeral


async def test_defer_delete_then_followup(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    rec = await fake.invoke("cleanup")
    msg = await rec.wait_final()
    assert msg["content"] == "done" and rec.original is None and rec.ephemeral
    assert len(rec.followups) == 1 and rec.followups[0] is msg


async def test_world_changes_reach_the_bot(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    news = fake.add_channel(world.guild, "news")
    await fake.wait_until(lambda: bot.get_channel(news.id), what="CHANNEL_CREATE")
    other = fake.add_guild(name="Other")
    await fake.wait_until(lambda: bot.get_guild(other.id), what="GUILD_CREATE")
    rec = await fake.invoke("setup channel", channel=news, by=world.alice)
    assert (await rec.wait_final())["content"] == f"alerts → <#{news.id}>"
    fake.remove_guild(other)
    await fake.wait_until(lambda: bot.get_guild(other.id) is None, what="GUILD_DELETE")
    fake.delete_channel(news)
    await fake.wait_until(lambda: bot.get_channel(news.id) is None, what="CHANNEL_DELETE")


async def test_autocomplete(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    choices = await fake.autocomplete("pick", "release", "dune")
    assert [c["value"] for c in choices] == RELEASES[:2]
    rec = await fake.invoke("pick", release=choices[1]["value"])
    assert (await rec.wait_final())["content"] == f"picked {RELEASES[1]}"
    with pytest.raises(FakeDiscordError, match="no autocomplete"):
        await fake.autocomplete("search", "query", "x")


async def test_view_button_select_and_author_check(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    rec = await fake.invoke("menu", by=world.alice)
    menu = await rec.wait_final()
    intruder = await fake.click(menu, "menu:ok", by=world.bob)
    assert (await intruder.wait_final())["content"] == "not your menu" and intruder.ephemeral
    later = await fake.click(menu, "menu:later")
    assert (await later.wait_final())["content"] == "later" and later.callback_type == 6
    assert rec.original is not None and rec.original["content"] == "later"
    chosen = await fake.select(menu, "menu:choice", ["b"])
    assert (await chosen.wait_final())["content"] == "chose b"
    with pytest.raises(FakeDiscordError, match="not an option"):
        await fake.select(menu, "menu:choice", ["z"])
    click = await fake.click(rec, "menu:ok")
    await click.wait_response()
    assert click.callback_type == 7
    assert rec.original is not None and rec.original["content"] == "clicked" and rec.original["components"] == []
    with pytest.raises(FakeDiscordError, match="no component"):
        await fake.click(rec, "menu:ok")


async def test_send_file_and_channel_errors(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    rec = await fake.invoke("file")
    msg = await rec.wait_final()
    [att] = msg["attachments"]
    assert att["filename"] == "my_file.torrent" and att["data"] == b"d8:announce3:urle"
    assert att["content_type"] == "application/x-bittorrent"
    assert "my file.torrent" in fake.all_sent_text()

    channel = bot.get_channel(world.alerts.id)
    assert isinstance(channel, discord.TextChannel)
    fake.rate_limit_next("POST /channels/", retry_after=0.05)
    sent = await channel.send("after a 429")
    assert fake.rate_limited and fake.message(sent.id)["content"] == "after a 429"
    fake.fail_next("POST /channels/", status=400, code=50035, message="Invalid Form Body")
    with pytest.raises(discord.HTTPException) as bad:
        await channel.send("x")
    assert bad.value.code == 50035
    fake.forbid_channel(world.alerts)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("x")
    assert forbidden.value.code == 50001
    fake.forbid_channel(world.alerts, False)
    fake.delete_channel(world.alerts)
    with pytest.raises(discord.NotFound) as gone:
        await channel.send("x")
    assert gone.value.code == 10003
    with pytest.raises(discord.HTTPException) as empty:
        await bot.get_channel(world.guild.system_channel_id).send(embed=discord.Embed(title="t" * 257))  # type: ignore[union-attr]
    assert empty.value.code == 50035


async def test_acknowledgement_rules(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    rec = await fake.invoke("ping")
    await rec.wait_response()
    url = f"{fake.api_base}/interactions/{rec.id}/{rec.token}/callback"
    async with aiohttp.ClientSession() as http, http.post(url, json={"type": 4, "data": {"content": "x"}}) as resp:
        assert resp.status == 400 and (await resp.json())["code"] == 40060
    fake.interaction_timeout = 0.1
    slow = await fake.invoke("slow")
    await fake.wait_until(lambda: bot.late_errors, what="the late answer")
    assert bot.late_errors == [10062] and not slow.responded
    fake.errors.clear()


async def test_resume_and_reidentify(world: SimpleNamespace, bot: TestBot) -> None:
    fake = world.fake
    await fake.drop_connections(code=4000)
    await fake.wait_for_resume()
    assert (await (await fake.invoke("ping")).wait_final())["content"] == "pong"
    await fake.request_reconnect()
    await fake.wait_for_resume(count=2)
    await fake.invalidate_sessions()
    await fake.wait_until_ready_sent(count=2)
    assert fake.identify_count == 2
    assert [c["path"] for c in fake.gateway_connections] == [
        "/gateway",
        "/gateway/resume",
        "/gateway/resume",
        "/gateway",
    ]
    assert (await (await fake.invoke("ping")).wait_final())["content"] == "pong"


async def test_gateway_url_from_gateway_bot(fake_discord: FakeDiscord) -> None:
    use_discord_api_base("http://127.0.0.1:9/api/v10", gateway="ws://127.0.0.1:9/gateway")
    use_discord_api_base(fake_discord.api_base)
    client = discord.AutoShardedClient(intents=discord.Intents.none())
    fake_discord.add_guild()
    intruder = discord.Client(intents=discord.Intents.none())
    with pytest.raises(discord.LoginFailure):
        await intruder.login("not-the-token")
    await intruder.close()
    fake_discord.errors.clear()
    try:
        await client.login(fake_discord.token)
        assert discord.http.Route("GET", "/users/@me").url == f"{fake_discord.api_base}/users/@me"
        discord.http._set_api_version(9)
        assert f"{fake_discord.origin}/api/v9" == discord.http.Route.BASE
        discord.http._set_api_version(10)
        await client.http.get_bot_gateway()
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == fake_discord.gateway_url
    finally:
        await client.close()


async def test_sync_validation_rejects_bad_commands(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    url = f"{fake.api_base}/applications/{fake.application_id}/commands"
    headers = {"Authorization": f"Bot {fake.token}"}

    def opt(name: str, required: bool = False, **extra: Any) -> dict[str, Any]:
        return {"type": 3, "name": name, "description": "d", "required": required, **extra}

    cases: list[tuple[Any, tuple[str, ...]]] = [
        ([{"name": "x", "description": "d" * 101}], ("0", "description")),
        ([{"name": "x", "description": "d", "options": [opt("a"), opt("b", True)]}], ("0", "options", "1", "required")),
        ([{"name": "Search", "description": "d"}], ("0", "name")),
        (
            [{"name": "x", "description": "d", "name_localizations": {"fr-FR": "x"}}],
            ("0", "name_localizations", "fr-FR"),
        ),
        (
            [{"name": "x", "description": "d", "name_localizations": {"fr": "Chercher Film"}}],
            ("0", "name_localizations", "fr"),
        ),
        ([{"name": "x", "description": "d", "options": [opt(f"o{i}") for i in range(26)]}], ("0", "options")),
        ([{"name": "x", "description": "d", "options": [opt("a"), opt("a")]}], ("0", "options", "1", "name")),
        (
            [
                {
                    "name": "x",
                    "description": "d",
                    "options": [opt("a", choices=[{"name": "c", "value": str(i)} for i in range(26)])],
                }
            ],
            ("0", "options", "0", "choices"),
        ),
        (
            [{"name": "x", "description": "d", "options": [{"type": 1, "name": "s", "description": "d"}, opt("a")]}],
            ("0", "options"),
        ),
        (
            [
                {
                    "name": "x",
                    "description": "d",
                    "options": [
                        {
                            "type": 2,
                            "name": "g",
                            "description": "d",
                            "options": [
                                {
                                    "type": 2,
                                    "name": "h",
                                    "description": "d",
                                    "options": [{"type": 1, "name": "s", "description": "d"}],
                                }
                            ],
                        }
                    ],
                }
            ],
            ("0", "options", "0", "options", "0", "type"),
        ),
        ([{"name": f"c{i}", "description": "d"} for i in range(101)], ()),
        ([{"name": "x", "description": "d"}, {"name": "x", "description": "e"}], ("1", "name")),
    ]
    async with aiohttp.ClientSession() as http:
        for payload, path in cases:
            async with http.put(url, json=payload, headers=headers) as resp:
                body = await resp.json()
            assert resp.status == 400 and body["code"] == 50035, (payload, body)
            node = body["errors"]
            for key in path:
                assert key in node, (path, body)
                node = node[key]
            assert "_errors" in node, (path, body)
        async with http.put(url, json=[{"name": "ok", "description": "fine"}], headers=headers) as resp:
            assert resp.status == 200
        async with http.put(url, json=[], headers={"Authorization": "Bot wrong"}) as resp:
            assert resp.status == 401
    assert [c["name"] for c in fake.commands()] == ["ok"]

    # Through discord.py: CommandSyncFailure, e.g. for a translation Discord refuses.
    class Bad(app_commands.Translator):
        async def translate(self, string: app_commands.locale_str, locale: discord.Locale, context: Any) -> str | None:
            return "Chercher Film" if locale is discord.Locale.french and string.message == "find" else None

    use_discord_api_base(fake.api_base)
    client = commands.Bot(command_prefix="!", intents=discord.Intents.none())

    @client.tree.command(name="find", description="Find")
    async def find(interaction: discord.Interaction) -> None: ...

    try:
        await client.login(fake.token)
        await client.tree.set_translator(Bad())
        with pytest.raises(app_commands.CommandSyncFailure) as failure:
            await client.tree.sync()
        assert failure.value.code == 50035 and "Chercher Film" in str(failure.value)
    finally:
        await client.close()
    fake.errors.clear()


async def test_member_chunking_dms_and_privileged_intents(world: SimpleNamespace) -> None:
    fake = world.fake
    intents = discord.Intents.default()
    intents.members = True
    client = discord.AutoShardedClient(intents=intents)
    async with run_bot(client, fake, expect_sync=False):
        guild = client.get_guild(world.guild.id)
        assert guild is not None and guild.chunked
        alice = guild.get_member(world.alice.id)
        assert alice is not None and alice.get_role(world.mod.id) is not None
        dm = await alice.send("psst")
        assert fake.channel_messages(fake.dm_channel(world.alice))[0]["content"] == "psst"
        assert dm.channel.id == fake.dm_channel(world.alice).id
        fake.close_dms(world.bob)
        bob = await guild.fetch_member(world.bob.id)
        with pytest.raises(discord.Forbidden) as refused:
            await bob.send("psst")
        assert refused.value.code == 50007
    fake.errors.clear()

    fake.allowed_intents = 0  # the developer portal has no privileged intent enabled
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with run_bot(discord.AutoShardedClient(intents=intents), fake, expect_sync=False):
            pass


# -- shards: session starts, identify buckets, duplicate sessions -------------------------------


async def _identify_raw(fake: FakeDiscord, http: aiohttp.ClientSession, shard: list[int]) -> tuple[Any, dict[str, Any]]:
    """A bare gateway login (no discord.py): HELLO, IDENTIFY, and the first answer (READY or op 9)."""
    ws = await http.ws_connect(f"{fake.gateway_url}?v=10&encoding=json")
    hello = await ws.receive_json(timeout=5)
    assert hello["op"] == 10
    await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 1, "properties": {}, "shard": shard}})
    return ws, await ws.receive_json(timeout=5)


async def test_gateway_bot_shards_session_starts_and_identify_buckets() -> None:
    async with (
        FakeDiscord(shard_count=4, max_concurrency=2, identify_interval=0.5) as fake,
        aiohttp.ClientSession() as http,
    ):
        headers = {"Authorization": f"Bot {fake.token}"}

        async def gateway_bot() -> dict[str, Any]:
            async with http.get(f"{fake.api_base}/gateway/bot", headers=headers) as resp:
                return await resp.json()

        first = await gateway_bot()
        assert first["shards"] == 4 and first["url"] == fake.gateway_url
        assert first["session_start_limit"] == {
            "total": 1000,
            "remaining": 1000,
            "reset_after": 14_400_000,
            "max_concurrency": 2,
        }
        on_shard_1 = fake.add_guild(fake.snowflake_on_shard(1), name="on shard 1")
        assert fake.shard_of(on_shard_1.id) == 1

        ws0, ready0 = await _identify_raw(fake, http, [0, 4])
        ws1, ready1 = await _identify_raw(fake, http, [1, 4])  # bucket 1: not held back by shard 0
        assert ready0["t"] == "READY" and ready0["d"]["shard"] == [0, 4] and ready0["d"]["guilds"] == []
        assert ready1["t"] == "READY" and [g["id"] for g in ready1["d"]["guilds"]] == [str(on_shard_1.id)]
        ws2, refused = await _identify_raw(fake, http, [2, 4])  # bucket 0 again, too soon: op 9
        assert refused == {"op": 9, "s": None, "t": None, "d": False}
        assert [(r.shard, r.refused) for r in fake.identifies] == [((0, 4), False), ((1, 4), False), ((2, 4), True)]
        assert [r.shard for r in fake.failed_logins] == [(2, 4)] and "bucket 0" in (fake.failed_logins[0].reason or "")
        await asyncio.sleep(0.6)
        ws2b, ready2 = await _identify_raw(fake, http, [2, 4])
        assert ready2["t"] == "READY"
        assert (await gateway_bot())["session_start_limit"]["remaining"] == 997  # refused logins cost nothing

        # A duplicate session of shard 1 is accepted; both receive the shard's events.
        dup, ready_dup = await _identify_raw(fake, http, [1, 4])
        assert ready_dup["t"] == "READY" and ready_dup["d"]["session_id"] != ready1["d"]["session_id"]
        assert len(fake.sessions(1)) == 2 and len(fake.sessions(0)) == 1 and len(fake.sessions()) == 4
        for ws in (ws1, dup):
            create = await ws.receive_json(timeout=5)
            assert create["t"] == "GUILD_CREATE" and create["d"]["id"] == str(on_shard_1.id)
        await fake.dispatch("TYPING_START", {"channel_id": "1"}, guild_id=on_shard_1.id)
        for ws in (ws1, dup):
            assert (await ws.receive_json(timeout=5))["t"] == "TYPING_START"
        for ws in (ws0, ws1, ws2, ws2b, dup):
            await ws.close()

        fake.session_start_remaining = 0
        await asyncio.sleep(0.6)
        ws3, spent = await _identify_raw(fake, http, [3, 4])
        assert spent["op"] == 9 and fake.failed_logins[-1].reason == "session_start_limit spent"
        await ws3.close()


async def test_duplicate_sessions_each_get_the_interaction_and_a_second_answer_is_refused(
    world: SimpleNamespace,
) -> None:
    """Two processes holding one shard (what Vigie must never let happen): both receive every
    interaction; the second answer is refused 400 / 40060 and counted in ``double_acks``."""
    fake = world.fake
    async with (
        run_bot(TestBot(world.guild.id), fake, expect_sync=2),
        run_bot(TestBot(world.guild.id), fake, expect_sync=2),
    ):
        assert len(fake.sessions(0)) == 2
        rec = await fake.invoke("ping", by=world.alice)
        assert (await rec.wait_final())["content"] == "pong"
        assert len(rec.sessions) == 2
        await fake.wait_until(
            lambda: len([c for c in fake.callback_log if c.interaction_id == rec.id]) == 2,
            what="both processes' answers",
        )
        assert [(c.status, c.code) for c in fake.callback_log if c.interaction_id == rec.id] == [(200, 0), (400, 40060)]
        assert [c.interaction_id for c in fake.double_acks] == [rec.id]
        assert len(rec.callbacks) == 1
    fake.errors.clear()
