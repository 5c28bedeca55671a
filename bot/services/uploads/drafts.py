"""The draft a preview shows, the outcome of sending it, and the source-flag rewrite."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal

from bot.lacale.models import (
    Tag,
    TmdbType,
    UploadResult,
    download_url,
    url_carries_secret,
)
from bot.torrents import (
    TorrentInfo,
    has_lacale_source,
    redact_announce,
)

_SLUG = re.compile(r"[A-Za-z0-9._~-]+")

# ---------------------------------------------------------------------------------------
# Drafts and outcomes


@dataclass(frozen=True, slots=True)
class UploadDraft:
    """Everything that will be sent, validated, plus what the preview explains.

    Immutable: changing the tags or fixing the source flag gives a new draft with the same
    ``id`` (the guard against double sending follows the id and the original info hash).
    The key itself never appears in ``repr``; ``key_fingerprint`` names the account.
    """

    id: str
    guild_id: int | None
    user_id: int
    title: str
    category_id: str
    category_label: str
    category_path: tuple[str, ...]
    tags: tuple[Tag, ...]
    tag_options: tuple[Tag, ...]
    description: str | None
    tmdb_id: str | None
    tmdb_type: TmdbType | None
    cover_url: str | None
    torrent: TorrentInfo
    torrent_filename: str
    nfo: bytes | None = field(repr=False)
    nfo_filename: str | None
    nfo_excerpt: str | None
    #: True once Vigie set ``info.source = "lacale"`` (the member must seed the new file).
    source_fixed: bool
    #: Info hash of the file as the member attached it.
    original_info_hash: str
    key_fingerprint: str
    key_owner: Literal["member", "guild"]
    api_key: str = field(repr=False)

    @property
    def needs_source_fix(self) -> bool:
        return not has_lacale_source(self.torrent)

    @property
    def tag_ids(self) -> tuple[str, ...]:
        return tuple(tag.id for tag in self.tags)

    @property
    def announce_redacted(self) -> tuple[str, ...]:
        """Tracker URLs safe to show: passkeys replaced by ``***``."""
        return tuple(redact_announce(url) for url in self.torrent.announce)


class UploadStatus(StrEnum):
    UPLOADED = "uploaded"
    #: 409: La Cale already has this torrent (same info hash).
    DUPLICATE = "duplicate"
    #: 429 (server or our own 30/min limiter): the draft stays ready to confirm again.
    RATE_LIMITED = "rate_limited"
    #: 403: key invalid or without the ``upload:write`` scope.
    KEY_REFUSED = "key_refused"
    #: 400: La Cale's message is in ``message``.
    REFUSED = "refused"
    #: A timeout or 5xx, then La Cale was checked and does not have it: may send again.
    NOT_STORED = "not_stored"
    #: A timeout or 5xx and the check failed too: the next Confirm checks before sending.
    UNVERIFIED = "unverified"


#: Outcomes after which the preview closes: nothing more can be done with this draft.
FINAL_STATUSES = frozenset({UploadStatus.UPLOADED, UploadStatus.DUPLICATE, UploadStatus.KEY_REFUSED})

#: ``UploadRecord.outcome`` while the request is in flight (left as is by a crash).
OUTCOME_SENDING = "sending"
OUTCOME_FAILED = "failed"


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    status: UploadStatus
    draft: UploadDraft
    #: The torrent's page (or download route) on La Cale: never carries a key.
    link: str | None = None
    retry_after: float | None = None
    #: La Cale's own words for a 400 (scrubbed of the key by the client).
    message: str | None = None
    #: Found on La Cale after the request timed out (or failed with a 5xx).
    after_timeout: bool = False
    record_id: int | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def fixed_torrent(self) -> bytes | None:
        """The rewritten .torrent to hand back (privately) after a successful upload."""
        if self.status is UploadStatus.UPLOADED and self.draft.source_fixed and self.draft.torrent.raw:
            return self.draft.torrent.raw
        return None


@dataclass(frozen=True, slots=True)
class UploadSummary:
    """One line of ``/uploads``."""

    id: int
    title: str
    info_hash: str
    outcome: str
    link: str | None
    key_fingerprint: str | None
    source_fixed: bool
    created_at: datetime
    finished_at: datetime | None


@dataclass(slots=True)
class _DraftState:
    #: Set once the draft ended (uploaded, duplicate, key refused): answered again as is.
    final: UploadOutcome | None = None


def without_files(draft: UploadDraft) -> UploadDraft:
    """The draft without the bytes of its files, for what outlives the preview (a closed
    preview's message, the outcome answered again): everything shown is kept, the .torrent
    and the NFO (up to ~10 MiB) are not held any longer."""
    if not draft.torrent.raw and not draft.nfo:
        return draft
    return replace(draft, torrent=replace(draft.torrent, raw=b""), nfo=b"" if draft.nfo is not None else None)


def upload_link(result: UploadResult, base_url: str, info_hash: str) -> str:
    """A link to the new torrent safe to post: the answer's ``link`` only when it points at
    the configured site and carries no credential (it has been ``localhost:3000``), else
    the page built from the slug, else the download route (no key in it)."""
    base = base_url.rstrip("/")
    link = (result.link or "").strip()
    public = (info_hash,)
    if link.startswith(base + "/") and not url_carries_secret(link, public=public):
        return link
    if result.slug and _SLUG.fullmatch(result.slug):
        page = f"{base}/torrents/{result.slug}"
        if not url_carries_secret(page, public=public):
            return page
    return download_url(base, info_hash)


def _torrent_filename(name: str) -> str:
    stem = re.sub(r"\.torrent\s*$", "", name.strip(), flags=re.IGNORECASE)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem).strip("._") or "upload"
    return safe[:120] + ".torrent"


def _nfo_filename(name: str | None, torrent_filename: str) -> str:
    stem = re.sub(r"\.(nfo|txt)\s*$", "", (name or "").strip(), flags=re.IGNORECASE)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem).strip("._")
    return (safe or torrent_filename.removesuffix(".torrent"))[:120] + ".nfo"
