"""Suggestions for the category and tag options of ``/search``, ``/alert`` and ``/upload``.

From the metadata cache only: a keystroke never waits for La Cale (a cold cache answers
nothing and starts a fetch for the next keystroke; after a failed fetch, none for a
minute). discord.py runs no check before an autocomplete: each caller decides first
whether the member may use the command, and with which key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord.app_commands import Choice

from bot.errors import UserError
from bot.lacale.models import Meta
from bot.services.keys import ResolvedKey
from bot.services.metadata import suggest_categories, suggest_tags

if TYPE_CHECKING:
    from bot.app import VigieBot


async def category_choices(
    bot: VigieBot,
    interaction: discord.Interaction,
    current: str,
    *,
    value: str = "slug",
    key: ResolvedKey | None = None,
) -> list[Choice[str]]:
    """Categories matching ``current``; ``value``: ``slug`` (searches, alerts) or ``id``
    (uploads). ``key``: the one the command would use, when it is not the member's own or
    else the server's (``/upload`` lends the server's key only to some members)."""
    meta = await cached_meta(bot, interaction, key=key)
    if meta is None:
        return []
    return [Choice(name=s.label, value=s.value) for s in suggest_categories(meta, current, value=value)]


async def cached_meta(
    bot: VigieBot, interaction: discord.Interaction, *, key: ResolvedKey | None = None
) -> Meta | None:
    """La Cale's metadata for the key the command would use (``key``, else the member's
    own or the server's), from the cache only; ``None`` when it is not there yet."""
    if key is None:
        try:
            key = await bot.services.guilds.keys.resolve_key(interaction.guild_id, interaction.user.id)
        except UserError:
            return None
    return bot.services.meta.peek(key.api_key)


def tag_choices(bot: VigieBot, key: ResolvedKey, current: str) -> list[Choice[str]]:
    """Tags matching ``current`` (their ids as values), for the key the command uses."""
    meta = bot.services.meta.peek(key.api_key)
    if meta is None:
        return []
    return [Choice(name=s.label, value=s.value) for s in suggest_tags(meta, current)]
