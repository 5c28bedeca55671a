"""Listings cut into pages and shown with the one paginator: /meta's categories and tags,
/alert list, /uploads."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot import i18n
from bot.services.metadata import CategoryRow, TagGroupRows
from bot.ui.paginator import Paginator
from bot.ui.replies import NO_MENTIONS
from bot.ui.style import Colours
from bot.ui.text import escape, inline_code

PAGE_CHARS = 3800  # under the 4096 of an embed description
EM_SPACE = "\u2003"
#: Entries of a few lines each per page: a page reads at a glance on a phone.
ALERTS_PER_PAGE = 8
UPLOADS_PER_PAGE = 5


def chunk_lines(lines: Sequence[str], limit: int = PAGE_CHARS, max_lines: int = 30, separator: str = "\n") -> list[str]:
    """Whole entries per page: an entry (a line, or an alert's few lines) is never cut
    across two pages; ``separator`` goes between entries."""
    pages: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and (size + len(line) + len(separator) > limit or len(current) >= max_lines):
            pages.append(separator.join(current))
            current, size = [], 0
        current.append(line[:limit])
        size += len(line) + len(separator)
    if current:
        pages.append(separator.join(current))
    return pages or [""]


def category_page_lines(rows: Sequence[CategoryRow]) -> list[str]:
    return [
        EM_SPACE * row.depth + f"**{escape(row.name)}** · {inline_code(row.slug)} · {inline_code(row.id)}"
        for row in rows
    ]


def tag_page_lines(groups: Sequence[TagGroupRows], locale: object) -> list[str]:
    lines: list[str] = []
    for group in groups:
        title = escape(group.name) if group.name else i18n.t(locale, "meta.tags.ungrouped")
        lines.append(f"__**{title}**__")
        if not group.tags:
            lines.append("\u2003" + i18n.t(locale, "meta.tags.empty_group"))
        lines.extend(f"\u2003{escape(tag.name)} · {inline_code(tag.id)}" for tag in group.tags)
    return lines


class PagesView(Paginator):
    """A titled listing cut into pages (``pages:*`` buttons)."""

    id_prefix = "pages"

    def __init__(self, *, author_id: int, title: str, pages: Sequence[str], locale: object, footer: str = "") -> None:
        super().__init__(author_id=author_id)
        self.title = title
        self.pages = list(pages)
        self.locale = locale
        self.footer = footer
        self._build()

    @property
    def page_count(self) -> int:
        return len(self.pages)

    def embed(self) -> discord.Embed:
        embed = discord.Embed(title=self.title[:256], description=self.pages[self.page], colour=Colours.BRAND)
        footer = i18n.t(self.locale, "pages.footer", page=self.page + 1, pages=len(self.pages))
        embed.set_footer(text=f"{footer} · {self.footer}" if self.footer else footer)
        return embed


async def send_pages(
    interaction: discord.Interaction, *, title: str, pages: Sequence[str], footer: str = "", ephemeral: bool = True
) -> None:
    """Every listing's answer (after its deferral): the first page and the paginator."""
    view = PagesView(author_id=interaction.user.id, title=title, pages=pages, locale=interaction.locale, footer=footer)
    view.message_interaction = interaction
    await interaction.followup.send(embed=view.embed(), view=view, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
