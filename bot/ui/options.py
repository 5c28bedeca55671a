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

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Optional, TypeVar

import discord
from discord import AppCommandOptionType, app_commands
from discord.app_commands import Choice

from bot.criteria import CRITERIA, Criterion, parse_exclude, parse_size_option
from bot.errors import UserError
from bot.limits import EXCLUDE_TEXT_MAX
from bot.services.search import validate_tmdb
from bot.ui.autocomplete import cached_meta, category_choices
from bot.ui.text import escape

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


class CriterionTransformer(app_commands.Transformer):
    """One alert criterion's option (``bot.criteria``): typed as the criterion says
    (a string, or an integer with bounds) and parsed by it."""

    def __init__(self, criterion: Criterion[Any, Any]) -> None:
        self.criterion = criterion

    @property
    def type(self) -> AppCommandOptionType:
        return AppCommandOptionType.integer if self.criterion.shape.type == "integer" else AppCommandOptionType.string

    @property
    def min_value(self) -> int | None:
        return self.criterion.shape.min_value

    @property
    def max_value(self) -> int | None:
        return self.criterion.shape.max_value

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> Any:
        return self.criterion.parse(value)


class SuggestingCriterionTransformer(CriterionTransformer):
    """A criterion with suggestions (``Criterion.suggest``), offered to members that
    ``allowed`` accepts (discord.py runs no check before an autocomplete)."""

    def __init__(self, criterion: Criterion[Any, Any], allowed: Callable[[discord.Interaction], bool]) -> None:
        super().__init__(criterion)
        self.allowed = allowed

    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction, value: str, /
    ) -> list[Choice[str]]:
        if not self.allowed(interaction):
            return []
        meta = None
        if self.criterion.needs_meta:
            bot: VigieBot = interaction.client  # type: ignore[assignment]
            meta = await cached_meta(bot, interaction)
        return [
            Choice(name=label[:100], value=choice[:100]) for label, choice in self.criterion.suggest(value, meta)[:25]
        ]


F = TypeVar("F", bound=Callable[..., Any])


def criteria_options(
    *, after: str, allowed: Callable[[discord.Interaction], bool], without: tuple[str, ...] = ()
) -> Callable[[F], F]:
    """One optional option per criterion of :data:`bot.criteria.CRITERIA`, for a command
    callback that takes them as ``**criteria`` (option name → parsed value, ``None`` when
    not given): typed, described and suggested by each criterion, placed after the
    parameter ``after``. Goes under ``@app_commands.command`` and ``describe``.

    Example::

        @app_commands.command(name="add", description="…")
        @criteria_options(after="name", allowed=may_manage_guild)
        async def add(self, interaction, name: str, …, **criteria: Any) -> None: …

    A new criterion is a new option of every such command, with no change here. ``without``:
    option names a command does not offer (``/watch`` has no ``tmdb``: it costs a request)."""

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        params = list(signature.parameters.values())
        if not params or params[-1].kind is not inspect.Parameter.VAR_KEYWORD:
            raise TypeError(f"{func.__qualname__} must end with **criteria")
        names = [p.name for p in params]
        at = names.index(after) + 1
        added = []
        offered = [c for c in CRITERIA if c.option not in without]
        for criterion in offered:
            transformer = (
                SuggestingCriterionTransformer(criterion, allowed)
                if criterion.suggests
                else CriterionTransformer(criterion)
            )
            added.append(
                inspect.Parameter(
                    criterion.option,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    default=None,
                    annotation=Optional[transformer],  # noqa: UP045 (an object, not a type: no "|")
                )
            )
        func.__signature__ = signature.replace(parameters=[*params[:at], *added, *params[at:-1]])  # type: ignore[attr-defined]
        descriptions = getattr(func, "__discord_app_commands_param_description__", {})
        descriptions.update({c.option: c.description for c in offered})
        func.__discord_app_commands_param_description__ = descriptions  # type: ignore[attr-defined]
        return func

    return decorate


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
    "CriterionTransformer",
    "Exclude",
    "ExcludeTransformer",
    "MaxSize",
    "MinSize",
    "SizeTransformer",
    "SuggestingCriterionTransformer",
    "Tags",
    "TagsTransformer",
    "TmdbId",
    "TmdbTransformer",
    "criteria_options",
]


def cleared_options(text: str | None, clearable: Sequence[str]) -> list[str]:
    """``/alert edit`` and ``/watch edit``'s ``clear:``: option names separated by commas
    or spaces, each one that command may empty, or a refusal naming the ones it may."""
    cleared = [c.strip().lower() for c in (text or "").replace(" ", ",").split(",") if c.strip()]
    for option in cleared:
        if option not in clearable:
            raise UserError("alert.error.bad_clear", value=escape(option[:32]), options=", ".join(clearable))
    return cleared
