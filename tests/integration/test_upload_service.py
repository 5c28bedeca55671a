"""UploadService against the fake La Cale and a real SQLite database: one request per
upload with repeated tags, the source flag, 409/429/403/400, timeouts checked before any
resend, the double-click guard, and the records."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_database
from bot.db.models import UploadRecord
from bot.errors import UserError
from bot.lacale import LaCaleClient, UploadFile, UploadRequest
from bot.services.guilds import GuildService
from bot.services.keys import ResolvedKey
from bot.services.lacale_access import LaCaleAccess, MetaCache
from bot.services.search import MemberCooldown, SearchService
from bot.services.uploads import UploadDraft, UploadOutcome, UploadService, UploadStatus
from bot.services.vault import KeyVault
from bot.torrents import read_torrent
from tests.fakes.lacale import DOWNLOAD, SEARCH, UPLOAD, FakeLaCale
from tests.support.torrent_factory import make_torrent

KEY = "vigie-upload-key-5b2e8d1c0a9f7364"
MEMBER_KEY = "vigie-member-key-9d8c7b6a5f4e3d2c"
READ_ONLY_KEY = "vigie-readonly-key-1a2b3c4d5e6f7a8b"
GUILD = 111
ADMIN = 1
MEMBER = 2
UPLOADER_ROLE = 77
FILMS_HD = "cmv0aa1fhd000003hd8x1v6q"
TAG_1080P = "cmv0tt1p108000001gh4ij5k"
TAG_VFF = "cmv0tt1vff0000005mn6op7q"
TAG_X264 = "cmv0tt1x264000004bc2de3f"
NFO = ("Release.Name.2025.1080p.BluRay.x264\n\nVideo : x264 1080p\nAudio : Français AC3 5.1\n").encode()


@dataclass
class Env:
    fake: FakeLaCale
    sessions: async_sessionmaker[AsyncSession]
    access: LaCaleAccess
    guilds: GuildService
    service: UploadService

    def key(self, api_key: str = KEY, owner: str = "guild") -> ResolvedKey:
        return ResolvedKey(api_key, self.guilds._vault.fingerprint(api_key), owner)  # type: ignore[arg-type]

    async def draft(
        self, data: bytes | None = None, *, key: ResolvedKey | None = None, user_id: int = ADMIN, **options: object
    ) -> UploadDraft:
        values: dict[str, object] = {
            "category": FILMS_HD,
            "tags": "1080p, VFF, x264",
            "nfo": NFO,
            "nfo_filename": "release.nfo",
        }
        values.update(options)
        return await self.service.prepare(
            key=key or self.key(),
            user_id=user_id,
            guild_id=GUILD,
            torrent=data if data is not None else make_torrent("Dune.Part.Two.2024.1080p.BluRay.x264", source="lacale"),
            torrent_filename="Dune.Part.Two.2024.1080p.BluRay.x264.torrent",
            **values,  # type: ignore[arg-type]
        )

    async def records(self) -> list[UploadRecord]:
        async with self.sessions() as session:
            return list(await session.scalars(select(UploadRecord).order_by(UploadRecord.id)))


def same_answer(again: UploadOutcome, first: UploadOutcome) -> bool:
    """A final outcome answered again: the same answer (the files themselves are let go)."""
    return (
        again.status,
        again.link,
        again.record_id,
        again.after_timeout,
        again.draft.id,
        again.draft.torrent.info_hash,
    ) == (first.status, first.link, first.record_id, first.after_timeout, first.draft.id, first.draft.torrent.info_hash)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with FakeLaCale(keys=[KEY]) as fake:
        fake.add_key(MEMBER_KEY)
        fake.add_key(READ_ONLY_KEY, scopes={"read"})
        engine: AsyncEngine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'vigie.sqlite3'}")
        await upgrade_database(engine)
        sessions = create_sessionmaker(engine)
        async with aiohttp.ClientSession() as http:
            access = LaCaleAccess(
                http, fake.base_url, timeout=2.0, search_interval=0.0, backoff_base=0.01, max_retries=1
            )
            meta = MetaCache(access)
            guilds = GuildService(sessions, KeyVault(base64.urlsafe_b64encode(b"k" * 32)), access, meta)
            search = SearchService(access, meta, MemberCooldown(100))
            service = UploadService(sessions, guilds, access, meta, search, verify_delay=0.0)
            try:
                yield Env(fake, sessions, access, guilds, service)
            finally:
                service.close()  # its torrent workers
        await engine.dispose()


# -- a good upload ---------------------------------------------------------------------------
async def test_good_upload_sends_one_request_with_repeated_tags_and_the_nfo(env: Env) -> None:
    draft = await env.draft(
        description="Le film.", tmdb="693134", tmdb_type="MOVIE", cover_url="https://image.tmdb.org/t/p/w500/x.jpg"
    )
    assert draft.title == "Dune.Part.Two.2024.1080p.BluRay.x264"
    assert draft.category_label == "Vidéo › Films › Films HD"
    assert draft.tag_ids == (TAG_1080P, TAG_VFF, TAG_X264)
    assert draft.nfo_excerpt is not None and "Français" in draft.nfo_excerpt
    assert KEY not in repr(draft)
    assert env.fake.count(UPLOAD) == 0  # preparing sends nothing

    outcome = await env.service.send(draft)

    assert outcome.status is UploadStatus.UPLOADED and outcome.final
    assert env.fake.count(UPLOAD) == 1
    (seen,) = env.fake.uploads
    assert seen.accepted and seen.key == KEY
    assert seen.tags == [TAG_1080P, TAG_VFF, TAG_X264]  # three separate `tags` fields
    assert seen.fields["tmdbType"] == ["MOVIE"] and seen.fields["tmdbId"] == ["693134"]
    assert seen.fields["coverUrl"] == ["https://image.tmdb.org/t/p/w500/x.jpg"]
    assert seen.fields["description"] == ["Le film."]
    assert seen.files["nfoFile"].content == NFO and seen.files["nfoFile"].filename == "release.nfo"
    assert seen.info_hash == draft.torrent.info_hash and not seen.source_flag_added
    assert outcome.link == f"{env.fake.base_url}/torrents/{seen.slug}"
    assert outcome.fixed_torrent is None

    (record,) = await env.records()
    assert (record.outcome, record.link, record.info_hash, record.user_id, record.guild_id) == (
        "uploaded",
        outcome.link,
        draft.torrent.info_hash,
        ADMIN,
        GUILD,
    )
    assert record.key_fingerprint == draft.key_fingerprint and record.finished_at is not None
    assert KEY not in (record.detail or "") + (record.link or "")

    # Confirm pressed again after the end: the same answer, nothing sent.
    # (The remembered answer no longer holds the files: the preview's bytes were released.)
    again = await env.service.send(draft)
    assert same_answer(again, outcome) and not again.draft.torrent.raw and env.fake.count(UPLOAD) == 1


async def test_default_title_is_the_cleaned_torrent_name(env: Env) -> None:
    draft = await env.draft(make_torrent("Some.Show.S01E01.1080p.mkv", source="lacale"), tags=None)
    assert draft.title == "Some.Show.S01E01.1080p" and draft.tags == ()


async def test_changed_tags_are_sent(env: Env) -> None:
    draft = await env.draft()
    draft = env.service.with_tags(draft, [TAG_VFF])
    with pytest.raises(UserError, match="upload.tags.unknown"):
        env.service.with_tags(draft, ["not-an-option"])
    await env.service.send(draft)
    assert env.fake.uploads[0].tags == [TAG_VFF]


# -- the source flag ------------------------------------------------------------------------------
async def test_source_flag_fixed_before_upload(env: Env) -> None:
    original = make_torrent("Arcane.S02.MULTi.1080p.WEB", source=None)
    draft = await env.draft(original)
    assert draft.needs_source_fix and not draft.source_fixed

    fixed = await env.service.fix_source(draft)
    assert fixed.id == draft.id and fixed.source_fixed and not fixed.needs_source_fix
    assert fixed.torrent.info_hash != draft.torrent.info_hash
    assert fixed.original_info_hash == draft.torrent.info_hash
    outcome = await env.service.send(fixed)

    assert outcome.status is UploadStatus.UPLOADED
    returned = outcome.fixed_torrent
    assert returned is not None
    info = read_torrent(returned)
    assert info.source == "lacale" and info.info_hash == fixed.torrent.info_hash
    (seen,) = env.fake.uploads
    # What the site stored is exactly the file handed back: nothing to re-download.
    assert seen.info_hash == info.info_hash == seen.stored_hash and not seen.source_flag_added
    assert (await env.records())[0].source_fixed


async def test_unfixed_upload_gets_another_hash_on_the_site_as_predicted(env: Env) -> None:
    draft = await env.draft(make_torrent("Unfixed.Release.1080p", source="other"))
    outcome = await env.service.send(draft)
    assert outcome.status is UploadStatus.UPLOADED and outcome.fixed_torrent is None
    (seen,) = env.fake.uploads
    assert seen.source_flag_added
    # The fixed file Vigie would have produced has exactly the site's hash.
    fixed = await env.service.fix_source(draft)
    assert fixed.torrent.info_hash == seen.stored_hash


# -- 409 ---------------------------------------------------------------------------------------------
async def test_duplicate_reports_the_existing_torrent_link(env: Env) -> None:
    data = make_torrent("Already.There.2024.1080p", source="lacale")
    async with LaCaleClient(MEMBER_KEY, base_url=env.fake.base_url) as other:
        await other.upload(UploadRequest("Already.There.2024.1080p", FILMS_HD, UploadFile("a.torrent", data)))
    draft = await env.draft(data)

    outcome = await env.service.send(draft)

    assert outcome.status is UploadStatus.DUPLICATE and outcome.final
    assert outcome.link is not None and outcome.link.startswith(env.fake.base_url)
    assert draft.torrent.info_hash in outcome.link and "apikey" not in outcome.link and KEY not in outcome.link
    assert [u.status for u in env.fake.uploads] == [200, 409]
    assert (await env.records())[-1].outcome == "duplicate"


async def test_duplicate_without_a_search_hit_has_no_link(env: Env) -> None:
    data = make_torrent("Named.Differently", source="lacale")
    async with LaCaleClient(MEMBER_KEY, base_url=env.fake.base_url) as other:
        await other.upload(UploadRequest("Zzz", FILMS_HD, UploadFile("a.torrent", data)))
    outcome = await env.service.send(await env.draft(data, title="Completely other words"))
    assert outcome.status is UploadStatus.DUPLICATE and outcome.link is None


async def test_second_preview_of_an_uploaded_file_sends_nothing(env: Env) -> None:
    data = make_torrent("Once.Only.2024", source="lacale")
    first = await env.service.send(await env.draft(data))
    second = await env.service.send(await env.draft(data, user_id=MEMBER))
    assert first.status is UploadStatus.UPLOADED
    assert second.status is UploadStatus.DUPLICATE and second.link
    assert env.fake.count(UPLOAD) == 1


# -- 429 ------------------------------------------------------------------------------------------------
async def test_rate_limited_keeps_the_draft_ready(env: Env) -> None:
    draft = await env.draft()
    env.fake.fail_next(UPLOAD, status=429, retry_after=7)

    outcome = await env.service.send(draft)

    assert outcome.status is UploadStatus.RATE_LIMITED and not outcome.final
    assert outcome.retry_after == pytest.approx(7, abs=1)
    assert env.service.final_outcome(draft) is None and not env.service.is_sending(draft)
    # Pressed again too soon: refused by Vigie itself, La Cale is not asked.
    again = await env.service.send(draft)
    assert again.status is UploadStatus.RATE_LIMITED and env.fake.count(UPLOAD) == 1
    # Once the wait is over, the same draft goes through.
    env.access.limiters.forget(KEY)
    done = await env.service.send(draft)
    assert done.status is UploadStatus.UPLOADED and len(env.fake.accepted_uploads) == 1
    assert [r.outcome for r in await env.records()] == ["rate_limited", "rate_limited", "uploaded"]


# -- 403 and 400 -------------------------------------------------------------------------------------
async def test_key_without_upload_scope(env: Env) -> None:
    draft = await env.draft(key=env.key(READ_ONLY_KEY, "member"))
    outcome = await env.service.send(draft)
    assert outcome.status is UploadStatus.KEY_REFUSED and outcome.final
    assert draft.key_owner == "member"
    assert (await env.records())[0].outcome == "key_refused"
    assert not env.fake.accepted_uploads


async def test_refused_by_la_cale_keeps_the_draft(env: Env) -> None:
    env.fake.require_nfo = True
    draft = await env.draft(nfo=None)
    outcome = await env.service.send(draft)
    assert outcome.status is UploadStatus.REFUSED and not outcome.final
    assert outcome.message and "nfoFile" in outcome.message


# -- timeouts ------------------------------------------------------------------------------------------
async def test_timeout_after_which_la_cale_has_the_torrent(env: Env) -> None:
    draft = await env.draft()
    env.access.timeout = 0.3
    env.fake.answer_late_next(UPLOAD, 1.5)  # stored, then the answer is held past the timeout

    outcome = await env.service.send(draft)

    assert outcome.status is UploadStatus.UPLOADED and outcome.after_timeout and outcome.final
    assert outcome.link and KEY not in outcome.link
    assert env.fake.count(UPLOAD) == 1 and len(env.fake.uploads) == 1
    (record,) = await env.records()
    assert record.outcome == "uploaded" and "timeout" in (record.detail or "")
    assert same_answer(await env.service.send(draft), outcome) and env.fake.count(UPLOAD) == 1


async def test_server_error_then_not_on_la_cale_may_be_sent_again(env: Env) -> None:
    draft = await env.draft()
    env.fake.fail_next(UPLOAD, status=502)
    outcome = await env.service.send(draft)
    assert outcome.status is UploadStatus.NOT_STORED and not outcome.final
    assert env.fake.count(DOWNLOAD) >= 1  # it looked before offering to retry
    again = await env.service.send(draft)
    assert again.status is UploadStatus.UPLOADED and env.fake.count(UPLOAD) == 2
    assert [r.outcome for r in await env.records()] == ["not_stored", "uploaded"]


async def test_the_check_after_a_timeout_is_not_refused_by_the_members_next_file(env: Env) -> None:
    """One file per member in the torrent pool is for the files they attach: checking La
    Cale after a timed-out upload (which computes the site's hash in the pool) goes on while
    the same member's next .torrent is being read."""
    draft = await env.draft(make_torrent("Unflagged.Release.2024", source="other"))  # its site hash is computed
    env.access.timeout = 0.3
    env.fake.answer_late_next(UPLOAD, 1.5)
    # The member's next /upload, still being read in the pool.
    reading = asyncio.create_task(env.service.torrent_pool.run(time.sleep, 5.0, owner=ADMIN))
    await asyncio.sleep(0)
    assert env.service.torrent_pool.busy(ADMIN)
    try:
        outcome = await env.service.send(draft)
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
    assert outcome.status is UploadStatus.UPLOADED and outcome.after_timeout and outcome.final
    assert env.fake.count(UPLOAD) == 1


async def test_timeout_that_cannot_be_checked_is_checked_before_any_resend(env: Env) -> None:
    data = make_torrent("Unlucky.Release.2024", source="lacale")
    draft = await env.draft(data)
    env.access.timeout = 0.3
    env.fake.answer_late_next(UPLOAD, 1.5)
    env.fake.fail_next(SEARCH, status=503, times=50)
    env.fake.fail_next(DOWNLOAD, status=503, times=50)

    outcome = await env.service.send(draft)
    assert outcome.status is UploadStatus.UNVERIFIED and not outcome.final
    # Still cannot look: still nothing sent.
    assert (await env.service.send(draft)).status is UploadStatus.UNVERIFIED
    env.fake.clear_faults()
    env.access.timeout = 2.0
    # Even a new preview of the same file (the first one expired) checks first.
    fresh = await env.draft(data, user_id=MEMBER)
    final = await env.service.send(fresh)
    assert final.status is UploadStatus.UPLOADED and final.after_timeout
    assert env.fake.count(UPLOAD) == 1
    assert [r.outcome for r in await env.records()] == ["uploaded"]


# -- double confirm ------------------------------------------------------------------------------------
async def test_double_confirm_sends_once(env: Env) -> None:
    draft = await env.draft()
    env.fake.delay_next(UPLOAD, 0.2)
    results = await asyncio.gather(env.service.send(draft), env.service.send(draft), return_exceptions=True)
    outcomes = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(outcomes) == 1 and outcomes[0].status is UploadStatus.UPLOADED
    assert len(errors) == 1 and isinstance(errors[0], UserError) and errors[0].key == "upload.in_progress"
    assert env.fake.count(UPLOAD) == 1


async def test_two_previews_of_one_file_in_flight_send_once(env: Env) -> None:
    data = make_torrent("Same.File.Twice", source=None)
    first = await env.draft(data)
    second = await env.service.fix_source(await env.draft(data, user_id=MEMBER))
    env.fake.delay_next(UPLOAD, 0.2)
    results = await asyncio.gather(env.service.send(first), env.service.send(second), return_exceptions=True)
    assert sum(isinstance(r, UserError) for r in results) == 1
    assert env.fake.count(UPLOAD) == 1


# -- who uploads with which key ---------------------------------------------------------------------
async def test_authorize(env: Env) -> None:
    service, guilds = env.service, env.guilds
    with pytest.raises(UserError, match="upload.not_allowed"):
        await service.authorize(GUILD, MEMBER, can_manage_guild=False, role_ids=set())
    with pytest.raises(UserError, match="upload.no_server_key"):
        await service.authorize(GUILD, ADMIN, can_manage_guild=True, role_ids=set())
    await guilds.register_guild_key(GUILD, KEY, ADMIN)
    assert (await service.authorize(GUILD, ADMIN, can_manage_guild=True, role_ids=set())).owner == "guild"
    with pytest.raises(UserError, match="upload.not_allowed"):
        await service.authorize(GUILD, MEMBER, can_manage_guild=False, role_ids={UPLOADER_ROLE})
    await guilds.set_upload_role(GUILD, UPLOADER_ROLE)
    key = await service.authorize(GUILD, MEMBER, can_manage_guild=False, role_ids={UPLOADER_ROLE, 5})
    assert key.owner == "guild" and key.api_key == KEY
    with pytest.raises(UserError, match="upload.not_allowed_dm"):
        await service.authorize(None, MEMBER, can_manage_guild=False, role_ids=set())
    # A personal key: no role needed, their own account, in a server or in DMs.
    await guilds.keys.set_member_key(MEMBER, MEMBER_KEY, GUILD)
    for guild_id in (GUILD, None):
        mine = await service.authorize(guild_id, MEMBER, can_manage_guild=False, role_ids=set())
        assert mine.owner == "member" and mine.api_key == MEMBER_KEY


async def test_personal_key_upload_goes_out_under_that_key(env: Env) -> None:
    await env.guilds.keys.set_member_key(MEMBER, MEMBER_KEY, GUILD)
    key = await env.service.authorize(GUILD, MEMBER, can_manage_guild=False, role_ids=set())
    outcome = await env.service.send(await env.draft(key=key, user_id=MEMBER))
    assert outcome.status is UploadStatus.UPLOADED
    assert env.fake.uploads[0].key == MEMBER_KEY
    (record,) = await env.records()
    assert record.key_fingerprint == key.fingerprint and record.user_id == MEMBER


# -- records ---------------------------------------------------------------------------------------------
async def test_recent_lists_a_members_attempts_newest_first(env: Env) -> None:
    env.fake.fail_next(UPLOAD, status=429, retry_after=0)
    first = await env.draft(make_torrent("First.Release", source="lacale"))
    await env.service.send(first)
    await env.service.send(first)
    await env.service.send(await env.draft(make_torrent("Other.Member", source="lacale"), user_id=MEMBER))
    mine = await env.service.recent(ADMIN)
    assert [(r.title, r.outcome) for r in mine] == [("First.Release", "uploaded"), ("First.Release", "rate_limited")]
    assert mine[0].link and mine[0].key_fingerprint
    assert [r.title for r in await env.service.recent(MEMBER)] == ["Other.Member"]
