"""/search: La Cale's releases in a paged, sortable card, safe to post in a channel."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import Choice, locale_str
from discord.ext import commands

from bot import i18n
from bot.app import VigieBot
from bot.errors import KeyUnreadable, UserError
from bot.limits import QUERY_MAX
from bot.services.search import SearchQuery, SearchRequest, SortOrder, sort_results
from bot.ui.cards import read_badges
from bot.ui.options import Category, TmdbId
from bot.ui.replies import defer, reply
from bot.ui.search_view import SearchResultsView
from bot.ui.text import escape, shorten

SORT_CHOICES = [
    Choice(name=locale_str("Newest first"), value=SortOrder.NEWEST.value),
    Choice(name=locale_str("Most seeders"), value=SortOrder.SEEDERS.value),
    Choice(name=locale_str("Largest"), value=SortOrder.LARGEST.value),
    Choice(name=locale_str("Smallest"), value=SortOrder.SMALLEST.value),
]


def heading(query: SearchQuery, locale: object) -> str:
    """The results' title, shown publicly: the member's words are escaped (no Markdown,
    no mention, no bidi override or line break), like every untrusted text."""
    parts = []
    if query.text:
        parts.append(f"« {escape(query.text)} »")
    if query.categories:
        parts.append(escape(", ".join(query.categories)))
    if query.tmdb_id:
        parts.append(f"TMDB {query.tmdb_id}")
    return shorten(
        i18n.t(locale, "search.heading", what=" · ".join(parts) or i18n.t(locale, "search.heading.latest")), 256
    )


class Search(commands.Cog):
    def __init__(self, bot: VigieBot) -> None:
        self.bot = bot

    @app_commands.command(name="search", description="Search La Cale's releases")
    @app_commands.describe(
        query="Words to look for (200 characters at most)",
        category="Category (a parent includes its subcategories)",
        tmdb="TMDB id (digits)",
        sort="Order of the results",
        private="Show the results to me only",
    )
    @app_commands.choices(sort=SORT_CHOICES)
    async def search(
        self,
        interaction: discord.Interaction,
        query: str | None = None,
        category: Category | None = None,
        tmdb: TmdbId | None = None,
        sort: Choice[str] | None = None,
        private: bool = False,
    ) -> None:
        # Limits that need no network are refused before anything else, privately.
        if query is not None and len(query.strip()) > QUERY_MAX:
            raise UserError("error.too_long", field="query", limit=QUERY_MAX)
        await defer(interaction, ephemeral=private)
        services = self.bot.services
        key = await services.guilds.keys.resolve_key(interaction.guild_id, interaction.user.id)
        request = SearchRequest(text=query, categories=category or (), tmdb_id=tmdb)
        prepared = await services.search.prepare(key.api_key, request)
        results = await services.search.search(key.api_key, prepared, member_id=interaction.user.id)
        title = heading(prepared, interaction.locale)
        if not results:
            await reply(interaction, i18n.t(interaction.locale, "search.empty", what=title), ephemeral=private)
            return
        await read_badges(results)  # the badges of the result lines, read off the event loop
        view = SearchResultsView(
            author_id=interaction.user.id,
            results=results,
            heading=title,
            base_url=services.settings.lacale_base_url,
            locale=interaction.locale,
            download_for=self.download_for,
            has_personal_key=self.has_personal_key,
        )
        if sort is not None and sort.value != SortOrder.NEWEST.value:
            view.order = SortOrder(sort.value)
            view.results = sort_results(results, view.order)
            view._build()
        view.message_interaction = interaction
        await interaction.followup.send(
            embed=view.embed(), view=view, ephemeral=private, allowed_mentions=discord.AllowedMentions.none()
        )

    async def has_personal_key(self, user_id: int) -> bool:
        try:
            return await self.bot.services.guilds.keys.member_key(user_id) is not None
        except KeyUnreadable:
            return True  # the download button then says why the key cannot be used

    async def download_for(self, user_id: int, info_hash: str) -> bytes | None:
        """The .torrent with the member's *own* key (it embeds their passkey); never the
        server's key, whose passkey would be handed to whoever clicked."""
        key = await self.bot.services.guilds.keys.member_key(user_id)
        if key is None:
            return None
        return await self.bot.services.lacale.client(key.api_key).download_torrent(info_hash)


async def setup(bot: VigieBot) -> None:
    await bot.add_cog(Search(bot))
