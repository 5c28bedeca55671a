"""/meta: La Cale's categories (labels, slugs for searches and alerts, ids for uploads)
and tags (labels and ids), paged."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.app import VigieBot
from bot.services.metadata import category_rows, tag_groups
from bot.ui.pages import category_page_lines, chunk_lines, send_pages, tag_page_lines
from bot.ui.replies import defer, reply


class MetaCog(commands.GroupCog, group_name="meta", group_description="La Cale's categories and tags"):
    def __init__(self, bot: VigieBot) -> None:
        self.bot = bot
        super().__init__()

    async def _send(self, interaction: discord.Interaction, title: str, lines: list[str], footer: str) -> None:
        if not lines:
            await reply(interaction, i18n.t(interaction.locale, "meta.nothing"))
            return
        await send_pages(interaction, title=title, pages=chunk_lines(lines), footer=footer)

    @app_commands.command(name="categories", description="List categories with their slug and id")
    @app_commands.describe(filter="Show only categories whose name contains this")
    async def categories(self, interaction: discord.Interaction, filter: str | None = None) -> None:
        await defer(interaction, ephemeral=True)
        key = await self.bot.services.guilds.keys.resolve_key(interaction.guild_id, interaction.user.id)
        meta = await self.bot.services.meta.get(key.api_key)
        lines = category_page_lines(category_rows(meta, filter))
        await self._send(
            interaction,
            i18n.t(interaction.locale, "meta.categories.title"),
            lines,
            i18n.t(interaction.locale, "meta.categories.footer"),
        )

    @app_commands.command(name="tags", description="List tags by group with their id")
    @app_commands.describe(filter="Show only tags whose name contains this")
    async def tags(self, interaction: discord.Interaction, filter: str | None = None) -> None:
        await defer(interaction, ephemeral=True)
        key = await self.bot.services.guilds.keys.resolve_key(interaction.guild_id, interaction.user.id)
        meta = await self.bot.services.meta.get(key.api_key)
        lines = tag_page_lines(tag_groups(meta, filter), interaction.locale)
        await self._send(
            interaction,
            i18n.t(interaction.locale, "meta.tags.title"),
            lines,
            i18n.t(interaction.locale, "meta.tags.footer"),
        )


async def setup(bot: VigieBot) -> None:
    await bot.add_cog(MetaCog(bot))
