"""The /upload preview: what will be sent, Confirm / Cancel / Fix source flag, the tag menu,
and the answers after sending; plus the /uploads list and the public announcement card.

Nothing here decides anything about La Cale: the view calls :class:`UploadService` and
renders its drafts and outcomes. Everything the member typed or attached is escaped.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord

from bot import i18n
from bot.db.types import utcnow
from bot.formatting import clean_text, format_size
from bot.lacale.models import Torrent
from bot.services.uploads import (
    PreviewClosed,
    Uploader,
    UploadDraft,
    UploadOutcome,
    UploadService,
    UploadStatus,
    UploadSummary,
)
from bot.services.uploads.drafts import without_files
from bot.ui.checks import may_manage_guild
from bot.ui.embeds import release_card
from bot.ui.replies import NO_MENTIONS
from bot.ui.text import escape, inline_code, plain, safe_title, shorten
from bot.ui.views import AuthorView
from bot.urls import url_carries_secret

log = logging.getLogger(__name__)

#: Under the 15 minutes an interaction token lives, so the message can still be edited
#: (buttons removed) when the view times out.
VIEW_TIMEOUT = 600.0

COLOUR_PREVIEW = discord.Colour.from_rgb(0x1F, 0x6F, 0xB5)
COLOUR_OK = discord.Colour.green()
COLOUR_WARN = discord.Colour.orange()
COLOUR_FAIL = discord.Colour.red()

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


_OUTCOME_LABEL_KEYS = {
    "sending": "upload.list.outcome.sending",
    "uploaded": "upload.list.outcome.uploaded",
    "duplicate": "upload.list.outcome.duplicate",
    "rate_limited": "upload.list.outcome.rate_limited",
    "key_refused": "upload.list.outcome.key_refused",
    "refused": "upload.list.outcome.refused",
    "not_stored": "upload.list.outcome.not_stored",
    "unverified": "upload.list.outcome.unverified",
    "failed": "upload.list.outcome.failed",
}


_BACKTICK_PAIR = re.compile(r"`(?=`)")


def code_block(text: str, limit: int = 1000) -> str:
    """Text shown verbatim (NFO art): inside a code block Markdown and mentions do not
    render, so the only escape needed is for the fence itself. Control and format
    characters go first (a bidi override still reorders text inside a code block, and a
    zero-width space removed later could rejoin a fence); line breaks stay."""
    # No two backticks side by side: a fence cannot form from any run (a plain
    # replace of "```" left "`\u200b`\u200b```" from five).
    body = _BACKTICK_PAIR.sub("`\u200b", clean_text(text, multiline=True))
    if len(body) > limit - 8:
        body = body[: limit - 9] + "…"
    return f"```\n{body}\n```"


def _tmdb(draft: UploadDraft, locale: object) -> str:
    if not draft.tmdb_id:
        return "—"
    kind = i18n.t(locale, "upload.preview.tmdb.movie" if draft.tmdb_type == "MOVIE" else "upload.preview.tmdb.tv")
    return f"{draft.tmdb_id} ({kind})"


def _source(draft: UploadDraft, locale: object) -> str:
    if draft.source_fixed:
        return i18n.t(locale, "upload.preview.source.fixed")
    if draft.needs_source_fix:
        return i18n.t(locale, "upload.preview.source.missing")
    return i18n.t(locale, "upload.preview.source.ok")


def _account(draft: UploadDraft, locale: object) -> str:
    key = "upload.preview.account.member" if draft.key_owner == "member" else "upload.preview.account.guild"
    return i18n.t(locale, key, fingerprint=draft.key_fingerprint)


def warnings(draft: UploadDraft, locale: object) -> list[str]:
    """What the member should know before confirming."""
    t = i18n.t
    out: list[str] = []
    if draft.needs_source_fix:
        out.append(t(locale, "upload.warn.source"))
    elif draft.source_fixed:
        out.append(t(locale, "upload.warn.source_fixed"))
    if not draft.torrent.private:
        out.append(t(locale, "upload.warn.not_private"))
    if draft.nfo is None:
        out.append(t(locale, "upload.warn.no_nfo"))
    return out


def preview_embed(
    draft: UploadDraft,
    locale: object,
    *,
    notice: str | None = None,
    colour: discord.Colour = COLOUR_PREVIEW,
    closed: bool = False,
    link: str | None = None,
) -> discord.Embed:
    """Exactly what will be sent, and with which account (by key fingerprint)."""
    t = i18n.t
    lang = i18n.lang_of(locale)
    parts = [notice] if notice else []
    if not closed:
        parts.extend(warnings(draft, locale))
    embed = discord.Embed(
        title=safe_title(t(locale, "upload.preview.heading", title=draft.title), 256),
        description=shorten("\n\n".join(parts), 4000) or None,
        colour=colour,
        url=link,
    )
    embed.add_field(name=t(locale, "upload.preview.title"), value=escape(draft.title)[:1024], inline=False)
    embed.add_field(name=t(locale, "upload.preview.category"), value=escape(draft.category_label)[:1024], inline=True)
    tags = ", ".join(escape(tag.name) for tag in draft.tags) or "—"
    embed.add_field(name=t(locale, "upload.preview.tags"), value=shorten(tags, 1024), inline=True)
    embed.add_field(name=t(locale, "upload.preview.tmdb"), value=_tmdb(draft, locale), inline=True)
    if draft.cover_url:
        embed.add_field(name=t(locale, "upload.preview.cover"), value=inline_code(draft.cover_url, 1000), inline=False)
    embed.add_field(
        name=t(locale, "upload.preview.files"),
        value=t(locale, "upload.preview.files.value", count=draft.torrent.file_count, size=format_size(draft.torrent.total_size, lang)),
        inline=True,
    )
    embed.add_field(name=t(locale, "upload.preview.source"), value=_source(draft, locale), inline=True)
    embed.add_field(name=t(locale, "upload.preview.info_hash"), value=inline_code(draft.torrent.info_hash), inline=False)
    trackers = "\n".join(inline_code(url, 150) for url in draft.announce_redacted[:3]) or "—"
    if len(draft.announce_redacted) > 3:
        trackers += "\n" + t(locale, "upload.preview.trackers.more", count=len(draft.announce_redacted) - 3)
    embed.add_field(name=t(locale, "upload.preview.trackers"), value=trackers[:1024], inline=False)
    embed.add_field(name=t(locale, "upload.preview.account"), value=_account(draft, locale), inline=False)
    nfo = code_block(draft.nfo_excerpt) if draft.nfo_excerpt else t(locale, "upload.preview.nfo.none")
    embed.add_field(name=t(locale, "upload.preview.nfo"), value=nfo, inline=False)
    if draft.description:
        embed.add_field(name=t(locale, "upload.preview.description"), value=shorten(escape(draft.description), 300), inline=False)
    if not closed:
        embed.set_footer(text=t(locale, "upload.preview.footer"))
    return embed


def outcome_text(outcome: UploadOutcome, locale: object) -> str:
    t = i18n.t
    draft = outcome.draft
    match outcome.status:
        case UploadStatus.UPLOADED:
            key = "upload.result.uploaded_after_timeout" if outcome.after_timeout else "upload.result.uploaded"
            text = t(locale, key, link=outcome.link or "—", fingerprint=draft.key_fingerprint)
            if draft.source_fixed:
                text += "\n\n" + t(locale, "upload.result.seed_fixed")
            return text
        case UploadStatus.DUPLICATE:
            if outcome.link:
                return t(locale, "upload.result.duplicate_link", link=outcome.link)
            return t(locale, "upload.result.duplicate")
        case UploadStatus.RATE_LIMITED:
            return t(locale, "upload.result.rate_limited", seconds=max(1, math.ceil(outcome.retry_after or 0)))
        case UploadStatus.KEY_REFUSED:
            key = "upload.result.key_refused_member" if draft.key_owner == "member" else "upload.result.key_refused_guild"
            return t(locale, key, fingerprint=draft.key_fingerprint)
        case UploadStatus.REFUSED:
            return t(locale, "upload.result.refused", message=escape(outcome.message or "HTTP 400")[:300])
        case UploadStatus.NOT_STORED:
            return t(locale, "upload.result.not_stored")
        case UploadStatus.UNVERIFIED:
            return t(locale, "upload.result.unverified")
    return ""  # pragma: no cover


def outcome_colour(outcome: UploadOutcome) -> discord.Colour:
    if outcome.status is UploadStatus.UPLOADED:
        return COLOUR_OK
    if outcome.status in (UploadStatus.KEY_REFUSED, UploadStatus.REFUSED):
        return COLOUR_FAIL
    return COLOUR_WARN


def announcement_embed(outcome: UploadOutcome, *, base_url: str, locale: object) -> discord.Embed:
    """The public card: the release card of the new torrent (no key, no passkey: the link
    was checked by the service, the tracker URLs are not shown) and its tags."""
    draft = outcome.draft
    torrent = Torrent.model_validate(
        {
            "title": draft.title,
            "size": draft.torrent.total_size,
            "pubDate": utcnow(),
            "link": outcome.link,
            "category": draft.category_path[-1] if draft.category_path else draft.category_label,
            "infoHash": draft.torrent.info_hash,
        }
    )
    embed = release_card(torrent, base_url=base_url, locale=locale)
    if draft.tags:
        tags = ", ".join(escape(tag.name) for tag in draft.tags)
        embed.add_field(name=i18n.t(locale, "upload.preview.tags"), value=shorten(tags, 1024), inline=False)
    return embed


def uploads_embed(records: Sequence[UploadSummary], locale: object) -> discord.Embed:
    """A member's recent attempts: when, what, how it ended, and the link when there is one."""
    t = i18n.t
    lines: list[str] = []
    for record in records:
        when = discord.utils.format_dt(record.created_at, "R")
        outcome = t(locale, _OUTCOME_LABEL_KEYS.get(record.outcome, "upload.list.outcome.failed"))
        title = safe_title(record.title, 90)
        # Stored links were checked when made; checked again (records from older versions).
        if record.link and not url_carries_secret(record.link, public=(record.info_hash,)):
            url = record.link.replace("(", "%28").replace(")", "%29")
            title = f"[{title}]({url})"
        line = f"{when} · **{title}** · {outcome}"
        extras = [inline_code(record.info_hash[:12] + "…")]
        if record.key_fingerprint:
            extras.append(t(locale, "upload.list.key", fingerprint=record.key_fingerprint))
        if record.source_fixed:
            extras.append(t(locale, "upload.list.source_fixed"))
        lines.append(line + "\n" + " · ".join(extras))
    embed = discord.Embed(title=t(locale, "upload.list.title"), description="\n\n".join(lines)[:4096], colour=COLOUR_PREVIEW)
    embed.set_footer(text=t(locale, "upload.list.footer", count=len(records)))
    return embed


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
        self.colour = COLOUR_PREVIEW
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
            select = self.tags_menu
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
    async def confirm_button(self, interaction: discord.Interaction, button: discord.ui.Button[UploadPreviewView]) -> None:
        await self._confirm(interaction)

    @discord.ui.button(label="Fix source flag", style=discord.ButtonStyle.primary, custom_id=FIX_ID, row=1)
    async def fix_button(self, interaction: discord.Interaction, button: discord.ui.Button[UploadPreviewView]) -> None:
        await self._fix_source(interaction)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id=CANCEL_ID, row=1)
    async def cancel_button(self, interaction: discord.Interaction, button: discord.ui.Button[UploadPreviewView]) -> None:
        await self._cancel(interaction)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
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
            task = asyncio.get_running_loop().create_task(self._show_closed(self._closed_notice), name="upload-preview-closed")
        except RuntimeError:  # no loop: nothing to edit
            return
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    async def _show_closed(self, notice: str) -> None:
        embed = preview_embed(self.draft, self.locale, notice=notice, colour=COLOUR_WARN, closed=True)
        await self._edit(embed=embed, view=None)

    async def _answer_closed(self, interaction: discord.Interaction, notice: str) -> None:
        """A click on a preview closed meanwhile (its buttons not yet removed on screen)."""
        self.stop()
        self.message_interaction = interaction
        embed = preview_embed(self.draft, self.locale, notice=notice, colour=COLOUR_WARN, closed=True)
        await interaction.response.edit_message(embed=embed, view=None)

    async def _refuse_busy(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(i18n.t(interaction.locale, "upload.in_progress"), ephemeral=True)

    async def _confirm(self, interaction: discord.Interaction) -> None:
        if self._busy:
            await self._refuse_busy(interaction)
            return
        if self._closed_notice is not None:
            await self._answer_closed(interaction, self._closed_notice)
            return
        self._busy = True
        self.message_interaction = interaction
        self.notice = i18n.t(self.locale, "upload.sending")
        self.colour = COLOUR_PREVIEW
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
                outcome.draft, self.locale, notice=self.notice, colour=self.colour, closed=True,
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
                i18n.t(self.locale, "upload.fixed_file"), file=torrent_file(outcome.draft), ephemeral=True, allowed_mentions=NO_MENTIONS
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
        embed = preview_embed(self.draft, self.locale, notice=i18n.t(self.locale, "upload.cancelled"), colour=COLOUR_WARN, closed=True)
        await interaction.response.edit_message(embed=embed, view=None)

    async def _fix_source(self, interaction: discord.Interaction) -> None:
        if self._busy:
            await self._refuse_busy(interaction)
            return
        if self._closed_notice is not None:
            await self._answer_closed(interaction, self._closed_notice)
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
        self.colour = COLOUR_PREVIEW
        self._build()
        await self._edit(embed=self.embed(), view=self)

    async def _tags_chosen(self, interaction: discord.Interaction) -> None:
        if self._busy:
            await self._refuse_busy(interaction)
            return
        if self._closed_notice is not None:
            await self._answer_closed(interaction, self._closed_notice)
            return
        values = list(self._tag_select.values) if self._tag_select is not None else []
        self.draft = self.service.with_tags(self.draft, values)
        self.message_interaction = interaction
        self.notice = None
        self.colour = COLOUR_PREVIEW
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
        embed = preview_embed(self.draft, self.locale, notice=i18n.t(self.locale, "upload.expired"), colour=COLOUR_WARN, closed=True)
        await self._edit(embed=embed, view=None)
