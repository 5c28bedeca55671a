"""Typed command options: what a member types, turned into the value a callback works with.

Each option that used to be parsed by hand inside a callback (sizes, categories, tags, TMDB
ids, excluded words) is a :class:`discord.app_commands.Transformer` here, so a callback
receives bytes, a tuple of slugs, a digits-only id… and one option is parsed the same way
by every command that has it. On Discord's side nothing changes: each stays a string
option (same name, same description, same autocomplete).

A transform that refuses raises :class:`~bot.errors.UserError`: discord.py wraps it in a
``TransformerError`` whose ``__cause__`` is that error, and :func:`bot.ui.errors.unwrap`
hands the original to :func:`~bot.ui.errors.describe_error`, so the member reads the same
precise, localized message as when the callback parsed it.

Transforms run before the callback, hence before the interaction is deferred: they never
reach the network. Resolving a category slug against La Cale's metadata (which may need a
fetch) is left to the service, once the command has deferred.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice

from bot.limits import EXCLUDE_TEXT_MAX
from bot.services.alerts.matching import parse_exclude
from bot.services.alerts.service import parse_size_option
from bot.services.search import validate_tmdb
from bot.ui.autocomplete import category_choices

if TYPE_CHECKING:
    from bot.app import VigieBot


class SizeTransformer(app_commands.Transformer):
    """``"700 MB"``, ``"4.5 GiB"``, ``"1,5 Go"`` → bytes (``None`` when blank). ``field``
    names the option in the refusal (``min_size``, ``max_size``)."""

    def __init__(self, field: str) -> None:
        self.field = field

    async def transform(self, interaction: discord.Interaction, value: str, /) -> int | None:
        return parse_size_option(value, self.field)


class TmdbTransformer(app_commands.Transformer):
    """A TMDB id: digits only, at most ``TMDB_ID_MAX`` of them (``None`` when blank)."""

    async def transform(self, interaction: discord.Interaction, value: str, /) -> str | None:
        return validate_tmdb(value)


class ExcludeTransformer(app_commands.Transformer):
    """``"cam, hd ts"`` → ``("cam", "hd ts")``; without commas every word is an entry."""

    # Declared to Discord as before (1 to EXCLUDE_TEXT_MAX characters).
    @property
    def min_value(self) -> int:
        return 1

    @property
    def max_value(self) -> int:
        return EXCLUDE_TEXT_MAX

    async def transform(self, interaction: discord.Interaction, value: str, /) -> tuple[str, ...]:
        return tuple(parse_exclude(value))


class CategoryTransformer(app_commands.Transformer):
    """One category slug (or a label the member typed), as a tuple of the categories asked
    for: ``()`` when blank. Suggestions come from :func:`bot.ui.autocomplete.category_choices`
    (slugs); a command that must check something first declares its own autocomplete,
    which takes precedence over this one."""

    async def transform(self, interaction: discord.Interaction, value: str, /) -> tuple[str, ...]:
        slug = value.strip()
        return (slug,) if slug else ()

    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction, value: str, /
    ) -> list[Choice[str]]:
        bot: VigieBot = interaction.client  # type: ignore[assignment]
        return await category_choices(bot, interaction, value)


class TagsTransformer(app_commands.Transformer):
    """``"French, 1080p"`` → ``("French", "1080p")``: several tags, separated by commas
    (names, slugs or ids; resolved against the metadata by the service). Suggestions need
    the key the command would use, so each command declares the autocomplete itself."""

    async def transform(self, interaction: discord.Interaction, value: str, /) -> tuple[str, ...]:
        out: list[str] = []
        for part in value.split(","):
            item = part.strip()
            if item and item not in out:
                out.append(item)
        return tuple(out)


#: Annotations for command parameters (``min_size: MinSize | None = None``).
MinSize = app_commands.Transform[int, SizeTransformer("min_size")]
MaxSize = app_commands.Transform[int, SizeTransformer("max_size")]
TmdbId = app_commands.Transform[str, TmdbTransformer]
Exclude = app_commands.Transform[tuple[str, ...], ExcludeTransformer]
Category = app_commands.Transform[tuple[str, ...], CategoryTransformer]
Tags = app_commands.Transform[tuple[str, ...], TagsTransformer]

__all__ = [
    "Category",
    "CategoryTransformer",
    "Exclude",
    "ExcludeTransformer",
    "MaxSize",
    "MinSize",
    "SizeTransformer",
    "Tags",
    "TagsTransformer",
    "TmdbId",
    "TmdbTransformer",
]
