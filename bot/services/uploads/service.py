"""Uploading a member's .torrent to La Cale: validation, the draft the preview shows, the
source flag, and sending it exactly once.

No Discord here: the cog hands over plain values (bytes, file names, ids, whether the member
may manage the server) and ``bot/ui/upload_view.py`` renders drafts and outcomes. Every
refusal is a :class:`~bot.errors.UserError` with its own message key, raised before
anything reaches La Cale.

Why the sending path is careful:

* La Cale answers 409 for a torrent it already has, and an upload is never retried by the
  client: a timeout or a 5xx may hide an upload that *was* stored. So after such a failure
  the service looks on the site (search by title, then the download route by info hash)
  before the member is offered to send again; and while the database holds an attempt of
  the same file whose fate is unknown, every new attempt (another preview, after a
  restart) looks first.
* A double click on Confirm, or two previews of the same file, must not produce two
  requests: a draft id and the file's original info hash are held while a request is in
  flight, and a draft that ended (uploaded, duplicate) answers its first outcome again.
* Every attempt is stored (``UploadRecord``): written before the request, completed after,
  so even a crash mid-upload leaves a trace in ``/uploads``.

The looking on La Cale is :mod:`~bot.services.uploads.lookup`; the records are
:mod:`~bot.services.uploads.records`; this module decides when each is used.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import UserError
from bot.lacale.errors import (
    BadRequest,
    Duplicate,
    KeyRefused,
    LaCaleError,
    MissingKey,
    RateLimited,
    Unavailable,
)
from bot.lacale.models import UploadFile, UploadRequest
from bot.services.guilds import GuildService
from bot.services.keys import ResolvedKey
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.search import SearchService
from bot.services.uploads.drafts import (
    OUTCOME_FAILED,
    OUTCOME_SENDING,
    UploadDraft,
    UploadOutcome,
    UploadStatus,
    UploadSummary,
    _DraftState,
    _nfo_filename,
    _torrent_filename,
    upload_link,
    without_files,
)
from bot.services.uploads.limits import (
    MAX_PREVIEWS_PER_MEMBER,
    MAX_TAGS,
    MAX_TRACKED_DRAFTS,
    NFO_MAX_BYTES,
    PREVIEW_BUDGET_BYTES,
    PREVIEW_IDLE_LIFETIME,
    RECENT_LIMIT,
    VERIFY_DELAY,
)
from bot.services.uploads.lookup import SiteLookup
from bot.services.uploads.previews import OnClosed, PreviewClosed, PreviewRegistry
from bot.services.uploads.records import UploadRecords
from bot.services.uploads.validation import (
    check_cover_url,
    check_description,
    check_title,
    check_tmdb,
    check_torrent_attachment,
    code_span,
    decode_nfo,
    nfo_excerpt,
    read_torrent_file,
    resolve_category,
    resolve_tag_list,
    tag_choices,
    torrent_refusal,
)
from bot.torrent_pool import TorrentPool, source_fix_job
from bot.torrents import (
    DEFAULT_MAX_BYTES,
    TorrentFileError,
    clean_title,
)

log = logging.getLogger(__name__)

#: ``authorize``'s refusals, as told when they happen at Confirm (after a preview).
_CONFIRM_REFUSALS = {
    "upload.not_allowed": "upload.closed.not_allowed",
    "upload.no_server_key": "upload.closed.no_server_key",
    "upload.not_allowed_dm": "upload.closed.no_personal_key",
}


@dataclass(frozen=True, slots=True)
class Uploader:
    """Who presses a button, with what the upload rules look at: read from each
    interaction (the preview's command, then Confirm), never remembered."""

    guild_id: int | None
    user_id: int
    can_manage_guild: bool
    role_ids: frozenset[int]


# ---------------------------------------------------------------------------------------
# The service


class UploadService:
    """Prepares drafts and sends them, at most once each (see the module docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        guilds: GuildService,
        access: LaCaleAccess,
        meta_cache: MetaCache,
        search: SearchService,
        *,
        max_torrent_bytes: int = DEFAULT_MAX_BYTES,
        verify_delay: float = VERIFY_DELAY,
        preview_budget_bytes: int = PREVIEW_BUDGET_BYTES,
        previews_per_member: int = MAX_PREVIEWS_PER_MEMBER,
        torrent_pool: TorrentPool | None = None,
    ) -> None:
        self._sessions = sessions
        self._guilds = guilds
        self._access = access
        self._meta = meta_cache
        self._search = search
        self.max_torrent_bytes = max_torrent_bytes
        self.verify_delay = verify_delay
        #: Where every .torrent is read (worker processes, a time limit, one file per
        #: member at a time): never the event loop or its default executor.
        self.torrent_pool = torrent_pool or TorrentPool()
        self._records = UploadRecords(sessions)
        self._site = SiteLookup(access, search, self.torrent_pool)
        self._states: OrderedDict[str, _DraftState] = OrderedDict()
        self._sending: set[str] = set()
        self._hashes_in_flight: set[str] = set()
        #: Upload requests handed to the client (a local 30/min refusal counts too).
        self.requests_sent = 0
        # One upload of the largest accepted size always fits when nothing else is open.
        self.previews = PreviewRegistry(
            budget_bytes=max(preview_budget_bytes, max_torrent_bytes + NFO_MAX_BYTES),
            per_member=previews_per_member,
            idle_lifetime=PREVIEW_IDLE_LIFETIME,
            in_flight=self._sending,
        )
        guilds.add_key_listener(self._guild_key_changed)

    @property
    def base_url(self) -> str:
        return self._access.base_url

    def close(self) -> None:
        """Stop the torrent pool's workers (the bot is closing)."""
        self.torrent_pool.close()

    # -- who uploads with which key -------------------------------------------------------
    async def authorize(
        self, guild_id: int | None, user_id: int, *, can_manage_guild: bool, role_ids: Collection[int]
    ) -> ResolvedKey:
        """The key this member uploads with.

        A personal key comes first and needs no role: the upload goes out under the
        member's own account. The server's key (the server's account) is lent only to
        members with the server's upload role or Manage Server.
        """
        personal = await self._guilds.keys.member_key(user_id)
        if personal is not None:
            return personal
        if guild_id is None:
            raise UserError("upload.not_allowed_dm")
        settings = await self._guilds.settings(guild_id)
        role_id = settings.upload_role_id
        if not (can_manage_guild or (role_id is not None and role_id in role_ids)):
            raise UserError("upload.not_allowed")
        key = await self._guilds.guild_key(guild_id)
        if key is None:
            raise UserError("upload.no_server_key")
        return key

    async def authorize_uploader(self, uploader: Uploader) -> ResolvedKey:
        return await self.authorize(
            uploader.guild_id, uploader.user_id, can_manage_guild=uploader.can_manage_guild, role_ids=uploader.role_ids
        )

    # -- open previews ------------------------------------------------------------------------
    def check_preview_room(self, user_id: int, declared_bytes: int) -> None:
        """Before downloading the attachments: refuse at once when the previews' byte
        budget could not hold them (:meth:`prepare` decides for good)."""
        self.previews.check_room(user_id, declared_bytes)

    def watch(self, draft: UploadDraft, on_closed: OnClosed) -> bool:
        """``on_closed`` hears when the preview is closed from elsewhere (a newer preview
        of the member, the server's key removed or replaced, Vigie left the server)."""
        return self.previews.watch(draft.id, on_closed)

    def touch(self, draft: UploadDraft) -> None:
        self.previews.touch(draft.id)

    def _guild_key_changed(self, guild_id: int, reason: str) -> None:
        if reason == "guild_left":
            closed = self.previews.close_guild(guild_id, "guild_left")
        else:
            closed = self.previews.close_guild(
                guild_id, "key_replaced" if reason == "key_replaced" else "key_removed", key_owner="guild"
            )
        if closed:
            log.info("closed %d upload preview(s) of guild %s: %s", closed, guild_id, reason)

    # -- drafts -----------------------------------------------------------------------------
    async def prepare(
        self,
        *,
        key: ResolvedKey,
        user_id: int,
        guild_id: int | None,
        torrent: bytes,
        torrent_filename: str,
        category: str,
        title: str | None = None,
        tags: str | Sequence[str] | None = None,
        description: str | None = None,
        tmdb: str | None = None,
        tmdb_type: str | None = None,
        cover_url: str | None = None,
        nfo: bytes | None = None,
        nfo_filename: str | None = None,
    ) -> UploadDraft:
        """Validate everything (cheap checks first, La Cale's metadata last) into a draft.
        Nothing is sent."""
        typed_title = check_title(title) if title is not None and title.strip() else None
        tmdb_id, kind = check_tmdb(tmdb, tmdb_type)
        cover = check_cover_url(cover_url)
        text = check_description(description)
        check_torrent_attachment(torrent_filename, len(torrent), self.max_torrent_bytes)
        info = await read_torrent_file(torrent, self.max_torrent_bytes, self.torrent_pool, owner=user_id)
        excerpt: str | None = None
        if nfo is not None:
            excerpt = nfo_excerpt(decode_nfo(nfo))
        final_title = typed_title or check_title(clean_title(info.name))
        meta = await self._meta.get(key.api_key)
        flat = resolve_category(meta, category)
        chosen = resolve_tag_list(meta, tags)
        filename = _torrent_filename(torrent_filename)
        draft = UploadDraft(
            id=secrets.token_hex(8),
            guild_id=guild_id,
            user_id=user_id,
            title=final_title,
            category_id=flat.category.id,
            category_label=flat.label,
            category_path=flat.path,
            tags=chosen,
            tag_options=tag_choices(meta, flat.path, chosen),
            description=text,
            tmdb_id=tmdb_id,
            tmdb_type=kind,
            cover_url=cover,
            torrent=info,
            torrent_filename=filename,
            nfo=nfo,
            nfo_filename=_nfo_filename(nfo_filename, filename) if nfo is not None else None,
            nfo_excerpt=excerpt,
            source_fixed=False,
            original_info_hash=info.info_hash,
            key_fingerprint=key.fingerprint,
            key_owner=key.owner,
            api_key=key.api_key,
        )
        # Held until Confirm's outcome, Cancel or expiry; refused when the budget is full.
        self.previews.open(
            draft.id,
            user_id=user_id,
            guild_id=guild_id,
            key_owner=key.owner,
            key_fingerprint=key.fingerprint,
            size=_held_bytes(draft),
        )
        return draft

    async def fix_source(self, draft: UploadDraft) -> UploadDraft:
        """The draft with ``info.source = "lacale"`` set in its torrent, rewritten and read
        again in the torrent pool (as the member's one file in flight)."""
        if draft.id in self._sending:
            raise UserError("upload.in_progress")
        if not draft.needs_source_fix:
            return draft
        try:
            torrent = await self.torrent_pool.run(source_fix_job, draft.torrent, owner=draft.user_id)
        except TorrentFileError as exc:  # pragma: no cover - the draft's torrent was read already
            raise torrent_refusal(exc, self.max_torrent_bytes) from None
        fixed = replace(draft, torrent=torrent, source_fixed=True)
        # The hash La Cale would have given the unfixed file is exactly the fixed one's.
        self._site.remember_hash(draft.original_info_hash, fixed.torrent.info_hash)
        # The preview now holds the rewritten file instead of the original.
        self.previews.resize(draft.id, _held_bytes(fixed))
        return fixed

    def with_tags(self, draft: UploadDraft, tag_ids: Sequence[str]) -> UploadDraft:
        """The draft with the tags picked in the preview's menu (ids among its options)."""
        known = {tag.id: tag for tag in (*draft.tag_options, *draft.tags)}
        unknown = [tag_id for tag_id in tag_ids if tag_id not in known]
        if unknown:
            raise UserError("upload.tags.unknown", tags=", ".join(code_span(u, 40) for u in unknown[:10]))
        wanted = set(tag_ids)
        ordered = tuple(tag for tag_id, tag in known.items() if tag_id in wanted)
        if len(ordered) > MAX_TAGS:
            raise UserError("upload.tags.too_many", limit=MAX_TAGS)
        return replace(draft, tags=ordered)

    def discard(self, draft: UploadDraft) -> None:
        """The member cancelled: forget the draft (unless a request is in flight)."""
        if draft.id not in self._sending:
            self._states.pop(draft.id, None)
            self.previews.release(draft.id)

    def is_sending(self, draft: UploadDraft) -> bool:
        return draft.id in self._sending

    def final_outcome(self, draft: UploadDraft) -> UploadOutcome | None:
        state = self._states.get(draft.id)
        return state.final if state else None

    def _state(self, draft_id: str) -> _DraftState:
        state = self._states.get(draft_id)
        if state is None:
            state = self._states[draft_id] = _DraftState()
            while len(self._states) > MAX_TRACKED_DRAFTS:
                oldest = next(iter(self._states))
                if oldest in self._sending:
                    break
                self._states.popitem(last=False)
        return state

    # -- sending ----------------------------------------------------------------------------
    async def confirm(self, draft: UploadDraft, uploader: Uploader) -> UploadOutcome:
        """Confirm pressed: authorise again with the same rules as ``/upload`` (the role
        may have been cleared, the key removed or replaced since the preview), check the
        key is still the one the preview named, then :meth:`send`.

        Raises :class:`PreviewClosed` (and closes the preview) when that no longer holds:
        nothing is sent with a key the preview did not name or the member may not use.
        """
        state = self._states.get(draft.id)
        if state is not None and state.final is not None:
            return state.final
        if not self.previews.is_open(draft.id):
            raise self.previews.closure(draft.id)
        key: ResolvedKey | None = None
        refusal: UserError | None = None
        try:
            key = await self.authorize_uploader(uploader)
        except UserError as exc:
            refusal = exc
        if key is not None and key.owner == draft.key_owner and hmac.compare_digest(key.api_key, draft.api_key):
            return await self.send(draft)
        self._close_refused(draft)
        if draft.key_owner == "member" and (key is None or key.owner != "member"):
            # Said first: the server's rules were never what this preview relied on.
            raise PreviewClosed("upload.closed.no_personal_key")
        if key is None:
            if refusal is None:
                raise RuntimeError("refusal is set at this point")
            raise PreviewClosed(_CONFIRM_REFUSALS.get(refusal.key, refusal.key), **refusal.values)
        raise PreviewClosed("upload.closed.key_changed", fingerprint=draft.key_fingerprint, current=key.fingerprint)

    def _close_refused(self, draft: UploadDraft) -> None:
        if draft.id not in self._sending:
            self._states.pop(draft.id, None)
            self.previews.release(draft.id)

    async def send(self, draft: UploadDraft) -> UploadOutcome:
        """Send the draft once: ONE request, every tag its own repeated ``tags`` field.

        Raises ``UserError("upload.in_progress")`` while the same draft, or another draft
        of the same file, is being sent. A draft that already ended answers its outcome
        again without sending anything.
        """
        state = self._state(draft.id)
        if state.final is not None:
            return state.final
        hashes = {draft.original_info_hash, draft.torrent.info_hash}
        # No await between the check and the claim: two clicks cannot both pass, and a
        # preview closed meanwhile (its server's key removed) sends nothing.
        if draft.id in self._sending or hashes & self._hashes_in_flight:
            raise UserError("upload.in_progress")
        if not self.previews.is_open(draft.id):
            raise self.previews.closure(draft.id)
        self._sending.add(draft.id)
        self._hashes_in_flight |= hashes
        try:
            outcome = await self._send(draft)
        finally:
            self._sending.discard(draft.id)
            self._hashes_in_flight -= hashes
        if outcome.final:
            # Answered again to a late click, without the files: the preview's bytes are free.
            state.final = replace(outcome, draft=without_files(outcome.draft))
            self.previews.release(draft.id)
        return outcome

    async def _send(self, draft: UploadDraft) -> UploadOutcome:
        earlier = await self._records.earlier(await self._site.hashes(draft))
        pending = [r.id for r in earlier if r.outcome in (OUTCOME_SENDING, UploadStatus.UNVERIFIED.value)]
        prior = next((r for r in earlier if r.outcome == UploadStatus.UPLOADED.value), None)
        if pending or prior is not None:
            # An earlier request for this file was stored, or may have been (no answer, a
            # crash mid-upload): look on La Cale before anything is sent again. Kept in the
            # database, so neither an expired preview nor a restart forgets it.
            found, link = await self._site.find(draft)
            if prior is not None and found is not False:
                link = link or prior.link
                record_id = await self._records.start(draft, outcome=UploadStatus.DUPLICATE.value)
                await self._records.finish(
                    record_id, UploadStatus.DUPLICATE.value, link=link, detail=f"already uploaded (record {prior.id})"
                )
                return UploadOutcome(UploadStatus.DUPLICATE, draft, link=link, record_id=record_id)
            if pending:
                if found is None:
                    return UploadOutcome(UploadStatus.UNVERIFIED, draft, record_id=pending[0])
                if found:
                    for record_id in pending:
                        await self._records.finish(
                            record_id, UploadStatus.UPLOADED.value, link=link, detail="found on La Cale after a timeout"
                        )
                    return UploadOutcome(
                        UploadStatus.UPLOADED, draft, link=link, after_timeout=True, record_id=pending[0]
                    )
                for record_id in pending:
                    await self._records.finish(
                        record_id, UploadStatus.NOT_STORED.value, detail="checked later: not on La Cale"
                    )
            # else: uploaded through Vigie once, but no longer on La Cale (removed): send.

        record_id = await self._records.start(draft)
        client = self._access.client(draft.api_key)
        try:
            self.requests_sent += 1
            result = await client.upload(self._request(draft))
        except Duplicate:
            link = await self._site.existing_link(draft)
            await self._records.finish(record_id, UploadStatus.DUPLICATE.value, link=link)
            return UploadOutcome(UploadStatus.DUPLICATE, draft, link=link, record_id=record_id)
        except RateLimited as exc:
            await self._records.finish(
                record_id, UploadStatus.RATE_LIMITED.value, detail=f"retry after {exc.retry_after:.0f} s"
            )
            return UploadOutcome(UploadStatus.RATE_LIMITED, draft, retry_after=exc.retry_after, record_id=record_id)
        except (KeyRefused, MissingKey) as exc:
            await self._records.finish(record_id, UploadStatus.KEY_REFUSED.value, detail=exc.message or None)
            return UploadOutcome(UploadStatus.KEY_REFUSED, draft, message=exc.message or None, record_id=record_id)
        except BadRequest as exc:
            await self._records.finish(record_id, UploadStatus.REFUSED.value, detail=exc.message or None)
            return UploadOutcome(UploadStatus.REFUSED, draft, message=exc.message or None, record_id=record_id)
        except Unavailable as exc:
            # A timeout (or a 5xx, a cut connection) may hide a stored upload: the request
            # is never repeated blindly, La Cale is checked first.
            log.info("upload of %s failed with %s; checking La Cale", draft.torrent.info_hash, type(exc).__name__)
            return await self._after_failure(draft, record_id)
        except LaCaleError as exc:
            # Refused before sending (InvalidRequest) or an answer that proves nothing stored.
            await self._records.finish(record_id, OUTCOME_FAILED, detail=type(exc).__name__)
            raise
        except Exception:
            # Unknown fate: the record stays "unverified", so the next attempt checks first.
            await self._records.finish(record_id, UploadStatus.UNVERIFIED.value, detail="unexpected error")
            raise
        # (CancelledError is left alone: the record stays "sending", which also means "check first".)
        link = upload_link(result, self.base_url, draft.torrent.info_hash)
        await self._records.finish(record_id, UploadStatus.UPLOADED.value, link=link)
        return UploadOutcome(UploadStatus.UPLOADED, draft, link=link, record_id=record_id)

    async def _after_failure(self, draft: UploadDraft, record_id: int) -> UploadOutcome:
        if self.verify_delay > 0:
            await asyncio.sleep(self.verify_delay)
        found, link = await self._site.find(draft)
        if found:
            await self._records.finish(
                record_id, UploadStatus.UPLOADED.value, link=link, detail="found on La Cale after a timeout"
            )
            return UploadOutcome(UploadStatus.UPLOADED, draft, link=link, after_timeout=True, record_id=record_id)
        if found is None:
            await self._records.finish(
                record_id, UploadStatus.UNVERIFIED.value, detail="no answer, and La Cale could not be checked"
            )
            return UploadOutcome(UploadStatus.UNVERIFIED, draft, record_id=record_id)
        await self._records.finish(
            record_id, UploadStatus.NOT_STORED.value, detail="no answer; checked: not on La Cale"
        )
        return UploadOutcome(UploadStatus.NOT_STORED, draft, record_id=record_id)

    def _request(self, draft: UploadDraft) -> UploadRequest:
        return UploadRequest(
            title=draft.title,
            category_id=draft.category_id,
            torrent=UploadFile(draft.torrent_filename, draft.torrent.raw),
            tags=draft.tag_ids,
            description=draft.description,
            tmdb_id=draft.tmdb_id,
            tmdb_type=draft.tmdb_type,
            cover_url=draft.cover_url,
            nfo=UploadFile(draft.nfo_filename or "release.nfo", draft.nfo) if draft.nfo is not None else None,
        )

    async def recent(self, user_id: int, *, limit: int = RECENT_LIMIT) -> list[UploadSummary]:
        """A member's latest attempts, newest first."""
        return await self._records.recent(user_id, limit=limit)


def _held_bytes(draft: UploadDraft) -> int:
    """What a preview keeps in memory: the .torrent as it will be sent, and the NFO."""
    return len(draft.torrent.raw) + len(draft.nfo or b"")
