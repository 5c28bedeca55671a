"""/setup: the server's key (through a modal), its status, and who may upload where."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.app import VigieBot
from bot.ui.checks import guild_id_of, require_manage_guild
from bot.ui.modals import open_key_form
from bot.ui.replies import reply
from bot.ui.status import guild_status_embed

_ = app_commands.locale_str


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Setup(commands.GroupCog, group_name="setup", group_description="Configure Vigie for this server"):
    def __init__(self, bot: VigieBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        require_manage_guild(interaction)
        return True

    @app_commands.command(name="key", description="Register this server's La Cale API key (typed in a private form)")
    async def key(self, interaction: discord.Interaction) -> None:
        # The form acts for this server and this admin, whatever else is open meanwhile.
        guild_id = guild_id_of(interaction)
        user_id = interaction.user.id

        async def on_key(modal_interaction: discord.Interaction, raw_key: str) -> None:
            # Manage Server again: it may have been withdrawn while the form was open.
            require_manage_guild(modal_interaction)
            await modal_interaction.response.defer(ephemeral=True, thinking=True)
            fingerprint = await self.bot.services.guilds.register_guild_key(guild_id, raw_key, user_id)
            await reply(modal_interaction, i18n.t(modal_interaction.locale, "setup.key.saved", fingerprint=fingerprint))

        await open_key_form(interaction, title_key="modal.key.title_guild", on_key=on_key)

    @app_commands.command(name="status", description="Show the key, the alerts and the last poll of this server")
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = guild_id_of(interaction)
        guilds = self.bot.services.guilds
        await guilds.recheck_guild_key(guild_id)
        status = await guilds.status(guild_id)
        await reply(interaction, embed=guild_status_embed(status, interaction.locale))

    @app_commands.command(name="remove", description="Forget this server's La Cale key (alerts pause)")
    async def remove(self, interaction: discord.Interaction) -> None:
        guild_id = guild_id_of(interaction)
        removed = await self.bot.services.guilds.remove_guild_key(guild_id)
        await reply(interaction, i18n.t(interaction.locale, "setup.remove.done" if removed else "setup.remove.none"))

    @app_commands.command(name="upload-role", description="Choose the role allowed to upload with the server's key")
    @app_commands.describe(role="Role allowed to upload (leave empty: Manage Server only)")
    async def upload_role(self, interaction: discord.Interaction, role: discord.Role | None = None) -> None:
        guild_id = guild_id_of(interaction)
        await self.bot.services.guilds.set_upload_role(guild_id, role.id if role else None)
        if role is None:
            await reply(interaction, i18n.t(interaction.locale, "setup.upload_role.cleared"))
        else:
            await reply(interaction, i18n.t(interaction.locale, "setup.upload_role.set", role=role.mention))

    @app_commands.command(name="upload-channel", description="Channel where new uploads are announced")
    @app_commands.describe(channel="Announcement channel (leave empty: no announcement)")
    async def upload_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        guild_id = guild_id_of(interaction)
        await self.bot.services.guilds.set_upload_channel(guild_id, channel.id if channel else None)
        key = "setup.upload_channel.set" if channel else "setup.upload_channel.cleared"
        await reply(interaction, i18n.t(interaction.locale, key, channel=channel.mention if channel else ""))

    @app_commands.command(name="watches", description="Let members get their own alerts by DM (/watch)")
    @app_commands.describe(state="on: members may watch with this server's key; off: they may not")
    async def watches(self, interaction: discord.Interaction, state: Literal["on", "off"]) -> None:
        guild_id = guild_id_of(interaction)
        await self.bot.services.guilds.set_watches(guild_id, state == "on")
        await reply(interaction, i18n.t(interaction.locale, f"setup.watches.{state}"))

    @app_commands.command(name="log-channel", description="Channel where Vigie tells admins about problems")
    @app_commands.describe(channel="Channel for admin notices (leave empty: the server's system channel)")
    async def log_channel(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        guild_id = guild_id_of(interaction)
        await self.bot.services.guilds.set_log_channel(guild_id, channel.id if channel else None)
        key = "setup.log_channel.set" if channel else "setup.log_channel.cleared"
        await reply(interaction, i18n.t(interaction.locale, key, channel=channel.mention if channel else ""))


async def setup(bot: VigieBot) -> None:
    await bot.add_cog(Setup(bot))
