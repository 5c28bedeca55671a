"""/key: a member's personal La Cale key, used before the server's for their own
searches' downloads and uploads (which then go out under their own account)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.app import VigieBot
from bot.errors import KeyUnreadable
from bot.ui.modals import answer_stale_key_form, open_key_form
from bot.ui.replies import reply


class Keys(commands.GroupCog, group_name="key", group_description="Your personal La Cale key"):
    def __init__(self, bot: VigieBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="set", description="Register your own La Cale API key (typed in a private form)")
    async def set_key(self, interaction: discord.Interaction) -> None:
        # The form acts for this member, whatever else is open meanwhile.
        user_id, guild_id = interaction.user.id, interaction.guild_id

        async def on_key(modal_interaction: discord.Interaction, raw_key: str) -> None:
            await modal_interaction.response.defer(ephemeral=True, thinking=True)
            fingerprint = await self.bot.services.guilds.keys.set_member_key(user_id, raw_key, guild_id)
            await reply(modal_interaction, i18n.t(modal_interaction.locale, "key.set.saved", fingerprint=fingerprint))

        await open_key_form(interaction, title_key="modal.key.title_member", on_key=on_key)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # A key form (/key set or /setup key) submitted after Vigie restarted or after the
        # form timed out: no form handles it any more, but it still gets an answer.
        await answer_stale_key_form(interaction)

    @app_commands.command(name="remove", description="Forget your personal La Cale key")
    async def remove_key(self, interaction: discord.Interaction) -> None:
        removed = await self.bot.services.guilds.keys.remove_member_key(interaction.user.id)
        await reply(interaction, i18n.t(interaction.locale, "key.remove.done" if removed else "key.remove.none"))

    @app_commands.command(name="status", description="Show whether you registered a personal key")
    async def status(self, interaction: discord.Interaction) -> None:
        try:
            key = await self.bot.services.guilds.keys.member_key(interaction.user.id)
        except KeyUnreadable as exc:
            await reply(interaction, i18n.t(interaction.locale, "key.status.unreadable", **exc.values))
            return
        if key is None:
            await reply(interaction, i18n.t(interaction.locale, "key.status.none"))
        else:
            await reply(interaction, i18n.t(interaction.locale, "key.status.set", fingerprint=key.fingerprint))


async def setup(bot: VigieBot) -> None:
    await bot.add_cog(Keys(bot))
