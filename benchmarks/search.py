"""/search latency and La Cale request count, on loopback.

Runs the real bot against the fake Discord and the fake La Cale (tests/fakes), then:
1. 200 searches with distinct queries: time from the interaction being sent to its
   deferral, and to the final answer (median and p95);
2. N identical searches by different members within the server's cache window: how many
   requests reached La Cale.

    python -m benchmarks.search [--searches 200] [--identical 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import VigieBot
from tests.e2e.conftest import MANAGE_GUILD, run_bot, vigie_settings
from tests.fakes.discord import FakeDiscord
from tests.fakes.lacale import FakeLaCale


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


async def main(searches: int, identical: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeDiscord() as discord_fake, FakeLaCale() as lacale:
            for i in range(2000):
                lacale.add_torrent(f"Release.{i:04d}.Word{i % 97}.1080p.WEB", size=(i + 1) * 10**7)
            guild = discord_fake.add_guild(name="Bench")
            channel = discord_fake.add_channel(guild, "general")
            admin = discord_fake.add_member(guild, name="admin", permissions=MANAGE_GUILD, locale="fr")
            members = [discord_fake.add_member(guild, name=f"m{i}", locale="en-US") for i in range(max(identical, 1))]
            settings = vigie_settings(
                Path(tmp), discord_fake, lacale, guild.id, log_level="WARNING", search_cooldown_per_minute=10_000
            )
            async with run_bot(VigieBot(settings), discord_fake) as bot:
                opened = await discord_fake.invoke("setup key", by=admin, in_channel=channel)
                await opened.wait_response()
                await (
                    await discord_fake.submit_modal(opened, {"vigie:secret:apikey": lacale.default_key}, by=admin)
                ).wait_final()

                to_defer: list[float] = []
                to_final: list[float] = []
                for i in range(searches):
                    started = time.perf_counter()
                    rec = await discord_fake.invoke(
                        "search", by=admin, in_channel=channel, query=f"word{i % 97} {i:04d}"
                    )
                    await rec.wait_response(timeout=10)
                    to_defer.append((time.perf_counter() - started) * 1000)
                    await rec.wait_final(timeout=10)
                    to_final.append((time.perf_counter() - started) * 1000)

                before = lacale.count("/api/external")
                sent_before = bot.services.search.requests_sent
                recs = await asyncio.gather(
                    *(discord_fake.invoke("search", by=m, in_channel=channel, query="release word5") for m in members)
                )
                await asyncio.gather(*(r.wait_final(timeout=20) for r in recs))
                reached = lacale.count("/api/external") - before
                sent = bot.services.search.requests_sent - sent_before

    print("search benchmark (real bot, fake Discord and fake La Cale on loopback)")
    print(f"  searches timed              : {searches}")
    print(f"  interaction -> deferral     : median {statistics.median(to_defer):7.1f} ms   p95 {p95(to_defer):7.1f} ms")
    print(f"  interaction -> final answer : median {statistics.median(to_final):7.1f} ms   p95 {p95(to_final):7.1f} ms")
    print(
        f"  identical searches          : {identical} members at once -> {reached} request(s) to La Cale ({sent} sent by the service)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--identical", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.searches, args.identical))
