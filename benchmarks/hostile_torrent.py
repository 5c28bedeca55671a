"""Hostile .torrent files (issue 9, item 5): the CPU it takes to answer the worst ~10 MiB
torrents, and another member's /search latency while six of them are processed.

1. Builds the worst files we could think of, each just under the 10 MiB upload cap: the
   issue's (one tracker URL repeated ~440,000 times), as many distinct URLs, the most files,
   the deepest paths, the most items torf accepts, huge integers, deep nesting, long
   names and URLs. Prints, for each, what reading it answers and the CPU it costs (what a
   worker process spends: ``read_torrent`` here, in this process), and for accepted ones
   the CPU of the Set source flag rewrite as well.
2. Runs the real bot against the fake Discord and the fake La Cale (on loopback; La Cale
   reached as ``localhost``, so host names are resolved as in production), then:
   * uploads the costliest file once, idle: wall time, and CPU of the bot's process
     (with both fakes: it includes serving the 10 MiB attachment) plus its workers;
   * /search latency of a member, idle (the baseline);
   * the same member's /search latency while six other members upload that file at once
     (one search every 50 ms: a busy member, not a load generator hogging the CPU).

    python -m benchmarks.hostile_torrent [--searches 30]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from torf import _flatbencode as bencode

from bot.app import VigieBot
from bot.torrent_pool import source_fix_job
from bot.torrents import (
    MAX_DEPTH,
    MAX_FILES,
    MAX_INT_DIGITS,
    MAX_ITEMS,
    MAX_NAME_BYTES,
    MAX_TRACKERS,
    TorrentFileError,
    read_torrent,
)
from tests.e2e.conftest import MANAGE_GUILD, run_bot, vigie_settings
from tests.fakes.discord import FakeDiscord
from tests.fakes.lacale import FakeLaCale

CAP = 10 * 1024 * 1024
FILMS_HD = "cmv0aa1fhd000003hd8x1v6q"
PIECE = 1 << 24
PACE = 0.05  # seconds between two searches of the searching member  # 16 MiB pieces: few piece hashes, the bytes go to the hostile part


# ---------------------------------------------------------------------------------------
# The files


MARK = b"@@hostile@@"


def s(value: bytes) -> bytes:
    return b"%d:%s" % (len(value), value)


def torrent(
    *,
    files: bytes | None = None,
    total: int = 1 << 20,
    junk: bytes | None = None,
    announce_list: bytes | None = None,
    comment: bytes | None = None,
    name: bytes = b"Hostile.Release.1080p",
) -> bytes:
    """A valid v1 torrent (pieces matching ``total``) with raw bencoded hostile parts:
    ``files`` (the list), ``junk`` (an unknown info key), ``announce_list``. Built by
    encoding a marker and splicing the raw bytes in: keys stay sorted, and a 10 MiB file
    takes milliseconds to build."""
    info: dict[bytes, Any] = {b"name": name, b"piece length": PIECE, b"private": 1}
    info[b"files" if files is not None else b"length"] = MARK + b"files" if files is not None else total
    info[b"pieces"] = hashlib.sha1(name, usedforsecurity=False).digest() * max(1, -(-total // PIECE))
    if junk is not None:
        info[b"junk"] = MARK + b"junk"
    meta: dict[bytes, Any] = {
        b"announce": b"https://tracker.la-cale.space/announce?passkey=0123456789abcdef",
        b"info": info,
    }
    if announce_list is not None:
        meta[b"announce-list"] = MARK + b"announce"
    if comment is not None:
        meta[b"comment"] = comment
    data = bencode.encode(meta)
    for key, raw in ((b"files", files), (b"junk", junk), (b"announce", announce_list)):
        if raw is not None:
            data = data.replace(s(MARK + key), raw, 1)
    return data


def budget(base: bytes) -> int:
    """Bytes left under the cap once ``base`` (the torrent around the hostile part) is in."""
    return CAP - len(base) - 64


def repeated(item: bytes, room: int) -> bytes:
    return item * (room // len(item))


def until_full(items: Callable[[int], bytes], room: int) -> tuple[bytes, int]:
    """``items(0) + items(1) + ...`` while it fits in ``room`` bytes; and the count."""
    parts: list[bytes] = []
    size = i = 0
    while True:
        item = items(i)
        if size + len(item) > room:
            return b"".join(parts), i
        parts.append(item)
        size += len(item)
        i += 1


def file_entry(path: list[bytes], length: int = 1) -> bytes:
    return b"d6:lengthi%de4:pathl%see" % (length, b"".join(s(p) for p in path))


def candidates() -> list[tuple[str, bytes]]:
    url = b"http://t.example/a?passkey=0123456789abcdef"
    room = budget(torrent(announce_list=b"lee", files=b"le", junk=b"le"))
    out: list[tuple[str, bytes]] = []
    out.append(("the issue's: one tracker URL repeated", torrent(announce_list=b"ll" + repeated(s(url), room) + b"ee")))
    urls, _ = until_full(lambda i: s(b"http://t%d.example/a" % i), room)
    out.append(("distinct tracker URLs", torrent(announce_list=b"ll" + urls + b"ee")))
    long = (room // MAX_TRACKERS) - 40
    urls = b"".join(s(b"https://t%d.example/" % i + b"a" * long) for i in range(MAX_TRACKERS))
    out.append((f"{MAX_TRACKERS} tracker URLs of ~{long // 1000} KB", torrent(announce_list=b"ll" + urls + b"ee")))
    files, n = until_full(lambda i: file_entry([b"%d" % i]), room)
    out.append(("tiny files, as many as fit", torrent(files=b"l" + files + b"e", total=n)))
    width = min(MAX_NAME_BYTES - 8, room // MAX_FILES - 40)
    files = b"".join(file_entry([b"%d" % i + b"x" * width]) for i in range(MAX_FILES))
    out.append(
        (f"{MAX_FILES} files (the cap), {width}-byte names", torrent(files=b"l" + files + b"e", total=MAX_FILES))
    )
    depth = MAX_DEPTH - 1
    nfiles = (MAX_ITEMS - 100) // (depth + 5)
    width = min(MAX_NAME_BYTES - 8, room // (nfiles * depth) - 8)
    files = b"".join(file_entry([b"%d" % i + b"d" * width] * depth) for i in range(nfiles))
    out.append((f"{nfiles} files x {depth}-level paths (items cap)", torrent(files=b"l" + files + b"e", total=nfiles)))
    out.append(("items cap in an unknown key: 1-digit ints", torrent(junk=b"l" + b"i1e" * (MAX_ITEMS - 20) + b"e")))
    long_ints = MAX_INT_DIGITS // 19 - 10
    ints = b"i%de" % 10**18 * long_ints + b"i1e" * (MAX_ITEMS - 20 - long_ints)
    out.append(("items cap in an unknown key: ints, digit budget spent", torrent(junk=b"l" + ints + b"e")))
    out.append(
        (
            "huge integers (4,300 digits), as many as fit",
            torrent(junk=b"l" + repeated(b"i" + b"9" * 4298 + b"e", room) + b"e"),
        )
    )
    out.append(("empty strings, as many as fit", torrent(junk=b"l" + repeated(b"0:", room) + b"e")))
    nest = b"l" * (MAX_DEPTH - 3) + b"i0e" + b"e" * (MAX_DEPTH - 3)
    out.append((f"nesting {MAX_DEPTH - 1} deep, repeated", torrent(junk=b"l" + repeated(nest, room) + b"e")))
    half = room // 2
    out.append(("nesting ~5,000,000 deep", torrent(junk=b"l" * half + b"e" * half)))
    out.append(("a 10 MiB name", torrent(name=b"N" * room)))
    out.append(
        ("a 10 MiB comment, a 1 KiB name", torrent(name=b"N" * MAX_NAME_BYTES, comment=b"c" * (room - MAX_NAME_BYTES)))
    )
    return out


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.process_time()
    try:
        result: Any = fn()
    except TorrentFileError as exc:
        result = exc
    return time.process_time() - started, result


def outcome(result: Any) -> str:
    if isinstance(result, TorrentFileError):
        return f"refused: {result.reason}"
    return f"accepted ({result.file_count} files, {len(result.announce)} trackers)"


# ---------------------------------------------------------------------------------------
# The bot


def worker_cpu(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (FileNotFoundError, IndexError, ValueError):
            pass
    return total


def stats(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return f"median {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   max {ordered[-1]:7.1f} ms   (n={len(ordered)})"


async def bot_part(worst: bytes, searches: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeDiscord() as discord_fake, FakeLaCale() as lacale:
            for i in range(500):
                lacale.add_torrent(f"Release.{i:04d}.Word{i % 37}.1080p.WEB", size=(i + 1) * 10**7)
            guild = discord_fake.add_guild(name="Bench")
            channel = discord_fake.add_channel(guild, "general")
            admin = discord_fake.add_member(guild, name="admin", permissions=MANAGE_GUILD, locale="en-US")
            uploaders = [
                discord_fake.add_member(guild, name=f"up{i}", permissions=MANAGE_GUILD, locale="en-US")
                for i in range(6)
            ]
            searcher = discord_fake.add_member(guild, name="searcher", locale="en-US")
            settings = vigie_settings(
                Path(tmp),
                discord_fake,
                lacale,
                guild.id,
                log_level="WARNING",
                search_cooldown_per_minute=10_000,
                lacale_base_url=lacale.base_url.replace("127.0.0.1", "localhost"),
            )
            async with run_bot(VigieBot(settings), discord_fake) as bot:
                opened = await discord_fake.invoke("setup key", by=admin, in_channel=channel)
                await opened.wait_response()
                await (
                    await discord_fake.submit_modal(opened, {"vigie:secret:apikey": lacale.default_key}, by=admin)
                ).wait_final()
                pool = bot.services.uploads.torrent_pool

                async def upload(member: Any, data: bytes) -> tuple[float, str]:
                    started = time.perf_counter()
                    rec = await discord_fake.invoke(
                        "upload",
                        by=member,
                        in_channel=channel,
                        category=FILMS_HD,
                        torrent=discord_fake.add_attachment("hostile.torrent", data),
                    )
                    message = await rec.wait_final(timeout=120)
                    answer = message.get("content") or (message.get("embeds") or [{}])[0].get("title", "")
                    return (time.perf_counter() - started) * 1000, answer

                async def search(i: int) -> float:
                    started = time.perf_counter()
                    rec = await discord_fake.invoke(
                        "search", by=searcher, in_channel=channel, query=f"word{i % 37} {i % 500:04d}"
                    )
                    await rec.wait_final(timeout=60)
                    return (time.perf_counter() - started) * 1000

                # Workers started (two at once), then the worst file answered, idle.
                small = bencode.encode(
                    {b"info": {b"name": b"Warm", b"length": 1, b"piece length": 16384, b"pieces": b"x" * 20}}
                )
                await asyncio.gather(upload(uploaders[0], small), upload(uploaders[1], small))
                cpu_before, workers_before = time.process_time(), worker_cpu(pool.worker_pids())
                wall, answer = await upload(admin, worst)
                main_cpu = time.process_time() - cpu_before
                parse_cpu = worker_cpu(pool.worker_pids()) - workers_before
                print("\nthe costliest file, uploaded through the bot (idle):")
                print(f"  answer                      : {answer[:110]}")
                print(f"  wall time                   : {wall:7.1f} ms")
                print(f"  CPU, worker process         : {parse_cpu * 1000:7.1f} ms")
                print(
                    f"  CPU, bot process + fakes    : {main_cpu * 1000:7.1f} ms  (includes serving and downloading the 10 MiB attachment)"
                )
                print(f"  CPU, total                  : {(parse_cpu + main_cpu) * 1000:7.1f} ms")

                async def searching(count: int | None, until: asyncio.Future[Any] | None = None) -> list[float]:
                    """A member searching every PACE seconds (a busy one, not a CPU hog)."""
                    latencies: list[float] = []
                    i = 0
                    while (count is not None and i < count) or (until is not None and (not until.done() or i < 5)):
                        latencies.append(await search(1000 + i))
                        i += 1
                        await asyncio.sleep(PACE)
                    return latencies

                await searching(5)  # warm the search path
                idle = await searching(searches)

                started = time.perf_counter()
                workers_before = worker_cpu(pool.worker_pids())
                uploads = asyncio.gather(*(upload(m, worst) for m in uploaders))
                during = await searching(None, uploads)
                results = await uploads
                elapsed = (time.perf_counter() - started) * 1000
                parse_cpu = worker_cpu(pool.worker_pids()) - workers_before

    print("\nsix members upload it at once while another member searches:")
    print(
        f"  six answers after           : {elapsed:7.1f} ms (slowest {max(r[0] for r in results):.1f} ms); worker CPU {parse_cpu * 1000:.1f} ms for the six"
    )
    print(f"  answers                     : {sorted({r[1][:70] for r in results})}")
    print(f"  /search idle (baseline)     : {stats(idle)}")
    print(f"  /search during the six      : {stats(during)}")


def main(searches: int) -> None:
    print(
        "hostile .torrent benchmark (caps: "
        f"{MAX_TRACKERS} tracker URLs, {MAX_FILES} files, depth {MAX_DEPTH}, names {MAX_NAME_BYTES} B, {MAX_ITEMS} items)"
    )
    print("\nCPU to read each file (what a worker spends; target < 1 s):")
    costliest: tuple[float, str, bytes] = (-1.0, "", b"")
    for label, data in candidates():
        assert len(data) <= CAP, (label, len(data))
        spent, result = cpu(lambda data=data: read_torrent(data))
        extra = ""
        if not isinstance(result, TorrentFileError):
            fix_cpu, _ = cpu(lambda result=result: source_fix_job(result))
            extra = f"; Set source flag {fix_cpu * 1000:6.1f} ms"
        print(f"  {label:<48} {len(data) / 2**20:5.2f} MiB  {spent * 1000:7.1f} ms  {outcome(result)}{extra}")
        if spent > costliest[0]:
            costliest = (spent, label, data)
    print(f"  costliest: {costliest[1]} ({costliest[0] * 1000:.1f} ms)")
    asyncio.run(bot_part(costliest[2], searches))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--searches", type=int, default=30)
    args = parser.parse_args()
    main(args.searches)
