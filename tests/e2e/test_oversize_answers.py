"""An answer from La Cale far larger than any real one (a broken proxy, a hostile server)
is refused while it streams in, and the member reads one short message in their
language instead of the bot swelling by the answer's size."""

from __future__ import annotations

import asyncio

import pytest

from bot.lacale.client import MAX_JSON_BYTES, MAX_TORRENT_BYTES
from tests.e2e.conftest import VigieWorld
from tests.fakes.lacale import DOWNLOAD, SEARCH

pytestmark = pytest.mark.asyncio

MIB = 1024 * 1024


async def _stream_ended(world: VigieWorld, count: int) -> None:
    async def until() -> None:
        while world.lacale.streams_finished < count:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(until(), timeout=30)


async def test_oversize_search_and_download_answered_in_the_members_language(world: VigieWorld) -> None:
    w = world
    await w.register_key()
    personal = w.lacale.add_key()
    await w.register_member_key(w.member, personal)

    w.lacale.oversize_next(SEARCH, 200 * MIB, chunked=True)
    rec = await w.invoke("search", by=w.member, query="dune", locale="fr")
    answer = (await rec.wait_final())["content"]
    assert "bien plus volumineuse que prévu" in answer and "Error id" not in answer
    await _stream_ended(w, 1)
    assert w.lacale.streamed_bytes < MAX_JSON_BYTES + 16 * MIB

    w.lacale.add_torrent("Dune.2021.1080p")
    rec = await w.invoke("search", by=w.member, query="dune")
    await rec.wait_final()
    details = await w.discord.select(rec, "search:details", ["0"], by=w.member)
    await details.wait_final()
    w.lacale.streamed_bytes = 0
    w.lacale.oversize_next(DOWNLOAD, 200 * MIB, start=b"d8:announce", content_type="application/x-bittorrent")
    download = await w.discord.click(details, "search:download", by=w.member)
    answer = (await download.wait_final())["content"]
    assert "far larger than expected" in answer and download.ephemeral
    await _stream_ended(w, 2)
    assert w.lacale.streamed_bytes < MAX_TORRENT_BYTES + 16 * MIB
