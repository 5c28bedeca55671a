"""discord.py's Translator over the JSON catalogues: command names and descriptions are
sent to Discord in French for the ``fr`` locale (the English text is the default)."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.i18n import command_text


class CatalogueTranslator(app_commands.Translator):
    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if locale is not discord.Locale.french:
            return None
        return command_text("fr", string.message)
