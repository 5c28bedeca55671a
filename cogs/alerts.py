"""/alert: saved searches whose new matches are posted to a channel.

Thin: options arrive typed (``bot.ui.options``), everything else is :class:`AlertService`; the pipeline
(scheduler, poller, sender: :class:`AlertPipeline`) is built in the constructor, started in
``cog_load`` (startup does not wait for it) and stopped in ``cog_unload``.
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
from bot.cluster.ownership import Ownership
from bot.criteria import BY_OPTION, Criteria
from bot.errors import UserError
from bot.limits import ALERT_NAME_MAX, BACKFILL_MAX
from bot.services.alerts.deliver import DeliverySender
from bot.services.alerts.fetch import SiteMeta
from bot.services.alerts.pipeline import AlertPipeline
from bot.services.alerts.poll import GuildPoller
from bot.services.alerts.scheduler import AlertScheduler, ownership_of_shards
from bot.services.alerts.service import (
    AlertService,
    AlertSpec,
)
from bot.ui.alert_posts import DiscordAlertPoster
from bot.ui.cards import alert_line, alert_list_entries, alert_test_card, criteria_text
from bot.ui.checks import guild_id_of, may_manage_guild, require_manage_guild
from bot.ui.destinations import AlertChannel, describe
from bot.ui.options import cleared_options, criteria_options
from bot.ui.pages import ALERTS_PER_PAGE, chunk_lines, send_pages
from bot.ui.replies import defer, reply
from bot.ui.text import escape, plain

log = logging.getLogger("vigie.alerts")

#: Option names ``/alert edit clear:`` accepts: every criterion's, and the role to ping.
CLEARABLE = (*BY_OPTION, "mention")


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Alerts(commands.GroupCog, group_name="alert", group_description="Saved searches posted to a channel"):
    def __init__(self, bot: VigieBot) -> None:
        self.bot = bot
        settings = bot.services.settings
        self.poster = DiscordAlertPoster(bot, base_url=settings.lacale_base_url)
        self.pipeline = AlertPipeline.build(
            sessions=bot.services.sessions,
            vault=bot.services.vault,
            access=bot.services.lacale,
            guilds=bot.services.guilds,
            site_meta=SiteMeta(bot.services.meta, ttl=float(settings.meta_cache_seconds)),
            poster=self.poster,
            interval=float(settings.poll_interval_seconds),
            concurrency=settings.poll_concurrency,
            retention_days=settings.delivery_retention_days,
            rest_rate=settings.discord_rest_rate,
            metrics=bot.metrics,
            watches_per_member=settings.watches_per_member,
            watches_per_guild=settings.watches_per_guild,
        )
        self._apply_ownership()
        super().__init__()

    # The parts, as tests and other cogs reach them.
    @property
    def site_meta(self) -> SiteMeta:
        return self.pipeline.site_meta

    @property
    def sender(self) -> DeliverySender:
        return self.pipeline.sender

    @property
    def poller(self) -> GuildPoller:
        return self.pipeline.poller

    @property
    def scheduler(self) -> AlertScheduler:
        return self.pipeline.scheduler

    @property
    def alerts(self) -> AlertService:
        return self.pipeline.alerts

    def ownership(self) -> Ownership:
        """The servers of this process's shards: its cluster slot's when it has one
        (``bot.cluster``), else the shards discord.py runs (all of them in one process)."""
        cluster = getattr(self.bot, "cluster", None)
        if cluster is not None:
            return cluster.ownership  # type: ignore[no-any-return]
        return ownership_of_shards(self.bot.shard_ids, self.bot.shard_count)

    def _apply_ownership(self) -> None:
        self.pipeline.set_ownership(self.ownership())

    async def cog_load(self) -> None:
        if not self.bot.cluster.slot_held:
            return  # a one-shot tool (`vigie sync`): no polling, no posting
        self._apply_ownership()  # the cluster slot may be known only now
        self.pipeline.start(spawn=self.bot.spawn, before_polls=self.bot.wait_until_ready)

    async def cog_unload(self) -> None:
        await self.pipeline.stop()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        require_manage_guild(interaction)
        return True

    # -- autocomplete -------------------------------------------------------------------------
    # discord.py runs no interaction_check before these: each checks Manage Server itself.
    async def _name_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        if interaction.guild_id is None or not may_manage_guild(interaction):
            return []
        names = await self.alerts.names(interaction.guild_id, current)
        return [Choice(name=plain(n, 100) or n[:100], value=n) for n in names]

    # -- commands ----------------------------------------------------------------------------
    # mypy cannot match a callback with ``**criteria`` against discord.py's ParamSpec union.
    @app_commands.command(  # type: ignore[arg-type]
        name="add", description="Post new La Cale releases matching a search in a channel"
    )
    @app_commands.describe(
        name="Name of the alert (unique in this server)",
        channel="Channel, announcement channel, thread or forum to post in (default: this one)",
        mention="Role to ping with each post",
        backfill="Also post the newest releases that already match (0 to 10)",
    )
    @criteria_options(after="name", allowed=may_manage_guild)
    async def add(
        self,
        interaction: discord.Interaction,
        name: Range[str, 1, ALERT_NAME_MAX],
        channel: AlertChannel | None = None,
        mention: discord.Role | None = None,
        backfill: Range[int, 0, BACKFILL_MAX] = 0,
        **criteria: Any,
    ) -> None:
        guild_id = guild_id_of(interaction)
        _check_mention(interaction, mention, _guild_channel(interaction, channel.id) if channel else None)
        channel_id = channel.id if channel is not None else interaction.channel_id
        if channel_id is None:
            raise RuntimeError("channel_id is set at this point")
        spec = AlertSpec(
            name=name,
            channel_id=channel_id,
            criteria=Criteria.from_options(criteria),
            mention_role_id=mention.id if mention else None,
        )
        await defer(interaction, ephemeral=True)
        destination = await describe(interaction, channel)
        result = await self.alerts.create(
            guild_id, spec, created_by=interaction.user.id, backfill=backfill, destination=destination
        )
        locale = interaction.locale
        text = i18n.t(
            locale,
            "alert.add.done",
            name=escape(result.alert.name),
            channel=f"<#{result.alert.channel_id}>",
            criteria=criteria_text(result.alert.criteria, locale),
        )
        text += "\n" + i18n.t(locale, "alert.add.existing", count=result.existing)
        if result.backfilled:
            text += "\n" + i18n.t(locale, "alert.add.backfill", count=result.backfilled)
        await reply(interaction, text)

    @app_commands.command(name="list", description="List this server's alerts with their state and last match")
    async def list_(self, interaction: discord.Interaction) -> None:
        guild_id = guild_id_of(interaction)
        await defer(interaction, ephemeral=True)
        alerts = await self.alerts.list_alerts(guild_id)
        locale = interaction.locale
        if not alerts:
            await reply(interaction, i18n.t(locale, "alert.list.empty"))
            return
        await send_pages(
            interaction,
            title=i18n.t(locale, "alert.list.title", count=len(alerts)),
            pages=chunk_lines(alert_list_entries(alerts, locale), max_lines=ALERTS_PER_PAGE, separator="\n\n"),
        )

    @app_commands.command(  # type: ignore[arg-type]  # **criteria: see add
        name="edit", description="Change an alert (only the options you give)"
    )
    @app_commands.describe(
        name="The alert to change",
        new_name="New name",
        channel="Channel, announcement channel, thread or forum to post in",
        mention="Role to ping with each post",
        clear="Options to empty, separated by commas (e.g. mention, max_size)",
    )
    @app_commands.autocomplete(name=_name_autocomplete)
    @criteria_options(after="new_name", allowed=may_manage_guild)
    async def edit(
        self,
        interaction: discord.Interaction,
        name: str,
        new_name: Range[str, 1, ALERT_NAME_MAX] | None = None,
        channel: AlertChannel | None = None,
        mention: discord.Role | None = None,
        clear: str | None = None,
        **criteria: Any,
    ) -> None:
        guild_id = guild_id_of(interaction)
        if mention is not None:
            # The ping goes to the channel the alert will post in: the new one, or its own.
            target = _guild_channel(
                interaction, channel.id if channel else (await self.alerts.get(guild_id, name)).channel_id
            )
            _check_mention(interaction, mention, target)
        cleared = cleared_options(clear, CLEARABLE)
        changes: dict[str, Any] = {"mention_role_id": None} if "mention" in cleared else {}
        given: dict[str, Any] = {
            "new_name": new_name,
            "channel_id": channel.id if channel else None,
            "mention_role_id": mention.id if mention else None,
        }
        changes.update({k: v for k, v in given.items() if v is not None})
        options = {k: v for k, v in criteria.items() if v is not None}
        emptied = [c for c in cleared if c in BY_OPTION]
        if not changes and not options and not emptied:
            raise UserError("alert.error.nothing_to_change")
        await defer(interaction, ephemeral=True)
        if channel is not None:
            changes["destination"] = await describe(interaction, channel)
        elif "category" in options:
            # An age-restricted category is checked against the alert's own channel.
            current = await self.alerts.get(guild_id, name)
            changes["destination"] = await describe(interaction, current.channel_id)
        info = await self.alerts.edit(guild_id, name, **changes, options=options, clear=emptied)
        text = i18n.t(interaction.locale, "alert.edit.done", name=escape(info.name))
        await reply(interaction, text + "\n" + alert_line(info, interaction.locale))

    @app_commands.command(name="remove", description="Delete an alert")
    @app_commands.describe(name="The alert to delete")
    @app_commands.autocomplete(name=_name_autocomplete)
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        guild_id = guild_id_of(interaction)
        info = await self.alerts.remove(guild_id, name)
        await reply(interaction, i18n.t(interaction.locale, "alert.remove.done", name=escape(info.name)))

    @app_commands.command(name="pause", description="Stop posting an alert's matches for now")
    @app_commands.describe(name="The alert to pause")
    @app_commands.autocomplete(name=_name_autocomplete)
    async def pause(self, interaction: discord.Interaction, name: str) -> None:
        guild_id = guild_id_of(interaction)
        info = await self.alerts.pause(guild_id, name)
        await reply(interaction, i18n.t(interaction.locale, "alert.pause.done", name=escape(info.name)))

    @app_commands.command(name="resume", description="Start posting an alert's matches again")
    @app_commands.describe(name="The alert to resume")
    @app_commands.autocomplete(name=_name_autocomplete)
    async def resume(self, interaction: discord.Interaction, name: str) -> None:
        guild_id = guild_id_of(interaction)
        info = await self.alerts.resume(guild_id, name)
        await reply(
            interaction,
            i18n.t(interaction.locale, "alert.resume.done", name=escape(info.name), channel=f"<#{info.channel_id}>"),
        )

    @app_commands.command(name="test", description="Show what an alert would post now (posts nothing)")
    @app_commands.describe(name="The alert to try")
    @app_commands.autocomplete(name=_name_autocomplete)
    async def test(self, interaction: discord.Interaction, name: str) -> None:
        guild_id = guild_id_of(interaction)
        await defer(interaction, ephemeral=True)
        preview = await self.alerts.preview(guild_id, name)
        content, embeds = alert_test_card(
            preview, base_url=self.bot.services.settings.lacale_base_url, locale=interaction.locale
        )
        await reply(interaction, content, embeds=embeds)


def _guild_channel(
    interaction: discord.Interaction, channel_id: int
) -> discord.abc.GuildChannel | discord.Thread | int:
    """The cached channel, or its id when Vigie does not see it (then only the member's
    server-wide permissions are known)."""
    guild = interaction.guild
    found = guild.get_channel_or_thread(channel_id) if guild is not None else None
    return found if found is not None else channel_id


def _check_mention(
    interaction: discord.Interaction,
    role: discord.Role | None,
    channel: discord.abc.GuildChannel | discord.Thread | int | None,
) -> None:
    """Vigie pings an alert's role with its own permissions, which may reach roles the
    member could not ping themselves: a role is accepted only if anyone may mention it,
    or if the member may mention every role (``mention_everyone``) in the channel the
    alert posts to (``None``: the channel the command was used in)."""
    if role is None:
        return
    if role.is_default():
        raise UserError("alert.error.everyone")
    if role.mentionable:
        return
    member = interaction.user
    channel_id = channel if isinstance(channel, int) else channel.id if channel is not None else interaction.channel_id
    if channel_id == interaction.channel_id:
        perms = interaction.permissions  # computed by Discord for this very channel
    elif isinstance(channel, int):
        perms = member.guild_permissions if isinstance(member, discord.Member) else discord.Permissions.none()
    else:
        if channel is None:
            raise RuntimeError("channel is set at this point")
        perms = channel.permissions_for(member) if isinstance(member, discord.Member) else discord.Permissions.none()
    if not perms.mention_everyone:
        raise UserError("alert.error.mention_not_allowed", role=role.mention, channel=f"<#{channel_id}>")


async def setup(bot: VigieBot) -> None:
    await bot.add_cog(Alerts(bot))
