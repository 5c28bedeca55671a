"""An alert's ``channel`` option: the kinds of channel Discord offers in the picker, and the
chosen channel described for :mod:`bot.services.alerts.destinations` (its kind, whether it
is age-restricted, Vigie's own permissions there), which checks it."""

from __future__ import annotations

from typing import Annotated, Any

import discord
from discord import app_commands
from discord.app_commands import AppCommandChannel, AppCommandThread

from bot.services.alerts.destinations import ChannelKind, Destination

#: What the picker offers: text, announcement, threads (of both), forums.
CHANNEL_TYPES = [
    discord.ChannelType.text,
    discord.ChannelType.news,
    discord.ChannelType.public_thread,
    discord.ChannelType.private_thread,
    discord.ChannelType.news_thread,
    discord.ChannelType.forum,
]

_KINDS = {
    discord.ChannelType.text: ChannelKind.TEXT,
    discord.ChannelType.news: ChannelKind.ANNOUNCEMENT,
    discord.ChannelType.public_thread: ChannelKind.THREAD,
    discord.ChannelType.news_thread: ChannelKind.THREAD,
    discord.ChannelType.private_thread: ChannelKind.PRIVATE_THREAD,
    discord.ChannelType.forum: ChannelKind.FORUM,
}

PickedChannel = AppCommandChannel | AppCommandThread


class _ChannelTransformer(app_commands.Transformer):
    """Leaves the channel as Discord resolved it: it is described after the command
    defers (describing may ask Discord for a channel missing from the cache)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return CHANNEL_TYPES

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> PickedChannel:
        if not isinstance(value, (AppCommandChannel, AppCommandThread)):
            raise app_commands.TransformerError(value, discord.AppCommandOptionType.channel, self)
        return value


#: ``channel: AlertChannel | None = None`` on ``/alert add`` and ``/alert edit``.
AlertChannel = Annotated[PickedChannel, _ChannelTransformer]


async def _find(guild: discord.Guild, channel_id: int) -> Any:
    """The channel or thread from the cache, else from Discord; ``None`` when Vigie may
    not see it (a private thread it is not in, a channel hidden from it)."""
    found = guild.get_channel_or_thread(channel_id)
    if found is not None:
        return found
    try:
        return await guild.fetch_channel(channel_id)
    except (discord.Forbidden, discord.NotFound):
        return None


async def describe(interaction: discord.Interaction, picked: PickedChannel | int | None) -> Destination:
    """The channel picked (an id: an alert's own channel; ``None``: the one the command was
    used in) as the alert checks see it."""
    guild = interaction.guild
    channel_id = picked if isinstance(picked, int) else picked.id if picked is not None else interaction.channel_id
    if guild is None or channel_id is None:
        raise app_commands.NoPrivateMessage
    me = guild.me
    found = await _find(guild, channel_id)
    if found is None:
        # Hidden from Vigie: a private thread it was not added to, or a channel it cannot see.
        known = not isinstance(picked, int) and picked is not None
        kind = _KINDS.get(picked.type, ChannelKind.OTHER) if known else ChannelKind.TEXT  # type: ignore[union-attr]
        return Destination(channel_id, kind, visible=False)
    kind = _KINDS.get(found.type, ChannelKind.OTHER)
    if isinstance(found, discord.Thread):
        parent = found.parent
        # The parent's permissions, with a thread's implicit rule (no Send Messages in
        # Threads: no Embed Links either), not a channel's (no Send Messages: none).
        perms = found.permissions_for(me) if parent is not None else discord.Permissions.none()
        return Destination(
            channel_id,
            kind,
            nsfw=bool(parent is not None and parent.is_nsfw()),
            archived=found.archived,
            locked=found.locked,
            **_permission_flags(perms),
        )
    if isinstance(found, (discord.TextChannel, discord.ForumChannel)):
        return Destination(channel_id, kind, nsfw=found.is_nsfw(), **_permission_flags(found.permissions_for(me)))
    return Destination(channel_id, ChannelKind.OTHER)


def _permission_flags(perms: discord.Permissions) -> dict[str, bool]:
    return {
        "view_channel": perms.view_channel,
        "send_messages": perms.send_messages,
        "send_messages_in_threads": perms.send_messages_in_threads,
        "embed_links": perms.embed_links,
    }
