"""The /upload preview's buttons: Confirm / Cancel / Fix source flag, the tag menu, and the
answers after sending. The cards it shows (preview, outcome, announcement, /uploads list)
are drawn in :mod:`bot.ui.cards`.

Nothing here decides anything about La Cale: the view calls :class:`UploadService` and
renders its drafts and outcomes. Everything the member typed or attached is escaped.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot import i18n
from bot.services.uploads import (
    PreviewClosed,
    UploadDraft,
    Uploader,
    UploadOutcome,
    UploadService,
    UploadStatus,
)
from bot.services.uploads.drafts import without_files
from bot.ui import views
from bot.ui.cards import outcome_colour, outcome_text, preview_embed
from bot.ui.checks import may_manage_guild
from bot.ui.replies import NO_MENTIONS
from bot.ui.style import Colours
from bot.ui.text import plain
from bot.ui.views import AuthorView

log = logging.getLogger(__name__)

#: Read when a view is built (the e2e tests shorten it).
VIEW_TIMEOUT = views.VIEW_TIMEOUT


CONFIRM_ID = "upload:confirm"
CANCEL_ID = "upload:cancel"
FIX_ID = "upload:fix_source"
TAGS_ID = "upload:tags"

#: Called after a successful upload (the cog posts the public announcement).
OnUploaded = Callable[[UploadOutcome], Awaitable[None]]

#: Edits of previews closed from elsewhere, kept referenced until they finish.
_closing: set[asyncio.Task[None]] = set()


def uploader_of(interaction: discord.Interaction) -> Uploader:
    """What the upload rules look at, read from this interaction: ``/upload`` and each
    Confirm are authorised with the member's roles and permissions *at that moment*."""
    return Uploader(
        guild_id=interaction.guild_id,
        user_id=interaction.user.id,
        can_manage_guild=may_manage_guild(interaction),
        role_ids=frozenset(role.id for role in getattr(interaction.user, "roles", ())),
    )


def torrent_file(draft: UploadDraft) -> discord.File:
    return discord.File(io.BytesIO(draft.torrent.raw), filename=draft.torrent_filename)


class UploadPreviewView(AuthorView):
    """Confirm / Cancel / Fix source flag and the tag menu. Only the uploader may press;
    nothing is sent before Confirm; buttons are removed when the preview ends or expires."""

    def __init__(
        self,
        *,
        service: UploadService,
        draft: UploadDraft,
        locale: object,
        on_uploaded: OnUploaded | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(author_id=draft.user_id, timeout=timeout if timeout is not None else VIEW_TIMEOUT)
        self.service = service
        self.draft = draft
        self.locale = locale
        self.on_uploaded = on_uploaded
        self.notice: str | None = None
        self.colour = Colours.BRAND
        self._busy = False
        #: Set once the preview was closed from elsewhere (a newer preview, the server's
        #: key removed or replaced, Vigie left): the view still answers late clicks.
        self._closed_notice: str | None = None
        self._tag_select: discord.ui.Select[UploadPreviewView] | None = None
        self._build()
        if not service.watch(draft, self._closed_elsewhere):
            self._closed_elsewhere("upload.expired", {})

    def embed(self) -> discord.Embed:
        return preview_embed(self.draft, self.locale, notice=self.notice, colour=self.colour)

    # -- components ---------------------------------------------------------------------------
    def _build(self, *, disabled: bool = False) -> None:
        """Shows the declared components this draft needs, labelled in the member's language:
        the tag menu only when La Cale offers tags, Fix source flag only when it is wrong."""
        self.clear_items()
        self._tag_select = None
        t = i18n.t
        options = self.draft.tag_options
        if options:
            chosen = set(self.draft.tag_ids)
            select: discord.ui.Select[UploadPreviewView] = self.tags_menu
            select.placeholder = t(self.locale, "upload.button.tags")[:150]
            select.max_values = len(options)
            select.options = [
                discord.SelectOption(label=plain(tag.name, 100) or tag.id[:100], value=tag.id, default=tag.id in chosen)
                for tag in options
            ]
            select.disabled = disabled
            self.add_item(select)
            self._tag_select = select
        shown = [(self.confirm_button, "upload.button.confirm")]
        if self.draft.needs_source_fix:
            shown.append((self.fix_button, "upload.button.fix_source"))
        shown.append((self.cancel_button, "upload.button.cancel"))
        for button, label_key in shown:
            button.label = t(self.locale, label_key)[:80]
            button.disabled = disabled
            self.add_item(button)

    @discord.ui.select(custom_id=TAGS_ID, min_values=0, row=0)
    async def tags_menu(self, interaction: discord.Interaction, select: discord.ui.Select[UploadPreviewView]) -> None:
        await self._tags_chosen(interaction)

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success, custom_id=CONFIRM_ID, row=1)
    async def confirm_button(
        self, interaction: discord.Interaction, button: discord.ui.Button[UploadPreviewView]
    ) -> None:
        await self._confirm(interaction)

    @discord.ui.button(label="Fix source flag", style=discord.ButtonStyle.primary, custom_id=FIX_ID, row=1)
    async def fix_button(self, interaction: discord.Interaction, button: discord.ui.Button[UploadPreviewView]) -> None:
        await self._fix_source(interaction)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id=CANCEL_ID, row=1)
    async def cancel_button(
        self, interaction: discord.Interaction, button: discord.ui.Button[UploadPreviewView]
    ) -> None:
        await self._cancel(interaction)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not await super().interaction_check(interaction):
            return False
        self.service.touch(self.draft)
        return True

    # -- closed from elsewhere ------------------------------------------------------------------
    def _closed_elsewhere(self, message_key: str, values: dict[str, Any]) -> None:
        """Called by the service, synchronously: the files are let go at once (the budget
        no longer counts them), the message loses its buttons as soon as Discord answers."""
        if self._closed_notice is not None:
            return
        self._closed_notice = i18n.t(self.locale, message_key, **values)
        self.draft = without_files(self.draft)
        try:
            task = asyncio.get_running_loop().create_task(
                self._show_closed(self._closed_notice), name="upload-preview-closed"
            )
        except RuntimeError:  # no loop: nothing to edit
            return
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    async def _show_closed(self, notice: str) -> None:
        embed = preview_embed(self.draft, self.locale, notice=notice, colour=Colours.WARN, closed=True)
        await self._edit(embed=embed, view=None)

    async def _answer_closed(self, interaction: discord.Interaction, notice: str) -> None:
        """A click on a preview closed meanwhile (its buttons not yet removed on screen)."""
        self.stop()
        self.message_interaction = interaction
        embed = preview_embed(self.draft, self.locale, notice=notice, colour=Colours.WARN, closed=True)
        await interaction.response.edit_message(embed=embed, view=None)

    async def _refuse_busy(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(i18n.t(interaction.locale, "upload.in_progress"), ephemeral=True)

    async def _may_act(self, interaction: discord.Interaction) -> bool:
        """Whether a click may change the preview: not while a file is being sent or
        rewritten, and not once the preview was closed (the click is answered either way)."""
        if self._busy:
            await self._refuse_busy(interaction)
            return False
        if self._closed_notice is not None:
            await self._answer_closed(interaction, self._closed_notice)
            return False
        return True

    async def _confirm(self, interaction: discord.Interaction) -> None:
        if not await self._may_act(interaction):
            return
        self._busy = True
        self.message_interaction = interaction
        self.notice = i18n.t(self.locale, "upload.sending")
        self.colour = Colours.BRAND
        self._build(disabled=True)
        try:
            await interaction.response.edit_message(embed=self.embed(), view=self)
            # Authorised again now: the role, the key or the server may have changed since.
            outcome = await self.service.confirm(self.draft, uploader_of(interaction))
        except PreviewClosed as exc:
            # Nothing was sent, and this preview can never be: it closes, saying why.
            self._busy = False
            self._closed_notice = i18n.t(self.locale, exc.key, **exc.values)
            self.draft = without_files(self.draft)
            self.stop()
            await self._show_closed(self._closed_notice)
            return
        except BaseException:
            self._busy = False
            self.notice = None
            self._build()
            await self._edit(embed=self.embed(), view=self)
            raise
        self._busy = False
        await self._show(interaction, outcome)

    async def _show(self, interaction: discord.Interaction, outcome: UploadOutcome) -> None:
        self.notice = outcome_text(outcome, self.locale)
        self.colour = outcome_colour(outcome)
        if outcome.final:
            self.stop()
            embed = preview_embed(
                outcome.draft,
                self.locale,
                notice=self.notice,
                colour=self.colour,
                closed=True,
                link=outcome.link if outcome.status is UploadStatus.UPLOADED else None,
            )
            await self._edit(embed=embed, view=None)
        else:
            self._build()
            await self._edit(embed=self.embed(), view=self)
        if outcome.fixed_torrent is not None:
            # The file the member must seed: the one La Cale now has. Privately: it may
            # carry their passkey in its announce URL.
            await interaction.followup.send(
                i18n.t(self.locale, "upload.fixed_file"),
                file=torrent_file(outcome.draft),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
        if outcome.status is UploadStatus.UPLOADED and self.on_uploaded is not None:
            try:
                await self.on_uploaded(outcome)
            except Exception:
                log.exception("upload announcement failed")

    async def _cancel(self, interaction: discord.Interaction) -> None:
        if self._busy or self.service.is_sending(self.draft):
            await self._refuse_busy(interaction)
            return
        self.service.discard(self.draft)
        self.stop()
        self.message_interaction = interaction
        embed = preview_embed(
            self.draft, self.locale, notice=i18n.t(self.locale, "upload.cancelled"), colour=Colours.WARN, closed=True
        )
        await interaction.response.edit_message(embed=embed, view=None)

    async def _fix_source(self, interaction: discord.Interaction) -> None:
        if not await self._may_act(interaction):
            return
        self._busy = True
        self.message_interaction = interaction
        try:
            await interaction.response.defer()
            fixed = await self.service.fix_source(self.draft)
        finally:
            self._busy = False
        if self._closed_notice is not None:
            return  # closed while the file was rewritten: its message already says so
        self.draft = fixed
        self.notice = i18n.t(self.locale, "upload.source.fixed_notice", info_hash=self.draft.torrent.info_hash)
        self.colour = Colours.BRAND
        self._build()
        await self._edit(embed=self.embed(), view=self)

    async def _tags_chosen(self, interaction: discord.Interaction) -> None:
        if not await self._may_act(interaction):
            return
        values = list(self._tag_select.values) if self._tag_select is not None else []
        self.draft = self.service.with_tags(self.draft, values)
        self.message_interaction = interaction
        self.notice = None
        self.colour = Colours.BRAND
        self._build()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    async def _edit(self, **kwargs: object) -> None:
        if self.message_interaction is None:
            return
        try:
            await self.message_interaction.edit_original_response(**kwargs)  # type: ignore[arg-type]
        except discord.HTTPException as exc:
            log.info("could not edit the upload preview: %s", exc.status)

    # -- timeout --------------------------------------------------------------------------------
    async def on_timeout(self) -> None:
        if self._busy or self.service.is_sending(self.draft) or self._closed_notice is not None:
            return
        self.service.discard(self.draft)
        embed = preview_embed(
            self.draft, self.locale, notice=i18n.t(self.locale, "upload.expired"), colour=Colours.WARN, closed=True
        )
        await self._edit(embed=embed, view=None)
