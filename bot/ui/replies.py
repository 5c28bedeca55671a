"""Answering an interaction whatever state it is in."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import discord

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


async def defer(interaction: discord.Interaction, *, ephemeral: bool) -> None:
    """Acknowledge at once (Discord allows 3 s) and remember whether the placeholder is
    public, so that an error can still be answered privately."""
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        interaction.extras["public_defer"] = not ephemeral


async def reply(
    interaction: discord.Interaction, content: str | None = None, *, ephemeral: bool = True, **kwargs: Any
) -> None:
    """First answer through the response, later ones through the followup webhook.

    After a public defer the first followup would replace the public placeholder, so a
    private answer first deletes the placeholder. An interaction that already expired
    cannot be answered at all: that is logged instead of raising inside an error handler.
    """
    kwargs.setdefault("allowed_mentions", NO_MENTIONS)
    try:
        if interaction.response.is_done():
            if ephemeral and interaction.extras.pop("public_defer", False):
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
            await interaction.followup.send(
                content if content is not None else discord.utils.MISSING, ephemeral=ephemeral, **kwargs
            )
        else:
            await interaction.response.send_message(content, ephemeral=ephemeral, **kwargs)
    except discord.NotFound:
        log.warning("could not answer interaction %s: it expired", interaction.id)
    except discord.HTTPException as exc:
        log.warning("could not answer interaction %s: %s %s", interaction.id, exc.status, exc.code)
