"""Memory held by open /upload previews (issue 9, item 6), on loopback.

Runs the real bot against the fake Discord and the fake La Cale (tests/fakes), then:
1. one member runs /upload 12 times in a row with a ~9.5 MiB .torrent and an NFO (before
   the fix: 12 previews, ~114 MiB held for 10 minutes);
2. ten members each run /upload twice at once: the byte budget (UPLOAD_PREVIEW_BUDGET_BYTES,
   64 MiB by default) decides how many open.

"held" is measured twice: what the service counts, and the bytes of every .torrent and
NFO still referenced by a live draft (found through the garbage collector).

    python -m benchmarks.upload_previews
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import VigieBot
from bot.services.uploads import UploadDraft
from tests.e2e.conftest import MANAGE_GUILD, run_bot, vigie_settings
from tests.fakes.discord import FakeDiscord
from tests.fakes.lacale import FakeLaCale
from tests.support.torrent_factory import make_torrent

MIB = 1024 * 1024
FILMS_HD = "cmv0aa1fhd000003hd8x1v6q"
NFO = ("Release notes\n" + "=" * 60 + "\n" + "Video: x264 1080p\n" * 2000).encode()


def big_torrent(name: str) -> bytes:
    # 16 KiB pieces: 20 bytes of piece hashes per 16 KiB of content -> ~9.5 MiB of .torrent.
    return make_torrent(name, source="lacale", size=int(9.5 * MIB / 20) * 16384, piece_size=16384)


def live_draft_bytes() -> int:
    """Bytes of .torrent and NFO buffers still referenced by any live draft."""
    gc.collect()
    seen: set[int] = set()
    total = 0
    for obj in gc.get_objects():
        if isinstance(obj, UploadDraft):
            for buf in (obj.torrent.raw, obj.nfo or b""):
                if buf and id(buf) not in seen:
                    seen.add(id(buf))
                    total += len(buf)
    return total


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeDiscord() as discord_fake, FakeLaCale() as lacale:
            guild = discord_fake.add_guild(name="Bench")
            channel = discord_fake.add_channel(guild, "general")
            admin = discord_fake.add_member(guild, name="admin", permissions=MANAGE_GUILD, locale="en-US")
            members = [
                discord_fake.add_member(guild, name=f"m{i}", permissions=MANAGE_GUILD, locale="en-US")
                for i in range(10)
            ]
            settings = vigie_settings(Path(tmp), discord_fake, lacale, guild.id, log_level="WARNING")
            async with run_bot(VigieBot(settings), discord_fake) as bot:
                opened = await discord_fake.invoke("setup key", by=admin, in_channel=channel)
                await opened.wait_response()
                await (
                    await discord_fake.submit_modal(opened, {"vigie:secret:apikey": lacale.default_key}, by=admin)
                ).wait_final()
                # (None on code without the preview bookkeeping: the "before" figures.)
                previews = getattr(bot.services.uploads, "previews", None)

                async def upload(by: object, name: str) -> str:
                    rec = await discord_fake.invoke(
                        "upload",
                        by=by,
                        in_channel=channel,
                        category=FILMS_HD,
                        torrent=discord_fake.add_attachment(f"{name}.torrent", big_torrent(name)),
                        nfo=discord_fake.add_attachment("release.nfo", NFO),
                    )
                    final = await rec.wait_final(timeout=60)
                    return "preview" if final.get("components") else (final.get("content") or "")[:60]

                started = time.perf_counter()
                one = [await upload(admin, f"Release.{i:02d}.1080p") for i in range(12)]
                elapsed = time.perf_counter() - started
                await asyncio.sleep(0.2)  # the closed previews' edits
                live_one = live_draft_bytes()
                held_one = previews.held_bytes if previews else live_one
                open_one = len(previews) if previews else one.count("preview")

                if previews:
                    for draft_id in list(previews.of_member(admin.id)):
                        previews.release(draft_id)
                many = await asyncio.gather(
                    *(upload(m, f"Member{i}.{j}.1080p") for i, m in enumerate(members) for j in range(2))
                )
                live_many = live_draft_bytes() - live_one
                held_many = previews.held_bytes if previews else live_many
                open_many = len(previews) if previews else many.count("preview")
                budget = previews.budget_bytes if previews else 0
                refused = [r for r in many if r != "preview"]

    print("upload preview memory benchmark (real bot, fake Discord and fake La Cale on loopback)")
    print(f"  .torrent size                  : {len(big_torrent('x')) / MIB:.1f} MiB (+ {len(NFO) / 1024:.0f} KiB NFO)")
    print(f"  one member, 12 /upload in {elapsed:4.1f} s: {one.count('preview')} previews shown, {open_one} still open")
    print(f"    held (service count)         : {held_one / MIB:6.1f} MiB")
    print(f"    held (live draft buffers)    : {live_one / MIB:6.1f} MiB")
    print(
        f"  ten members x 2 /upload at once: {len(many) - len(refused)} opened, {len(refused)} refused, {open_many} open"
    )
    print(f"    held (service count)         : {held_many / MIB:6.1f} MiB   (budget {budget / MIB:.0f} MiB)")
    if refused:
        print(f"    refusal                      : {refused[0]!r}")


if __name__ == "__main__":
    asyncio.run(main())
