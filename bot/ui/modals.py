"""The modal through which keys are typed: never a slash option (Discord shows those
in the channel), and its text input's custom_id marks the value secret for the logs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from bot import i18n
from bot.redaction import SECRET_INPUT_PREFIX
from bot.ui.errors import describe_error
from bot.ui.replies import reply

KeySubmitted = Callable[[discord.Interaction, str], Awaitable[None]]


class KeyModal(discord.ui.Modal):
    def __init__(self, locale: object, *, title_key: str, on_key: KeySubmitted) -> None:
        super().__init__(title=i18n.t(locale, title_key)[:45], timeout=600, custom_id="vigie:key-modal")
        self._on_key = on_key
        self.key_input: discord.ui.TextInput[KeyModal] = discord.ui.TextInput(
            label=i18n.t(locale, "modal.key.label")[:45],
            placeholder=i18n.t(locale, "modal.key.placeholder")[:100],
            custom_id=SECRET_INPUT_PREFIX + "apikey",
            style=discord.TextStyle.short,
            min_length=8,
            max_length=256,
            required=True,
        )
        self.add_item(self.key_input)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        value = self.key_input.value
        # The value is dropped from the component so nothing keeps it after this call.
        self.key_input.default = None
        await self._on_key(interaction, value)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        message = describe_error(error, interaction.locale, context="key modal")
        await reply(interaction, message.text, ephemeral=True)
