"""Uploading a member's .torrent to La Cale: validation (``validation``), the draft and
its outcomes (``drafts``), and sending each draft exactly once (``service``)."""

from bot.services.uploads.drafts import (
    UploadDraft,
    UploadOutcome,
    UploadStatus,
    UploadSummary,
    upload_link,
)
from bot.services.uploads.limits import (
    DESCRIPTION_MAX,
    MAX_TAGS,
    NFO_MAX_BYTES,
    NFO_MIN_CHARS,
    TITLE_MAX,
)
from bot.services.uploads.previews import PreviewClosed, PreviewRegistry
from bot.services.uploads.service import Uploader, UploadService
from bot.services.uploads.validation import (
    check_cover_url,
    check_description,
    check_nfo_attachment,
    check_title,
    check_tmdb,
    check_torrent_attachment,
    decode_nfo,
    nfo_excerpt,
    read_torrent_file,
    resolve_category,
    resolve_tag_list,
    tag_choices,
)

__all__ = [
    "DESCRIPTION_MAX",
    "MAX_TAGS",
    "NFO_MAX_BYTES",
    "NFO_MIN_CHARS",
    "TITLE_MAX",
    "PreviewClosed",
    "PreviewRegistry",
    "UploadDraft",
    "UploadOutcome",
    "UploadService",
    "UploadStatus",
    "UploadSummary",
    "Uploader",
    "check_cover_url",
    "check_description",
    "check_nfo_attachment",
    "check_title",
    "check_tmdb",
    "check_torrent_attachment",
    "decode_nfo",
    "nfo_excerpt",
    "read_torrent_file",
    "resolve_category",
    "resolve_tag_list",
    "tag_choices",
    "upload_link",
]
