"""/upload with hostile .torrent files (issue 9, item 5), through the fake Discord and the
fake La Cale: each cap refused with its own message, torrents read outside the event loop's
default executor, a time limit, and one file in flight per member."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from torf import _flatbencode as bencode

from bot.torrent_pool import TorrentPool
from tests.e2e.conftest import MANAGE_GUILD, VigieWorld
from tests.e2e.test_upload import FILMS_HD, TITLE, fields
from tests.fakes.discord import FakeMember, InteractionRecord
from tests.fakes.lacale import UPLOAD
from tests.integration.test_torrent_pool import wait_for_file
from tests.support.torrent_factory import make_torrent

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def ready(world: VigieWorld) -> VigieWorld:
    await world.register_key()
    return world


async def start_upload(
    world: VigieWorld, torrent: bytes, *, by: FakeMember | None = None, locale: str = "en-US"
) -> InteractionRecord:
    rec = await world.invoke(
        "upload",
        by=by,
        locale=locale,
        torrent=world.discord.add_attachment(f"{TITLE}.torrent", torrent),
        category=FILMS_HD,
    )
    await rec.wait_response()
    assert rec.deferred and rec.ephemeral
    return rec


async def upload(
    world: VigieWorld, torrent: bytes, *, by: FakeMember | None = None, locale: str = "en-US", timeout: float = 20
) -> dict[str, Any]:
    return await (await start_upload(world, torrent, by=by, locale=locale)).wait_final(timeout=timeout)


def one_url_copied(copies: int) -> bytes:
    """The torrent of the issue: one tracker URL repeated in announce-list (~9 MiB)."""
    meta = bencode.decode(make_torrent(TITLE, source="lacale"))
    url = b"http://t.example/a?passkey=0123456789abcdef"
    meta[b"announce-list"] = [[url] * (copies // 2), [url] * (copies - copies // 2)]
    return bencode.encode(meta)


async def test_hostile_torrents_are_refused_each_with_its_own_message(ready: VigieWorld) -> None:
    world = ready
    hostile = one_url_copied(200_000)
    assert 8 << 20 < len(hostile) < 10 << 20
    cases = [
        (hostile, "en-US", "lists more than 200 tracker addresses"),
        (
            make_torrent(TITLE, files=[(f"f{i}", 1) for i in range(10_001)]),
            "en-US",
            "holds more than 10\u202f000 files",
        ),
        (make_torrent(TITLE, files=[("/".join(["d"] * 70), 1), ("b", 1)]), "en-US", "more than 64 levels deep"),
        (make_torrent("N" * 5000), "en-US", "longer than 1\u202f024 bytes"),
        (
            make_torrent(TITLE, files=[(f"f{i}", 1) for i in range(10_001)]),
            "fr",
            "contient plus de 10\u202f000 fichiers",
        ),
        (hostile, "fr", "plus de 200 adresses de trackers"),
    ]
    for torrent, locale, expected in cases:
        message = await upload(world, torrent, locale=locale)
        assert expected in message["content"], (expected, message["content"])
        assert not message.get("components"), "no preview for a refused torrent"
    assert world.lacale.count(UPLOAD) == 0
    # Still answering ordinary uploads.
    message = await upload(world, make_torrent(TITLE, source="lacale"))
    assert fields(message)["Title"] == TITLE


async def test_torrents_are_read_while_the_default_executor_is_saturated(ready: VigieWorld) -> None:
    """aiohttp resolves host names in the loop's default executor; six slow parses there
    stopped the bot opening connections. Here that executor's only thread is blocked for
    the whole test: an upload must still be read and previewed."""
    world = ready
    loop = asyncio.get_running_loop()
    blocked = threading.Event()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1, thread_name_prefix="default"))
    occupied = loop.run_in_executor(None, blocked.wait, 120)
    try:
        message = await upload(world, make_torrent(TITLE, source="lacale"), timeout=20)
        assert fields(message)["Title"] == TITLE
        assert not occupied.done(), "the default executor was free during the test"
    finally:
        blocked.set()
    await occupied


async def test_a_member_has_one_torrent_read_at_a_time(ready: VigieWorld, tmp_path: Path) -> None:
    world = ready
    assert world.bot is not None
    uploads = world.bot.services.uploads
    uploads.torrent_pool.close()
    uploads.torrent_pool = pool = TorrentPool(workers=1)
    other_admin = world.discord.add_member(world.guild, name="admin2", permissions=MANAGE_GUILD, locale="en-US")
    # The only worker is held (as by a slow file) until the test releases it.
    release = tmp_path / "release"
    holder = asyncio.create_task(pool.run(wait_for_file, str(release), 60.0, owner="test"))
    try:
        first = await start_upload(world, make_torrent(TITLE, source="lacale"))
        for _ in range(500):  # until the admin's first file waits for the worker
            if pool.busy(world.admin.id):
                break
            await asyncio.sleep(0.01)
        assert pool.busy(world.admin.id)
        second = await upload(world, make_torrent("Another.Release.1080p", source="lacale"))
        assert "Your previous .torrent is still being read" in second["content"]
        assert not second.get("components")
        # Keyed by member: another member's upload is not refused; it waits its turn.
        other = await start_upload(world, make_torrent("Other.Release.1080p", source="lacale"), by=other_admin)
        second_fr = await upload(world, make_torrent("Encore.Une.1080p", source="lacale"), locale="fr")
        assert "Votre .torrent précédent est encore en cours de lecture" in second_fr["content"]
    finally:
        release.touch()
        await holder
    assert fields(await first.wait_final(timeout=20))["Title"] == TITLE
    assert fields(await other.wait_final(timeout=20))["Title"] == "Other.Release.1080p"
    # The first file answered: the member may send the next one.
    assert (
        fields(await upload(world, make_torrent("Another.Release.1080p", source="lacale")))["Title"]
        == "Another.Release.1080p"
    )


async def test_reading_over_the_time_limit_is_stopped_with_a_message(ready: VigieWorld) -> None:
    world = ready
    assert world.bot is not None
    pool = world.bot.services.uploads.torrent_pool
    assert fields(await upload(world, make_torrent(TITLE, source="lacale")))["Title"] == TITLE  # workers up
    pool.time_limit = 0.05  # below what a 10,000-file torrent takes to read
    big = make_torrent(TITLE, files=[(f"Disc{i % 10}/Track{i}.flac", 1000) for i in range(10_000)])
    message = await upload(world, big)
    assert "Reading this .torrent took longer than 0.05 s, so Vigie stopped" in message["content"]
    assert pool.timeouts == 1
    pool.time_limit = 60.0
    # A fresh worker reads the next file.
    assert fields(await upload(world, make_torrent(TITLE, source="lacale")))["Title"] == TITLE
    assert world.lacale.count(UPLOAD) == 0
