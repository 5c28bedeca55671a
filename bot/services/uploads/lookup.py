"""Whether La Cale already holds a file: asked after an upload whose answer was lost (a
timeout, a 5xx), before a file with an attempt of unknown fate is sent again, and after
a 409 to link the existing torrent. Search by title first (approved torrents only), then
the download route for each hash the site may store it under."""

from __future__ import annotations

import logging
from collections import OrderedDict

from bot.errors import UserError
from bot.lacale.errors import LaCaleError, NotFound
from bot.lacale.models import Meta, download_url
from bot.services.lacale_access import LaCaleAccess
from bot.services.search import SearchService, build_query
from bot.services.uploads.drafts import UploadDraft
from bot.services.uploads.limits import MAX_TRACKED_DRAFTS
from bot.torrent_pool import TorrentPool, site_hash_job
from bot.torrents import clean_title, has_lacale_source

#: The logger these lines always went to (operators may filter on it).
log = logging.getLogger("bot.services.uploads.service")


class SiteLookup:
    """Looks for a draft's file on La Cale with the draft's own key."""

    def __init__(self, access: LaCaleAccess, search: SearchService, torrent_pool: TorrentPool) -> None:
        self._access = access
        self._search = search
        self.torrent_pool = torrent_pool
        #: Original info hash -> the hash La Cale stores it under (its source flag added).
        self._site_hashes: OrderedDict[str, str] = OrderedDict()

    @property
    def base_url(self) -> str:
        return self._access.base_url

    async def hashes(self, draft: UploadDraft) -> set[str]:
        """Every hash under which La Cale may hold this file: as attached, as sent, and as
        the site stores it after adding its source flag (computed once per file: torf is
        slow on huge torrents; a fixed draft already knows it)."""
        site = self._site_hashes.get(draft.original_info_hash)
        if site is None:
            if has_lacale_source(draft.torrent):
                site = draft.torrent.info_hash
            else:
                # Its own owner, not the member: their one-file limit is for the files they
                # attach, and must not make this check fail (the upload's fate unknown)
                # while their next .torrent is being read.
                site = await self.torrent_pool.run(site_hash_job, draft.torrent, owner=("site-hash", draft.id))
            self.remember_hash(draft.original_info_hash, site)
        return {draft.original_info_hash, draft.torrent.info_hash, site}

    def remember_hash(self, original: str, site: str) -> None:
        self._site_hashes[original] = site
        while len(self._site_hashes) > MAX_TRACKED_DRAFTS:
            self._site_hashes.popitem(last=False)

    async def search_titles(self, draft: UploadDraft, hashes: set[str]) -> tuple[bool | None, str | None]:
        """Search by the title, then by the torrent's name: (found, its link) or
        (None, None) when a search failed and nothing was found."""
        failed = False
        texts = dict.fromkeys(t for t in (draft.title, clean_title(draft.torrent.name)) if t)
        for text in texts:
            try:
                results = await self._search.search(draft.api_key, build_query(Meta(), text, (), None))
            except (LaCaleError, UserError) as exc:
                # La Cale is down or pacing us: a second search would only wait as long.
                log.info("search after upload failed: %s", type(exc).__name__)
                failed = True
                break
            for torrent in results:
                if torrent.info_hash in hashes:
                    return True, torrent.page_url(self.base_url)
        return (None if failed else False), None

    async def find(self, draft: UploadDraft) -> tuple[bool | None, str | None]:
        """Whether La Cale has this file: True/False, or None when it could not be told.

        Search lists approved torrents only (and the server caches answers ~30 s), so the
        download route is asked for each candidate hash as well: 404 means absent."""
        hashes = await self.hashes(draft)
        found, link = await self.search_titles(draft, hashes)
        if found:
            return True, link
        unknown = found is None
        client = self._access.client(draft.api_key)
        for info_hash in sorted(hashes):
            try:
                await client.download_torrent(info_hash)  # carries the passkey: dropped at once
            except NotFound:
                continue
            except LaCaleError as exc:
                # Each check already retries; when one fails La Cale is not answering, and
                # asking for the other hashes would keep the member waiting for nothing.
                log.info("download check failed: %s", type(exc).__name__)
                unknown = True
                break
            return True, download_url(self.base_url, info_hash)
        return (None if unknown else False), None

    async def existing_link(self, draft: UploadDraft) -> str | None:
        """After a 409: the existing torrent's link when a search by title finds it."""
        found, link = await self.search_titles(draft, await self.hashes(draft))
        return link if found else None
