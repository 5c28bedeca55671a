"""Cluster benchmark: the alert pipeline split over two processes on one PostgreSQL.
Prints its figures; asserts nothing.

    python benchmarks/cluster.py            # 2,000 servers × 20 alerts, 2 processes, 5 cycles of 30 s
    python benchmarks/cluster.py --quick    # 200 servers, 3 cycles: a smoke run

What runs, all on loopback:

- a throwaway PostgreSQL 15 (started as ``tests/support/postgres.py`` starts it for the tests);
- the fake La Cale and the fake Discord in a child process (``benchmarks/alerts.py``'s);
- two child processes, each the real scheduler, poller and sender of one cluster slot
  (``Ownership(shard_count=2, cluster_count=2, slot=k)``): each polls and posts only its
  own servers, chosen in SQL; posts paced at ``DISCORD_REST_RATE / 2`` each.

The servers are spread evenly over the two shards. Each cycle, ``--news-per-cycle``
ordinary releases appear (each matches a few hundred alerts across the servers: the
posting load) and ``--probes-per-cycle`` probe releases at random moments, each matching
exactly one alert of a random server: the latency figure is from a probe appearing on La
Cale to its message on Discord.

Figures: La Cale requests per cycle in total (target ≤ 2,100: one newest page per server
plus the TMDB questions), CPU per cycle per process (``time.process_time`` of the whole
process over each interval: polls, matching, recording and posting; target ≤ 2 s),
duplicates among the posts (0), posts made by a process for a server it does not own (0),
latency (≤ interval + 5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp

from benchmarks.alerts import Fakes, World, fernet_key, release_items, seed_guilds

SHARDS = CLUSTERS = 2


# ======================================================================================
# A throwaway PostgreSQL (the way tests/support/postgres.py starts one for the tests)
# ======================================================================================
@contextmanager
def throwaway_postgres() -> Iterator[str]:
    from tests.support.postgres import PostgresUnavailable
    from tests.support.postgres import throwaway_postgres as server

    try:
        with server(name="vigie-bench-pg-", options="-c max_connections=200") as db:
            yield db.url
    except PostgresUnavailable as exc:
        raise SystemExit(str(exc)) from None


# ======================================================================================
# One cluster slot: a child process
# ======================================================================================
def emit(**event: Any) -> None:
    print(json.dumps(event), flush=True)


async def slot_child(args: argparse.Namespace) -> None:
    """The pipeline of one slot, as the bot's cog wires it; reports each cycle on stdout."""
    import logging

    import discord

    from bot.cluster.ownership import Ownership
    from bot.db.engine import create_engine, create_sessionmaker
    from bot.discord_api_base import use_discord_api_base
    from bot.services.alerts.fetch import SiteMeta
    from bot.services.alerts.pipeline import AlertPipeline
    from bot.services.guilds import GuildService
    from bot.services.lacale_access import LaCaleAccess, MetaCache
    from bot.services.vault import KeyVault
    from bot.ui.alert_posts import DiscordAlertPoster

    logging.basicConfig(level=logging.ERROR)
    ownership = Ownership(SHARDS, CLUSTERS, args.slot)
    engine = create_engine(args.db)
    sessions = create_sessionmaker(engine)
    use_discord_api_base(args.discord_api)
    client = discord.Client(intents=discord.Intents.none())
    await client.login(args.token)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
        access = LaCaleAccess(http, args.lacale, search_interval=2.0, timeout=30.0)
        vault = KeyVault(fernet_key())
        meta = MetaCache(access)
        guilds = GuildService(sessions, vault, access, meta)
        poster = DiscordAlertPoster(client, base_url=args.lacale)
        posted: Counter[str] = Counter()
        send = poster.send_releases

        async def counted(post: Any) -> int:
            posted["own" if ownership.owns(post.guild_id) else "foreign"] += 1
            return await send(post)

        poster.send_releases = counted  # type: ignore[method-assign]
        # As the cog builds it: ownership for every part, posts paced at the slot's share.
        pipeline = AlertPipeline.build(
            sessions=sessions,
            vault=vault,
            access=access,
            guilds=guilds,
            site_meta=SiteMeta(meta),
            poster=poster,
            interval=args.interval,
            concurrency=8,
            ownership=ownership,
            rest_rate=args.rest_rate,
        )
        scheduler = pipeline.scheduler

        starts: list[float] = []
        indexes: dict[int, int] = {}
        start_cycle, finish_cycle = scheduler._start_cycle, scheduler._finish_cycle

        async def traced_start(spread: float | None) -> Any:
            starts.append(time.process_time())
            if len(starts) > 1:
                emit(event="cpu", slot=args.slot, cycle=len(starts) - 2, cpu=starts[-1] - starts[-2])
            cycle = await start_cycle(spread)
            indexes[id(cycle.report)] = len(starts) - 1
            return cycle

        async def traced_finish(cycle: Any) -> Any:
            report = await finish_cycle(cycle)
            emit(
                event="cycle",
                slot=args.slot,
                cycle=indexes.pop(id(report), -1),
                guilds=report.guilds,
                requests=report.requests,
                outcomes=report.outcomes,
                wall=report.finished - report.started,
                deliveries=report.new_deliveries,
            )
            return report

        scheduler._start_cycle = traced_start  # type: ignore[method-assign]
        scheduler._finish_cycle = traced_finish  # type: ignore[method-assign]
        loop = asyncio.get_running_loop()
        emit(event="ready", slot=args.slot, shards=list(ownership.shard_ids))
        await loop.run_in_executor(None, sys.stdin.readline)  # "go": both slots start together
        pipeline.start()
        await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
        await pipeline.stop()
        emit(
            event="done",
            slot=args.slot,
            posts=posted["own"],
            foreign_posts=posted["foreign"],
            cycles_started=len(starts),
            max_rss_mb=__import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss / 1024,
        )
    await client.close()
    await engine.dispose()


class Slot:
    """The parent's handle on one slot's child process."""

    def __init__(self, proc: asyncio.subprocess.Process, slot: int) -> None:
        self.proc, self.slot = proc, slot
        self.events: list[dict[str, Any]] = []
        self.ready = asyncio.Event()
        self.done = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, slot: int, args: argparse.Namespace, db: str, fakes: Fakes) -> Slot:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--slot",
            str(slot),
            "--db",
            db,
            "--lacale",
            fakes.base_url,
            "--discord-api",
            fakes.discord_api,
            "--token",
            fakes.discord_token,
            "--interval",
            str(args.interval),
            "--rest-rate",
            str(args.rest_rate),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=str(ROOT),
        )
        return cls(proc, slot)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.events.append(event)
            if event["event"] == "ready":
                self.ready.set()
            elif event["event"] == "done":
                self.done.set()

    def tell(self, word: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(word.encode() + b"\n")

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]

    async def stop(self) -> None:
        self.tell("stop")
        try:
            await asyncio.wait_for(self.done.wait(), 60)
        finally:
            if self.proc.returncode is None:
                self.proc.send_signal(signal.SIGTERM)
            await self.proc.wait()
            await self._reader


# ======================================================================================
# The run
# ======================================================================================
async def run(args: argparse.Namespace, db: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from bot.db.engine import create_engine, create_sessionmaker
    from bot.db.migrate import upgrade_database
    from bot.db.models import Alert, Delivery
    from bot.services.vault import KeyVault

    rng = random.Random(10)
    engine = create_engine(db)
    await upgrade_database(engine)
    sessions = create_sessionmaker(engine)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
        fakes = await Fakes.start(args.guilds, http)
        slots: list[Slot] = []
        try:
            tmdb_ids = [str(1000 + i) for i in range(40)]
            await fakes.add(release_items(args.catalogue, rng, tmdb_ids=tmdb_ids, age_days=30))
            world = World(
                Path(tempfile.gettempdir()),
                http,
                fakes,
                None,
                engine,
                sessions,
                None,
                KeyVault(fernet_key()),
                None,
                None,
                None,
            )
            # Consecutive millisecond parts: the servers alternate between the two shards.
            base = int(time.time() * 1000) - 1_420_070_400_000
            ids = [((base + g) << 22) | 1 for g in range(args.guilds)]
            t0 = time.perf_counter()
            plans = await seed_guilds(
                world,
                guilds=args.guilds,
                alerts_per_guild=args.alerts,
                tmdb_alerts=args.tmdb_alerts,
                tmdb_ids=tmdb_ids,
                channels_per_guild=3,
                rng=rng,
                name="cluster",
                guild_ids=ids,
            )
            # One probe alert per server, matching only its own probe releases.
            probe_alerts: dict[int, dict[str, Any]] = {}
            async with sessions.begin() as session:
                top = await session.scalar(select(func.max(Alert.id))) or 0
                for n, (gid, plan) in enumerate(plans.items()):
                    row = {
                        "id": top + n + 1,
                        "guild_id": gid,
                        "name": "probe",
                        "channel_id": plan["alerts"][0]["channel_id"],
                        "criteria": {"query": f"probe{n:05d}"},
                        "paused": False,
                    }
                    probe_alerts[gid] = row
                    session.add(Alert(**row))
            setup_s = time.perf_counter() - t0
            shard_of = Counter((gid >> 22) % SHARDS for gid in plans)

            slots = [await Slot.start(k, args, db, fakes) for k in range(CLUSTERS)]
            await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in slots)), 120)
            await fakes.reset()
            started = time.time()
            for s in slots:
                s.tell("go")

            probes: list[dict[str, Any]] = []
            pending: dict[str, dict[str, Any]] = {}

            async def watch() -> None:
                while True:
                    await asyncio.sleep(0.25)
                    if not pending:
                        continue
                    channels = sorted({p["channel"] for p in pending.values()})
                    for _channel, msgs in (await fakes.messages(channels)).items():
                        for m in msgs:
                            for title in m["titles"]:
                                probe = pending.pop(title, None)
                                if probe is not None:
                                    probe["arrived"] = m["arrived"]

            watcher = asyncio.create_task(watch())
            n = 0
            for cycle in range(args.cycles):
                cycle_start = started + cycle * args.interval
                moments = sorted(
                    rng.uniform(0, args.interval) for _ in range(args.probes_per_cycle + args.news_per_cycle)
                )
                kinds = ["probe"] * args.probes_per_cycle + ["news"] * args.news_per_cycle
                rng.shuffle(kinds)
                for moment, kind in zip(moments, kinds, strict=False):
                    await asyncio.sleep(max(0.0, cycle_start + moment - time.time()))
                    if kind == "news":
                        await fakes.add(release_items(1, rng, prefix=f"News{cycle}."))
                        continue
                    gid = rng.choice(list(plans))
                    alert = probe_alerts[gid]
                    title = f"Lat{n:05d}.{alert['criteria']['query'].title()}.1080p.WEB"  # only its probe alert matches
                    n += 1
                    _, published = await fakes.add(
                        [{"title": title, "category": "Films HD", "size": 5_000_000_000, "seeders": 50}]
                    )
                    probe = {
                        "title": title,
                        "channel": alert["channel_id"],
                        "guild": gid,
                        "published": published,
                        "arrived": None,
                    }
                    probes.append(probe)
                    pending[title] = probe
            await asyncio.sleep(max(0.0, started + args.cycles * args.interval - time.time()))
            deadline = time.time() + args.interval + 30
            while pending and time.time() < deadline:
                await asyncio.sleep(0.5)
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            # Let what is still queued go out before counting duplicates.
            for _ in range(120):
                async with sessions() as session:
                    left = await session.scalar(
                        select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
                    )
                if not left:
                    break
                await asyncio.sleep(1)
            counts = await fakes.counts()
            for s in slots:
                await s.stop()
            channels = [c for plan in plans.values() for c in {a["channel_id"] for a in plan["alerts"]}]
            posted: Counter[tuple[int, str]] = Counter()
            messages = 0
            for channel, msgs in (await fakes.messages(channels)).items():
                messages += len(msgs)
                for m in msgs:
                    for title in m["titles"]:
                        posted[(channel, title)] += 1
            async with sessions() as session:
                statuses = dict(
                    (await session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))).all()
                )
            stats = await fakes.discord_stats()
        finally:
            for s in slots:
                if s.proc.returncode is None:
                    s.proc.send_signal(signal.SIGTERM)
                    await s.proc.wait()
            await fakes.stop()
    await engine.dispose()
    per_cycle: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "guilds": 0, "cpu": {}, "wall": {}, "outcomes": Counter()}
    )
    done: dict[int, dict[str, Any]] = {}
    for s in slots:
        for e in s.of("cycle"):
            c = per_cycle[e["cycle"]]
            c["requests"] += e["requests"]
            c["guilds"] += e["guilds"]
            c["wall"][s.slot] = e["wall"]
            c["outcomes"].update(e["outcomes"])
        for e in s.of("cpu"):
            per_cycle[e["cycle"]]["cpu"][s.slot] = e["cpu"]
        (done[s.slot],) = s.of("done")
    latencies = [p["arrived"] - p["published"] for p in probes if p["arrived"] is not None]
    return {
        "guilds": args.guilds,
        "alerts": args.alerts,
        "setup_s": setup_s,
        "shards": dict(shard_of),
        "interval": args.interval,
        "cycles": {k: per_cycle[k] for k in sorted(per_cycle)},
        "lacale_total": counts["total"],
        "lacale_meta": counts["meta"],
        "probes": len(probes),
        "missed_probes": sum(1 for p in probes if p["arrived"] is None),
        "latencies": latencies,
        "duplicates": sum(v - 1 for v in posted.values() if v > 1),
        "posted": sum(posted.values()),
        "messages": messages,
        "done": done,
        "statuses": statuses,
        "nonce_dedup_hits": stats["nonce_dedup_hits"],
        "rest_rate": args.rest_rate,
        "news_per_cycle": args.news_per_cycle,
    }


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def print_report(r: dict[str, Any]) -> None:
    line = "-" * 112
    print()
    print(
        f"Vigie cluster benchmark: {r['guilds']} servers × {r['alerts']} alerts (+1 probe alert each) over {CLUSTERS} processes "
        f"(slots of {SHARDS} shards; servers per shard {r['shards']}),"
    )
    print(
        f"one PostgreSQL, fake La Cale + fake Discord in a child process, loopback only. Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs. Poll interval {r['interval']:.0f} s; DISCORD_REST_RATE {r['rest_rate']:.0f}/s "
        f"({r['rest_rate'] / CLUSTERS:.0f}/s per process); {r['news_per_cycle']} ordinary release(s) per cycle; setup {r['setup_s']:.0f} s."
    )
    print(line)
    print(
        f"   {'cycle':>5} {'servers polled':>14} {'La Cale requests':>16} {'CPU s slot 0':>12} {'CPU s slot 1':>12} "
        f"{'wall s 0':>8} {'wall s 1':>8}  outcomes"
    )
    for k, c in r["cycles"].items():
        cpu = c["cpu"]
        wall = c["wall"]
        print(
            f"   {k:>5} {c['guilds']:>14} {c['requests']:>16} {cpu.get(0, float('nan')):>12.2f} {cpu.get(1, float('nan')):>12.2f} "
            f"{wall.get(0, float('nan')):>8.1f} {wall.get(1, float('nan')):>8.1f}  {dict(c['outcomes'])}"
        )
    complete = [c for c in r["cycles"].values() if len(c["wall"]) == CLUSTERS]
    worst_requests = max((c["requests"] for c in complete), default=0)
    cycles_run = max([1, *(v["cycles_started"] for v in r["done"].values())])
    print(
        f"   La Cale requests per cycle in total (both processes' searches): at most {worst_requests} — target ≤ 2100 "
        f"→ {verdict(worst_requests <= 2100)}; the fake counted {r['lacale_total']} requests in all "
        f"({r['lacale_meta']} /meta) for {cycles_run} cycles started = {r['lacale_total'] / cycles_run:.0f} per cycle"
    )
    cpus = [v for c in r["cycles"].values() for v in c["cpu"].values()]
    steady = [v for k, c in r["cycles"].items() if k > 0 for v in c["cpu"].values()]
    print(
        f"   CPU per cycle per process (whole process over each interval: polls, matching, writes, posts): first cycle "
        f"{max(r['cycles'][0]['cpu'].values(), default=float('nan')):.2f} s, after it at most {max(steady, default=float('nan')):.2f} s, "
        f"mean {statistics.mean(steady) if steady else float('nan'):.2f} s — target ≤ 2 s → {verdict(bool(cpus) and max(cpus) <= 2)}"
    )
    done = r["done"]
    print(
        f"   posts: {r['messages']} messages ({r['posted']} channel posts of releases); by slot "
        f"{ {k: v['posts'] for k, v in done.items()} }; posts for a server the process does not own: "
        f"{sum(v['foreign_posts'] for v in done.values())}; duplicates {r['duplicates']} → "
        f"{verdict(r['duplicates'] == 0 and sum(v['foreign_posts'] for v in done.values()) == 0)}; "
        f"re-sends dropped by nonce {r['nonce_dedup_hits']}; rows {r['statuses']}"
    )
    lat = r["latencies"]
    bound = r["interval"] + 5
    if lat:
        print(
            f"   latency, probe release on La Cale → its message on Discord ({len(lat)} probes, {r['missed_probes']} never posted): "
            f"mean {statistics.mean(lat):.1f} s, max {max(lat):.1f} s — target ≤ interval + 5 s = {bound:.0f} s "
            f"→ {verdict(max(lat) <= bound and r['missed_probes'] == 0)}"
        )
    rss = ", ".join(f"slot {k} {v['max_rss_mb']:.0f} MB" for k, v in done.items())
    print(f"   max RSS per process: {rss}")
    print(line)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slot", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--lacale", help=argparse.SUPPRESS)
    parser.add_argument("--discord-api", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="small numbers (a smoke run)")
    parser.add_argument("--guilds", type=int, default=2000)
    parser.add_argument("--alerts", type=int, default=20, help="alerts per server")
    parser.add_argument("--tmdb-alerts", type=int, default=50)
    parser.add_argument("--catalogue", type=int, default=5000)
    parser.add_argument(
        "--interval", type=float, default=30.0, help="poll interval (POLL_INTERVAL_SECONDS; 30 is its floor)"
    )
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--probes-per-cycle", type=int, default=3)
    parser.add_argument("--news-per-cycle", type=int, default=1)
    parser.add_argument(
        "--rest-rate", type=float, default=40.0, help="DISCORD_REST_RATE (the whole bot's posts per second)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.guilds, args.tmdb_alerts, args.catalogue, args.interval, args.cycles = 200, 10, 1000, 10.0, 3
    return args


async def main(args: argparse.Namespace) -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)
    with throwaway_postgres() as db:
        print_report(await run(args, db))


if __name__ == "__main__":
    from bot.runtime import tune_gc

    parsed = parse_args()
    tune_gc()
    if parsed.slot is not None:
        asyncio.run(slot_child(parsed))
    else:
        asyncio.run(main(parsed))
