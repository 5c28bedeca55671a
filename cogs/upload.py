"""/upload: a member's .torrent to La Cale, previewed, sent only on Confirm; /uploads: their
recent attempts. Thin: validation and sending live in ``bot.services.uploads``, the preview
in ``bot.ui.upload_view``."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.app_commands import Choice, locale_str
from discord.ext import commands

from bot import i18n
from bot.app import VigieBot
from bot.errors import UserError
from bot.services.keys import ResolvedKey
from bot.services.uploads import (
    UploadOutcome,
    check_nfo_attachment,
    check_torrent_attachment,
)
from bot.ui.autocomplete import category_choices, tag_choices
from bot.ui.cards import announcement_embed, upload_entries
from bot.ui.options import Tags
from bot.ui.pages import UPLOADS_PER_PAGE, chunk_lines, send_pages
from bot.ui.replies import NO_MENTIONS, defer, reply
from bot.ui.upload_view import UploadPreviewView, uploader_of

log = logging.getLogger(__name__)

TMDB_TYPE_CHOICES = [
    Choice(name=locale_str("Movie"), value="MOVIE"),
    Choice(name=locale_str("TV show"), value="TV"),
]


async def _read(attachment: discord.Attachment) -> bytes:
    try:
        return await attachment.read()
    except (discord.HTTPException, discord.NotFound):
        raise UserError("upload.attachment_unreadable") from None


class Upload(commands.Cog):
    def __init__(self, bot: VigieBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="upload", description="Upload a .torrent to La Cale: previewed first, sent only when you confirm"
    )
    @app_commands.describe(
        torrent="The .torrent file to upload",
        category="Category of the release (pick from the suggestions)",
        title="Title on La Cale (default: the torrent's name, cleaned)",
        nfo="The release's .nfo file (text, 50 characters at least)",
        tags="Tags, separated by commas (pick from the suggestions)",
        description="Description shown on La Cale",
        tmdb="TMDB id (digits), with tmdb_type",
        tmdb_type="Whether the TMDB id is a movie or a TV show",
        cover_url="Cover image URL (https)",
    )
    @app_commands.choices(tmdb_type=TMDB_TYPE_CHOICES)
    async def upload(
        self,
        interaction: discord.Interaction,
        torrent: discord.Attachment,
        category: str,
        title: str | None = None,
        nfo: discord.Attachment | None = None,
        tags: Tags | None = None,
        description: str | None = None,
        tmdb: str | None = None,
        tmdb_type: Choice[str] | None = None,
        cover_url: str | None = None,
    ) -> None:
        await defer(interaction, ephemeral=True)
        services = self.bot.services
        uploads = services.uploads
        member = interaction.user
        key = await uploads.authorize_uploader(uploader_of(interaction))
        # Declared sizes first: nothing too big is downloaded, nor anything the previews'
        # memory budget could not hold.
        check_torrent_attachment(torrent.filename, torrent.size, uploads.max_torrent_bytes)
        if nfo is not None:
            check_nfo_attachment(nfo.size)
        uploads.check_preview_room(member.id, torrent.size + (nfo.size if nfo is not None else 0))
        torrent_bytes = await _read(torrent)
        nfo_bytes = await _read(nfo) if nfo is not None else None
        draft = await uploads.prepare(
            key=key,
            user_id=member.id,
            guild_id=interaction.guild_id,
            torrent=torrent_bytes,
            torrent_filename=torrent.filename,
            category=category,
            title=title,
            tags=tags,
            description=description,
            tmdb=tmdb,
            tmdb_type=tmdb_type.value if tmdb_type is not None else None,
            cover_url=cover_url,
            nfo=nfo_bytes,
            nfo_filename=nfo.filename if nfo is not None else None,
        )
        view = UploadPreviewView(service=uploads, draft=draft, locale=interaction.locale, on_uploaded=self.announce)
        view.message_interaction = interaction
        try:
            await interaction.edit_original_response(embed=view.embed(), view=view)
        except BaseException:
            # Never shown: its bytes must not wait for a timeout that will not come.
            view.stop()
            uploads.discard(draft)
            raise

    async def _upload_key(self, interaction: discord.Interaction) -> ResolvedKey | None:
        """The key /upload would use for this member, or ``None`` when they may not upload:
        discord.py runs no check before an autocomplete, and suggestions fetched with the
        server's key are for those the server lends it to."""
        try:
            return await self.bot.services.uploads.authorize_uploader(uploader_of(interaction))
        except UserError:
            return None

    @upload.autocomplete("category")
    async def category_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        key = await self._upload_key(interaction)
        if key is None:
            return []
        return await category_choices(self.bot, interaction, current, value="id", key=key)

    @upload.autocomplete("tags")
    async def tags_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        key = await self._upload_key(interaction)
        if key is None:
            return []
        return tag_choices(self.bot, key, current)

    @app_commands.command(name="uploads", description="Your recent uploads through Vigie")
    async def uploads(self, interaction: discord.Interaction) -> None:
        await defer(interaction, ephemeral=True)
        records = await self.bot.services.uploads.recent(interaction.user.id)
        if not records:
            await reply(interaction, i18n.t(interaction.locale, "upload.list.none"))
            return
        locale = interaction.locale
        await send_pages(
            interaction,
            title=i18n.t(locale, "upload.list.title"),
            pages=chunk_lines(upload_entries(records, locale), max_lines=UPLOADS_PER_PAGE, separator="\n\n"),
            footer=i18n.t(locale, "upload.list.footer", count=len(records)),
        )

    async def announce(self, outcome: UploadOutcome) -> None:
        """The short public message in the server's upload channel, when one is set."""
        draft = outcome.draft
        if draft.guild_id is None:
            return
        guilds = self.bot.services.guilds
        settings = await guilds.settings(draft.guild_id)
        if settings.upload_channel_id is None:
            return
        channel = self.bot.get_channel(settings.upload_channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            log.info("upload channel %s of guild %s not found", settings.upload_channel_id, draft.guild_id)
            return
        locale = await guilds.guild_locale(draft.guild_id)
        embed = announcement_embed(outcome, base_url=self.bot.services.settings.lacale_base_url, locale=locale)
        try:
            await channel.send(
                i18n.t(locale, "upload.announce", user=f"<@{draft.user_id}>"), embed=embed, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as exc:
            log.warning(
                "could not announce an upload in channel %s: %s %s",
                channel.id if hasattr(channel, "id") else "?",
                exc.status,
                exc.code,
            )


async def setup(bot: VigieBot) -> None:
    await bot.add_cog(Upload(bot))
