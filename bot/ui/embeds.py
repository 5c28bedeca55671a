"""The release card, built in one place and used by /search, alerts and /upload."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot import i18n
from bot.formatting import format_size
from bot.lacale.models import Torrent
from bot.ui.text import escape, inline_code, safe_title, shorten

COLOUR = discord.Colour.from_rgb(0x1F, 0x6F, 0xB5)


def timestamp(torrent: Torrent) -> str:
    """Relative date, with the exact date on hover (Discord renders it per reader)."""
    return discord.utils.format_dt(torrent.pub_date, "R")


def release_card(
    torrent: Torrent,
    *,
    base_url: str,
    locale: object,
    alert_names: Sequence[str] = (),
    details: bool = False,
) -> discord.Embed:
    t = i18n.t
    lang = i18n.lang_of(locale)
    embed = discord.Embed(
        title=safe_title(torrent.title, 256),
        url=torrent.page_url(base_url),
        colour=COLOUR,
        timestamp=torrent.pub_date,
    )
    embed.add_field(name=t(locale, "card.category"), value=escape(torrent.category or "—")[:1024], inline=True)
    embed.add_field(name=t(locale, "card.size"), value=format_size(torrent.size, lang), inline=True)
    embed.add_field(
        name=t(locale, "card.peers"),
        value=t(locale, "card.peers.value", seeders=torrent.seeders, leechers=torrent.leechers),
        inline=True,
    )
    embed.add_field(name=t(locale, "card.published"), value=discord.utils.format_dt(torrent.pub_date, "f") + " · " + timestamp(torrent), inline=False)
    if details:
        embed.add_field(name=t(locale, "card.info_hash"), value=inline_code(torrent.info_hash, 100), inline=False)
        if torrent.guid:
            embed.add_field(name=t(locale, "card.guid"), value=inline_code(torrent.guid, 100), inline=False)
    if alert_names:
        names = ", ".join(escape(n) for n in alert_names)
        embed.set_footer(text=shorten(t(locale, "card.alerts", count=len(alert_names), names=names), 2048))
    return embed


def result_line(index: int, torrent: Torrent, *, base_url: str, locale: object) -> str:
    """One entry of a results page: a numbered link, then category · size · peers · date."""
    lang = i18n.lang_of(locale)
    title = safe_title(torrent.title, 120)
    meta = " · ".join(
        (
            escape(torrent.category or "—"),
            format_size(torrent.size, lang),
            i18n.t(locale, "card.peers.value", seeders=torrent.seeders, leechers=torrent.leechers),
            timestamp(torrent),
        )
    )
    url = torrent.page_url(base_url).replace("(", "%28").replace(")", "%29")
    return f"**{index}.** [{title}]({url})\n{meta}"


def results_page(
    results: Sequence[Torrent],
    *,
    page: int,
    per_page: int,
    heading: str,
    base_url: str,
    locale: object,
) -> discord.Embed:
    pages = max(1, -(-len(results) // per_page))
    start = page * per_page
    lines = [
        result_line(start + i + 1, torrent, base_url=base_url, locale=locale)
        for i, torrent in enumerate(results[start : start + per_page])
    ]
    embed = discord.Embed(title=shorten(heading, 256), description="\n\n".join(lines)[:4096], colour=COLOUR)
    embed.set_footer(text=i18n.t(locale, "search.footer", page=page + 1, pages=pages, count=len(results)))
    return embed
