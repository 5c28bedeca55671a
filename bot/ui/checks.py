"""Permission checks that Discord's ``default_member_permissions`` cannot guarantee: it only
hides a command (admins can widen it, clients cache it, a modal may be submitted minutes
later), so Vigie checks again on every use."""

from __future__ import annotations

import discord
from discord import app_commands


def may_manage_guild(interaction: discord.Interaction) -> bool:
    """For autocomplete: discord.py runs neither ``interaction_check`` nor command checks
    before an autocomplete callback, so each one asks this itself and suggests nothing
    to a member who could not run the command."""
    return interaction.guild_id is not None and interaction.permissions.manage_guild


def require_manage_guild(interaction: discord.Interaction) -> None:
    if not interaction.permissions.manage_guild:
        raise app_commands.MissingPermissions(["manage_guild"])


def guild_id_of(interaction: discord.Interaction) -> int:
    """The server a command runs in. ``guild_only()`` already keeps these commands out of
    DMs; this says so to the type checker, and answers like Discord would if it ever did
    not (an installation as a user app, a client that ignores the flag)."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage
    return interaction.guild_id
