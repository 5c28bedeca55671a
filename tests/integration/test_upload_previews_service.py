"""UploadService with real keys in a real database and the fake La Cale: Confirm
authorises again and checks the key (issue 9, item 2); open previews are bounded per
member and in bytes, and released when they end (item 6)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.errors import UserError
from bot.services.uploads import PreviewClosed, Uploader, UploadService, UploadStatus
from bot.services.uploads.limits import NFO_MAX_BYTES
from tests.fakes.lacale import UPLOAD
from tests.integration.test_upload_service import ADMIN, GUILD, KEY, MEMBER, MEMBER_KEY, UPLOADER_ROLE, Env, env  # noqa: F401
from tests.support.torrent_factory import make_torrent

ADMIN_RIGHTS = Uploader(GUILD, ADMIN, can_manage_guild=True, role_ids=frozenset())
UPLOADER_RIGHTS = Uploader(GUILD, MEMBER, can_manage_guild=False, role_ids=frozenset({UPLOADER_ROLE}))


async def preview(env: Env, uploader: Uploader, name: str = "Dune.Part.Two.2024.1080p.BluRay.x264", **options: Any):  # type: ignore[no-untyped-def]
    """What /upload does: authorise, then prepare with the key it gave."""
    key = await env.service.authorize_uploader(uploader)
    return await env.draft(make_torrent(name, source="lacale"), key=key, user_id=uploader.user_id, **options)


async def refused_at_confirm(env: Env, draft: Any, uploader: Uploader) -> PreviewClosed:
    with pytest.raises(PreviewClosed) as caught:
        await env.service.confirm(draft, uploader)
    assert env.fake.count(UPLOAD) == 0, "nothing may reach La Cale"
    assert not env.service.previews.is_open(draft.id) and env.service.previews.held_bytes == 0
    return caught.value


# -- item 2: Confirm re-checks who may upload, with which key --------------------------------------
async def test_confirm_after_the_server_key_was_removed_sends_nothing(env: Env) -> None:
    await env.guilds.register_guild_key(GUILD, KEY, ADMIN)
    draft = await preview(env, ADMIN_RIGHTS)
    assert env.service.previews.is_open(draft.id)
    assert await env.guilds.remove_guild_key(GUILD)
    closed = await refused_at_confirm(env, draft, ADMIN_RIGHTS)
    assert closed.key == "upload.closed.key_removed" and closed.values == {"fingerprint": draft.key_fingerprint}


async def test_confirm_after_the_upload_role_was_cleared_sends_nothing(env: Env) -> None:
    await env.guilds.register_guild_key(GUILD, KEY, ADMIN)
    await env.guilds.set_upload_role(GUILD, UPLOADER_ROLE)
    draft = await preview(env, UPLOADER_RIGHTS)
    await env.guilds.set_upload_role(GUILD, None)
    closed = await refused_at_confirm(env, draft, UPLOADER_RIGHTS)
    assert closed.key == "upload.closed.not_allowed"


async def test_confirm_after_the_member_lost_the_role_sends_nothing(env: Env) -> None:
    await env.guilds.register_guild_key(GUILD, KEY, ADMIN)
    await env.guilds.set_upload_role(GUILD, UPLOADER_ROLE)
    draft = await preview(env, UPLOADER_RIGHTS)
    # The role is read from the Confirm click itself, not remembered from the preview.
    closed = await refused_at_confirm(env, draft, Uploader(GUILD, MEMBER, can_manage_guild=False, role_ids=frozenset()))
    assert closed.key == "upload.closed.not_allowed"


async def test_confirm_after_the_server_key_was_replaced_sends_nothing(env: Env) -> None:
    await env.guilds.register_guild_key(GUILD, KEY, ADMIN)
    draft = await preview(env, ADMIN_RIGHTS)
    await env.guilds.register_guild_key(GUILD, MEMBER_KEY, ADMIN)
    closed = await refused_at_confirm(env, draft, ADMIN_RIGHTS)
    assert closed.key == "upload.closed.key_replaced" and closed.values["fingerprint"] == draft.key_fingerprint


async def test_confirm_with_another_key_than_the_preview_named_sends_nothing(env: Env) -> None:
    await env.guilds.register_guild_key(GUILD, KEY, ADMIN)
    draft = await preview(env, ADMIN_RIGHTS)
    # A personal key registered meanwhile would now come first: not the account shown.
    await env.guilds.keys.set_member_key(ADMIN, MEMBER_KEY, GUILD)
    closed = await refused_at_confirm(env, draft, ADMIN_RIGHTS)
    assert closed.key == "upload.closed.key_changed"
    assert closed.values == {"fingerprint": draft.key_fingerprint, "current": env.guilds._vault.fingerprint(MEMBER_KEY)}


async def test_confirm_after_the_personal_key_was_removed_sends_nothing(env: Env) -> None:
    await env.guilds.register_guild_key(GUILD, KEY, ADMIN)
    await env.guilds.keys.set_member_key(ADMIN, MEMBER_KEY, GUILD)
    draft = await preview(env, ADMIN_RIGHTS)
    assert draft.key_owner == "member"
    await env.guilds.keys.remove_member_key(ADMIN)
    closed = await refused_at_confirm(env, draft, ADMIN_RIGHTS)
    assert closed.key == "upload.closed.no_personal_key"


async def test_confirm_when_nothing_changed_uploads_and_releases(env: Env) -> None:
    await env.guilds.register_guild_key(GUILD, KEY, ADMIN)
    await env.guilds.set_upload_role(GUILD, UPLOADER_ROLE)
    draft = await preview(env, UPLOADER_RIGHTS)
    assert env.service.previews.held_bytes > 0
    outcome = await env.service.confirm(draft, UPLOADER_RIGHTS)
    assert outcome.status is UploadStatus.UPLOADED and env.fake.uploads[0].key == KEY
    assert env.service.previews.held_bytes == 0 and len(env.service.previews) == 0


async def test_leaving_the_server_closes_every_preview_there(env: Env) -> None:
    await env.guilds.register_guild_key(GUILD, KEY, ADMIN)
    await env.guilds.keys.set_member_key(MEMBER, MEMBER_KEY, GUILD)
    server = await preview(env, ADMIN_RIGHTS)
    personal = await preview(
        env, Uploader(GUILD, MEMBER, can_manage_guild=False, role_ids=frozenset()), "Other.Release"
    )
    heard: list[str] = []
    env.service.watch(server, lambda key, values: heard.append(key))
    env.service.watch(personal, lambda key, values: heard.append(key))
    await env.guilds.forget_guild(GUILD)
    assert heard == ["upload.closed.guild_left", "upload.closed.guild_left"]
    assert len(env.service.previews) == 0 and env.service.previews.held_bytes == 0
    with pytest.raises(PreviewClosed):
        await env.service.send(personal)
    assert env.fake.count(UPLOAD) == 0


# -- item 6: previews held in memory ------------------------------------------------------------------
async def test_a_member_opening_twelve_previews_holds_three(env: Env) -> None:
    await env.guilds.register_guild_key(GUILD, KEY, ADMIN)
    drafts = [await preview(env, ADMIN_RIGHTS, f"Release.{i}.1080p", nfo=b"N" * 60 + b"\n" * 10) for i in range(12)]
    previews = env.service.previews
    assert previews.of_member(ADMIN) == [d.id for d in drafts[-3:]]
    assert previews.held_bytes == sum(len(d.torrent.raw) + len(d.nfo or b"") for d in drafts[-3:])
    with pytest.raises(PreviewClosed) as caught:
        await env.service.confirm(drafts[0], ADMIN_RIGHTS)
    assert caught.value.key == "upload.closed.replaced" and env.fake.count(UPLOAD) == 0


async def test_budget_full_refuses_a_new_preview(env: Env) -> None:
    await env.guilds.register_guild_key(GUILD, KEY, ADMIN)
    await env.guilds.keys.set_member_key(MEMBER, MEMBER_KEY, GUILD)
    member = Uploader(GUILD, MEMBER, can_manage_guild=False, role_ids=frozenset())
    nfo = b"A" * 1000 + b"\n" + b"B" * (NFO_MAX_BYTES - 2000)
    drafts = [await preview(env, ADMIN_RIGHTS, f"Admin.{i}", nfo=nfo) for i in range(2)]
    previews = env.service.previews
    previews.budget_bytes = previews.held_bytes + 1000
    with pytest.raises(UserError) as caught:
        await preview(env, member, "Member.0", nfo=nfo)
    assert caught.value.key == "upload.preview.budget_full"
    assert len(previews) == 2 and previews.held_bytes <= previews.budget_bytes
    with pytest.raises(UserError):
        env.service.check_preview_room(MEMBER, len(nfo))  # what /upload asks before downloading
    # Released by a Cancel: there is room again.
    env.service.discard(drafts[0])
    await preview(env, member, "Member.0", nfo=nfo)
    assert previews.of_member(MEMBER) and previews.held_bytes <= previews.budget_bytes


async def test_budget_always_holds_one_upload_of_the_largest_size(env: Env) -> None:
    service = UploadService(
        env.sessions,
        env.guilds,
        env.access,
        env.service._meta,
        env.service._search,
        max_torrent_bytes=10 * 1024 * 1024,
        preview_budget_bytes=1024 * 1024,
    )
    assert service.previews.budget_bytes == 10 * 1024 * 1024 + NFO_MAX_BYTES


async def test_cancel_and_fixing_the_source_flag_account_bytes(env: Env) -> None:
    await env.guilds.register_guild_key(GUILD, KEY, ADMIN)
    key = await env.service.authorize_uploader(ADMIN_RIGHTS)
    draft = await env.draft(make_torrent("Unflagged.Release", source=None), key=key)
    fixed = await env.service.fix_source(draft)
    assert (
        env.service.previews.held_bytes
        == len(fixed.torrent.raw) + len(fixed.nfo or b"")
        != len(draft.torrent.raw) + len(draft.nfo or b"")
    )
    env.service.discard(fixed)
    assert env.service.previews.held_bytes == 0
