"""Caps and constants of uploads, with the reason for each."""

from __future__ import annotations

#: Longest title accepted (the torrent-name default is cut there too, ``clean_title``):
#: La Cale's cap on a search, see :data:`bot.limits.TITLE_MAX`.
from bot.limits import TITLE_MAX as TITLE_MAX

#: Uploaders saw La Cale treat an NFO under ~50 characters as invalid.
NFO_MIN_CHARS = 50
#: An NFO is a few KiB of text; 512 KiB leaves room for huge ASCII art and refuses dumps.
NFO_MAX_BYTES = 512 * 1024
#: Below Discord's 6000-character cap on an option, and what a preview can summarise.
DESCRIPTION_MAX = 4000
COVER_URL_MAX = 2048
#: A select menu holds 25 options: more tags than that could not be edited in the preview.
MAX_TAGS = 25
#: How much of the NFO the preview shows.
NFO_EXCERPT_LINES = 12
NFO_EXCERPT_CHARS = 600
#: /uploads lists this many attempts, newest first, five to a page.
RECENT_LIMIT = 25
#: A server that timed out may still be writing the torrent: wait a little before looking.
VERIFY_DELAY = 2.0
#: Draft states kept in memory (a preview lives 10 minutes; this is far more than enough).
MAX_TRACKED_DRAFTS = 2048
#: Open upload previews per member: a newer one closes the oldest (see ``previews.py``).
MAX_PREVIEWS_PER_MEMBER = 3
#: Bytes all open previews may hold together (UPLOAD_PREVIEW_BUDGET_BYTES overrides it).
PREVIEW_BUDGET_BYTES = 64 * 1024 * 1024
#: A preview unused this long is forgotten even if its view never timed out (it could not
#: be shown, or was lost): an interaction token lives 15 minutes, after which the preview
#: message cannot be edited anyway.
PREVIEW_IDLE_LIFETIME = 15 * 60.0
