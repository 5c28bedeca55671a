"""What every Vigie view shares: only its author may use it (unless a component is
declared open to all), its buttons go when it times out, and its errors are answered
like a command's."""

from __future__ import annotations

import contextlib

import discord

from bot import i18n
from bot.ui.errors import describe_error
from bot.ui.replies import reply

#: How long every Vigie view answers: under the 15 minutes an interaction token lives, so
#: the message can still be edited (its buttons removed) when the view times out.
VIEW_TIMEOUT = 600.0


class AuthorView(discord.ui.View):
    #: custom_ids anyone may use (e.g. opening a result's details, answered privately).
    open_to_all: frozenset[str] = frozenset()

    def __init__(self, *, author_id: int, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        self.author_id = author_id
        #: The interaction whose response carries this view: edited at timeout. Its token
        #: lives 15 minutes, so views time out before that.
        self.message_interaction: discord.Interaction | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.author_id:
            return True
        if str(dict(interaction.data or {}).get("custom_id", "")) in self.open_to_all:
            return True
        await interaction.response.send_message(i18n.t(interaction.locale, "error.not_yours"), ephemeral=True)
        return False

    async def on_timeout(self) -> None:
        if self.message_interaction is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message_interaction.edit_original_response(view=None)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item) -> None:  # type: ignore[type-arg]
        message = describe_error(error, interaction.locale, context=f"{type(self).__name__}")
        await reply(interaction, message.text, ephemeral=True)
