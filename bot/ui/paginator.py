"""The one paginator: First / Previous / counter / Next / Last on the first row.

Used by /search (results, with its own sort and details menus on the rows below) and by
/meta (long listings). Like every Vigie view (:class:`AuthorView`) only its author turns
pages, its buttons go when it times out, and its errors take the one error path.

A subclass says how many pages there are and how one is drawn (:meth:`embed`), and may
add its own components below the buttons in :meth:`_add_page_items`; the buttons' custom
ids are ``<id_prefix>:first|prev|counter|next|last`` (the e2e tests click them by id).
"""

from __future__ import annotations

import discord

from bot.ui.views import VIEW_TIMEOUT, AuthorView

NAV_ROW = 0


class Paginator(AuthorView):
    #: Prefix of the navigation buttons' custom ids (``pages:next``, ``search:next``…).
    id_prefix = "pages"

    def __init__(self, *, author_id: int, timeout: float | None = VIEW_TIMEOUT) -> None:
        super().__init__(author_id=author_id, timeout=timeout)
        self.page = 0
        for name, button in self._nav_buttons().items():
            button.custom_id = f"{self.id_prefix}:{name}"

    # -- what a subclass provides -----------------------------------------------------------
    @property
    def page_count(self) -> int:
        raise NotImplementedError

    def embed(self) -> discord.Embed:
        raise NotImplementedError

    def _add_page_items(self) -> None:
        """Components shown below the buttons for the current page (none by default)."""

    # -- state ----------------------------------------------------------------------------------
    def _nav_buttons(self) -> dict[str, discord.ui.Button[Paginator]]:
        return {
            "first": self.first_page,
            "prev": self.previous_page,
            "counter": self.counter,
            "next": self.next_page,
            "last": self.last_page,
        }

    def _build(self) -> None:
        """Brings the buttons in line with the current page and redraws the page's items."""
        last = self.page_count - 1
        self.first_page.disabled = self.previous_page.disabled = self.page == 0
        self.next_page.disabled = self.last_page.disabled = self.page >= last
        self.counter.label = f"{self.page + 1}/{self.page_count}"
        for item in list(self.children):
            if item not in self._nav_buttons().values():
                self.remove_item(item)
        self._add_page_items()

    async def show_page(self, interaction: discord.Interaction, page: int) -> None:
        self.page = max(0, min(page, self.page_count - 1))
        self._build()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    # -- buttons ----------------------------------------------------------------------------------
    @discord.ui.button(emoji="⏮", style=discord.ButtonStyle.secondary, custom_id="pages:first", row=NAV_ROW)
    async def first_page(self, interaction: discord.Interaction, button: discord.ui.Button[Paginator]) -> None:
        await self.show_page(interaction, 0)

    @discord.ui.button(emoji="◀", style=discord.ButtonStyle.secondary, custom_id="pages:prev", row=NAV_ROW)
    async def previous_page(self, interaction: discord.Interaction, button: discord.ui.Button[Paginator]) -> None:
        await self.show_page(interaction, self.page - 1)

    @discord.ui.button(
        label="1/1", style=discord.ButtonStyle.secondary, custom_id="pages:counter", disabled=True, row=NAV_ROW
    )
    async def counter(self, interaction: discord.Interaction, button: discord.ui.Button[Paginator]) -> None:
        """Only shows where the member is; always disabled."""

    @discord.ui.button(emoji="▶", style=discord.ButtonStyle.secondary, custom_id="pages:next", row=NAV_ROW)
    async def next_page(self, interaction: discord.Interaction, button: discord.ui.Button[Paginator]) -> None:
        await self.show_page(interaction, self.page + 1)

    @discord.ui.button(emoji="⏭", style=discord.ButtonStyle.secondary, custom_id="pages:last", row=NAV_ROW)
    async def last_page(self, interaction: discord.Interaction, button: discord.ui.Button[Paginator]) -> None:
        await self.show_page(interaction, self.page_count - 1)
