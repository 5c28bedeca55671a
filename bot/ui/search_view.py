"""The /search results message: pages, sort, details, and the member's own .torrent."""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, Sequence

import discord

from bot import i18n
from bot.lacale.models import Torrent
from bot.services.search import SortOrder, sort_results
from bot.ui import views
from bot.ui.cards import release_card, results_page
from bot.ui.paginator import Paginator
from bot.ui.replies import NO_MENTIONS, reply
from bot.ui.text import plain
from bot.ui.views import AuthorView

log = logging.getLogger(__name__)

PER_PAGE = 10
#: Read when a view is built (the e2e tests shorten it).
VIEW_TIMEOUT = views.VIEW_TIMEOUT

#: Fetches the .torrent for a member with *their own* key; ``None`` when they have none.
DownloadFor = Callable[[int, str], Awaitable[bytes | None]]


class SearchResultsView(Paginator):
    """Only the member who searched turns pages and sorts; anyone may open a result's
    details (answered privately), and a download always uses the clicker's own key."""

    id_prefix = "search"
    open_to_all = frozenset({"search:details"})

    def __init__(
        self,
        *,
        author_id: int,
        results: Sequence[Torrent],
        heading: str,
        base_url: str,
        locale: object,
        download_for: DownloadFor,
        has_personal_key: Callable[[int], Awaitable[bool]],
    ) -> None:
        super().__init__(author_id=author_id, timeout=VIEW_TIMEOUT)
        self.original = list(results)
        self.results = list(results)
        self.heading = heading
        self.base_url = base_url
        self.locale = locale
        self.download_for = download_for
        self.has_personal_key = has_personal_key
        self.order = SortOrder.NEWEST
        self._build()

    @property
    def page_count(self) -> int:
        return max(1, -(-len(self.results) // PER_PAGE))

    def embed(self) -> discord.Embed:
        return results_page(
            self.results,
            page=self.page,
            per_page=PER_PAGE,
            heading=self.heading,
            base_url=self.base_url,
            locale=self.locale,
        )

    # -- components -------------------------------------------------------------------
    def _add_page_items(self) -> None:
        self.add_item(_SortSelect(self.order, self.locale))
        page_items = self.results[self.page * PER_PAGE : (self.page + 1) * PER_PAGE]
        if page_items:
            self.add_item(_DetailsSelect(page_items, self.page * PER_PAGE, self.locale))

    async def set_order(self, interaction: discord.Interaction, order: SortOrder) -> None:
        self.order = order
        self.results = sort_results(self.original, order)
        self.page = 0
        self._build()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    async def show_details(self, interaction: discord.Interaction, index: int) -> None:
        torrent = self.results[index]
        locale = interaction.locale
        embed = release_card(torrent, base_url=self.base_url, locale=locale, details=True)
        if await self.has_personal_key(interaction.user.id):
            view: discord.ui.View | None = DownloadView(interaction.user.id, torrent, self.download_for, locale)
            embed.add_field(
                name=i18n.t(locale, "search.download.title"),
                value=i18n.t(locale, "search.download.with_key"),
                inline=False,
            )
        else:
            view = None
            embed.add_field(
                name=i18n.t(locale, "search.download.title"),
                value=i18n.t(locale, "search.download.no_key"),
                inline=False,
            )
        if view is not None:
            await interaction.response.send_message(
                embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS, view=view
            )
        else:
            await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


class _SortSelect(discord.ui.Select["SearchResultsView"]):
    def __init__(self, current: SortOrder, locale: object) -> None:
        options = [
            discord.SelectOption(
                label=i18n.t(locale, f"search.sort.{order.value}"), value=order.value, default=order is current
            )
            for order in SortOrder
        ]
        super().__init__(
            custom_id="search:sort", options=options, row=1, placeholder=i18n.t(locale, "search.sort.placeholder")
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.view is None:
            raise RuntimeError("self.view is set at this point")
        await self.view.set_order(interaction, SortOrder(self.values[0]))


class _DetailsSelect(discord.ui.Select["SearchResultsView"]):
    def __init__(self, items: Sequence[Torrent], offset: int, locale: object) -> None:
        options = [
            discord.SelectOption(
                label=plain(f"{offset + i + 1}. {t.title}", 100) or str(offset + i + 1), value=str(offset + i)
            )
            for i, t in enumerate(items)
        ]
        super().__init__(
            custom_id="search:details", options=options, row=2, placeholder=i18n.t(locale, "search.details.placeholder")
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.view is None:
            raise RuntimeError("self.view is set at this point")
        await self.view.show_details(interaction, int(self.values[0]))


class DownloadView(AuthorView):
    """Hands the member a .torrent fetched with their own key, privately: the file
    carries their passkey, so it is never posted in a channel."""

    def __init__(self, author_id: int, torrent: Torrent, download_for: DownloadFor, locale: object) -> None:
        super().__init__(author_id=author_id, timeout=VIEW_TIMEOUT)
        self.torrent = torrent
        self.download_for = download_for
        self.download.label = i18n.t(locale, "search.download.button")[:80]

    @discord.ui.button(label="Download", emoji="📥", style=discord.ButtonStyle.primary, custom_id="search:download")
    async def download(self, interaction: discord.Interaction, button: discord.ui.Button[DownloadView]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await self.download_for(interaction.user.id, self.torrent.info_hash)
        if data is None:
            await reply(interaction, i18n.t(interaction.locale, "search.download.no_key"))
            return
        filename = _torrent_filename(self.torrent.title)
        await interaction.followup.send(
            i18n.t(interaction.locale, "search.download.ready"),
            file=discord.File(io.BytesIO(data), filename=filename),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


def _torrent_filename(title: str) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in title).strip("._") or "release"
    return safe[:120] + ".torrent"
