"""/watch: a member's own alerts, sent to them by direct message.

Thin: options arrive typed (``bot.ui.options``), everything else is
:class:`~bot.services.watches.WatchService`, which lives in the alert pipeline (built by
the ``/alert`` cog: the watches are matched by its poller and sent by its sender).

Also here, because they are about watches whatever the command: telling a member, at
their next command, that Vigie paused some of their watches (DMs closed, ...), and
pausing a member's watches when they leave a server.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot import i18n
from bot.app import VigieBot
from bot.criteria import BY_OPTION, Criteria
from bot.errors import UserError
from bot.limits import ALERT_NAME_MAX
from bot.services.watches import WatchService
from bot.ui.cards import criteria_text, watch_line, watch_list_entries, watch_pause_text, watch_test_card
from bot.ui.checks import guild_id_of
from bot.ui.options import cleared_options, criteria_options
from bot.ui.pages import ALERTS_PER_PAGE, chunk_lines, send_pages
from bot.ui.replies import defer, reply
from bot.ui.text import escape, plain

log = logging.getLogger("vigie.watches")

#: Criteria a watch cannot have: a TMDB id needs a request of its own (results do not
#: carry it), and a watch is matched on what the poll already fetched.
WITHOUT = ("tmdb",)
#: Option names ``/watch edit clear:`` accepts.
CLEARABLE = tuple(option for option in BY_OPTION if option not in WITHOUT)


def _anyone(interaction: discord.Interaction) -> bool:
    """Every member may see the suggestions of their own watches' options."""
    return True


@app_commands.guild_only()
class Watches(commands.GroupCog, group_name="watch", group_description="Your own alerts, sent to you by DM"):
    def __init__(self, bot: VigieBot) -> None:
        self.bot = bot
        super().__init__()

    @property
    def watches(self) -> WatchService:
        alerts = self.bot.get_cog("Alerts")
        pipeline = getattr(alerts, "pipeline", None)
        if pipeline is None:
            raise RuntimeError("the alert pipeline is not loaded")
        service: WatchService = pipeline.watches
        return service

    # -- told at the next command, whatever it is -----------------------------------------------
    @commands.Cog.listener()
    async def on_command_answered(self, interaction: discord.Interaction) -> None:
        """Any command answered (``VigieBot`` dispatches it after a command's answer or its
        error message): the member learns of watches Vigie paused on its own since."""
        if interaction.type is not discord.InteractionType.application_command:
            return
        if interaction.response.type not in (
            discord.InteractionResponseType.channel_message,
            discord.InteractionResponseType.deferred_channel_message,
        ):
            return  # a form was opened: its own answer comes later
        try:
            notices = await self.watches.take_notice(interaction.user.id)
        except Exception:
            log.warning("could not read paused-watch notices of member %s", interaction.user.id, exc_info=True)
            return
        locale = interaction.locale
        for notice in notices:
            names = ", ".join(f"« {escape(n)} »" for n in notice.names)
            text = i18n.t(
                locale,
                "watch.notice",
                count=len(notice.names),
                names=names,
                reason=watch_pause_text(locale, notice.reason),
            )
            await reply(interaction, text + "\n" + i18n.t(locale, f"watch.notice.fix.{notice.reason}"))

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """A member left a server (or was removed): their watches there pause. Discord
        sends this only with the members intent; without it, the DM of a member who left
        finds them gone (the sender checks) and pauses the same way."""
        paused = await self.watches.member_left(payload.guild_id, payload.user.id)
        poster = getattr(self.bot.get_cog("Alerts"), "poster", None)
        if poster is not None:
            poster.forget_member(payload.guild_id, payload.user.id)
        if paused:
            log.info("guild %s: member %s left; %d watches paused", payload.guild_id, payload.user.id, paused)

    # -- autocomplete -------------------------------------------------------------------------
    async def _name_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        if interaction.guild_id is None:
            return []
        names = await self.watches.names(interaction.guild_id, interaction.user.id, current)
        return [Choice(name=plain(n, 100) or n[:100], value=n) for n in names]

    # -- commands ----------------------------------------------------------------------------
    # mypy cannot match a callback with ``**criteria`` against discord.py's ParamSpec union.
    @app_commands.command(  # type: ignore[arg-type]
        name="add", description="Get new La Cale releases matching a search by direct message"
    )
    @app_commands.describe(name="Name of the watch (unique among yours in this server)")
    @criteria_options(after="name", allowed=_anyone, without=WITHOUT)
    async def add(self, interaction: discord.Interaction, name: Range[str, 1, ALERT_NAME_MAX], **criteria: Any) -> None:
        guild_id = guild_id_of(interaction)
        await defer(interaction, ephemeral=True)
        info = await self.watches.create(
            guild_id, interaction.user.id, name, Criteria.from_options(criteria), locale=str(interaction.locale)
        )
        locale = interaction.locale
        text = i18n.t(locale, "watch.add.done", name=escape(info.name), criteria=criteria_text(info.criteria, locale))
        text += "\n" + i18n.t(locale, "watch.add.personal" if info.personal else "watch.add.server")
        await reply(interaction, text)

    @app_commands.command(name="list", description="List your watches in this server with their state")
    async def list_(self, interaction: discord.Interaction) -> None:
        guild_id = guild_id_of(interaction)
        await defer(interaction, ephemeral=True)
        listing = await self.watches.list_watches(guild_id, interaction.user.id)
        locale = interaction.locale
        if not listing.watches:
            await reply(interaction, i18n.t(locale, "watch.list.empty"))
            return
        await send_pages(
            interaction,
            title=i18n.t(locale, "watch.list.title", count=len(listing.watches)),
            pages=chunk_lines(watch_list_entries(listing, locale), max_lines=ALERTS_PER_PAGE, separator="\n\n"),
        )

    @app_commands.command(  # type: ignore[arg-type]  # **criteria: see add
        name="edit", description="Change one of your watches (only the options you give)"
    )
    @app_commands.describe(
        name="The watch to change",
        new_name="New name",
        clear="Options to empty, separated by commas (e.g. max_size, exclude)",
    )
    @app_commands.autocomplete(name=_name_autocomplete)
    @criteria_options(after="new_name", allowed=_anyone, without=WITHOUT)
    async def edit(
        self,
        interaction: discord.Interaction,
        name: str,
        new_name: Range[str, 1, ALERT_NAME_MAX] | None = None,
        clear: str | None = None,
        **criteria: Any,
    ) -> None:
        guild_id = guild_id_of(interaction)
        cleared = cleared_options(clear, CLEARABLE)
        options = {k: v for k, v in criteria.items() if v is not None}
        if not options and not cleared and new_name is None:
            raise UserError("alert.error.nothing_to_change")
        await defer(interaction, ephemeral=True)
        info = await self.watches.edit(
            guild_id, interaction.user.id, name, new_name=new_name, options=options, clear=cleared
        )
        text = i18n.t(interaction.locale, "watch.edit.done", name=escape(info.name))
        await reply(interaction, text + "\n" + watch_line(info, interaction.locale))

    @app_commands.command(name="remove", description="Delete one of your watches")
    @app_commands.describe(name="The watch to delete")
    @app_commands.autocomplete(name=_name_autocomplete)
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        guild_id = guild_id_of(interaction)
        info = await self.watches.remove(guild_id, interaction.user.id, name)
        await reply(interaction, i18n.t(interaction.locale, "watch.remove.done", name=escape(info.name)))

    @app_commands.command(name="pause", description="Stop sending a watch's matches for now")
    @app_commands.describe(name="The watch to pause")
    @app_commands.autocomplete(name=_name_autocomplete)
    async def pause(self, interaction: discord.Interaction, name: str) -> None:
        guild_id = guild_id_of(interaction)
        info = await self.watches.pause(guild_id, interaction.user.id, name)
        await reply(interaction, i18n.t(interaction.locale, "watch.pause.done", name=escape(info.name)))

    @app_commands.command(name="resume", description="Start sending a watch's matches again")
    @app_commands.describe(name="The watch to resume")
    @app_commands.autocomplete(name=_name_autocomplete)
    async def resume(self, interaction: discord.Interaction, name: str) -> None:
        guild_id = guild_id_of(interaction)
        await defer(interaction, ephemeral=True)
        info = await self.watches.resume(guild_id, interaction.user.id, name)
        await reply(interaction, i18n.t(interaction.locale, "watch.resume.done", name=escape(info.name)))

    @app_commands.command(name="test", description="Show what a watch would send you now (sends nothing)")
    @app_commands.describe(name="The watch to try")
    @app_commands.autocomplete(name=_name_autocomplete)
    async def test(self, interaction: discord.Interaction, name: str) -> None:
        guild_id = guild_id_of(interaction)
        await defer(interaction, ephemeral=True)
        preview = await self.watches.preview(guild_id, interaction.user.id, name)
        content, embeds = watch_test_card(
            preview, base_url=self.bot.services.settings.lacale_base_url, locale=interaction.locale
        )
        await reply(interaction, content, embeds=embeds)


async def setup(bot: VigieBot) -> None:
    await bot.add_cog(Watches(bot))
