"""Answers of any size: what a 200 MiB answer from La Cale costs the client. Prints its
figures; asserts nothing (the regression test is tests/integration/test_lacale_client.py).

    python benchmarks/oversize_answers.py            # 200 MiB answers
    python benchmarks/oversize_answers.py --mib 50   # smaller

For a search (JSON) and a .torrent download, each announced with a ``Content-Length`` and
sent chunked without one, the fake La Cale streams the body lazily and counts the bytes it
managed to write before the client hung up. Printed per case: the error the client
raised, those bytes, the client's peak traced Python memory (tracemalloc) and its CPU.
The process's peak RSS is printed at the end. Before issue 9 the client read everything
first: 200 MiB written, ~400 MiB peak per case.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.lacale import LaCaleClient, LaCaleError
from bot.lacale.client import MAX_JSON_BYTES, MAX_TORRENT_BYTES
from tests.fakes.lacale import DOWNLOAD, SEARCH, FakeLaCale

MIB = 1024 * 1024
KEY = "benchmark-key-0123456789abcdef"


async def run(size: int) -> None:
    print(
        f"caps: JSON {MAX_JSON_BYTES / MIB:.0f} MiB, .torrent {MAX_TORRENT_BYTES / MIB:.0f} MiB; answers of {size / MIB:.0f} MiB"
    )
    async with FakeLaCale(keys=[KEY]) as fake:
        for what, path, start in (("search", SEARCH, b'[{"title": "'), ("download", DOWNLOAD, b"d8:announce")):
            for chunked in (False, True):
                fake.streamed_bytes = 0
                fake.streams_finished = 0
                fake.oversize_next(path, size, chunked=chunked, start=start)
                outcome = "read whole"
                tracemalloc.start()
                cpu = time.process_time()
                async with LaCaleClient(KEY, base_url=fake.base_url, max_retries=0) as client:
                    try:
                        if what == "search":
                            await client.search("dune")
                        else:
                            await client.download_torrent("a" * 40)
                    except LaCaleError as exc:
                        outcome = type(exc).__name__
                cpu = time.process_time() - cpu
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                while fake.streams_finished < 1:  # the fake's writer notices the hang-up
                    await asyncio.sleep(0.01)
                print(
                    f"{what:8} {'chunked' if chunked else 'content-length':14} -> {outcome:17}"
                    f" server wrote {fake.streamed_bytes / MIB:6.1f} MiB,"
                    f" client peak {peak / MIB:6.1f} MiB, CPU {cpu:.2f} s"
                )
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200, help="size of each answer in MiB (default 200)")
    args = parser.parse_args()
    asyncio.run(run(args.mib * MIB))


if __name__ == "__main__":
    main()
