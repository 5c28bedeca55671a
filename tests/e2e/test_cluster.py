"""Acceptance test of issue 10: several ``python -m bot`` processes on one PostgreSQL.

Real processes (``python -m bot``), a throwaway PostgreSQL 15 (tests/postgres.py), the fake
Discord with 4 recommended shards (one session per shard; like Discord it accepts duplicate
sessions, each receiving the shard's interactions, so two processes running one shard
would show as interactions answered twice) and the fake La Cale. Every process gets the same
environment (SHARD_COUNT=4, CLUSTER_COUNT=2, CLUSTER_ID unset: identical replicas).

The figures (posts, duplicates, La Cale requests per key and cycle, takeover time, the
highest post rate over sliding 1 s windows, the run time) are printed at the end of each
test (``pytest -s`` shows them) and written to ``cluster-figures.json`` in the test's
directory.

Which process holds which shard is read from the sockets: the fake records each session's
client address, and ``/proc`` says which process owns that socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import secrets
import signal
import sys
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import MANAGE_GUILD, SECRET_KEY
from tests.fakes.discord import FakeChannel, FakeDiscord, FakeDiscordError, FakeGuild, FakeMember, InteractionRecord
from tests.fakes.lacale import SEARCH, FakeLaCale
from tests.support.discord_proxy import ProxyUnavailable, install_discord_proxy, run_discord_proxy
from tests.support.postgres import postgres_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]
SHARDS = 4
CLUSTERS = 2
#: The whole bot's budget of Discord posts per second (DISCORD_REST_RATE), 1/s per process:
#: a poll finding news for six channels has more posts than that to send at once.
REST_RATE = 2.0
#: The shortest poll interval the settings accept.
INTERVAL = 30
#: Generous: this machine runs PostgreSQL, four bot processes, node and the fakes on 2 cores.
PROCESS_TIMEOUT = 90.0
VIEW_SEND = (1 << 10) | (1 << 11)


# -- processes ---------------------------------------------------------------------------------


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def local_ports(pid: int) -> set[int]:
    """The local TCP ports of the sockets process ``pid`` holds (Linux ``/proc``)."""
    inodes = _socket_inodes(pid)
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[9] in inodes:
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


@dataclass
class BotProcess:
    name: str
    proc: asyncio.subprocess.Process
    log_path: Path
    started: float
    stopped: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def shards(self, fake: FakeDiscord) -> set[int]:
        """The shards whose live gateway session this process holds."""
        if not self.running:
            return set()
        ports = local_ports(self.pid)
        return {s.shard[0] for s in fake.sessions() if s.peer is not None and s.peer[1] in ports}


@dataclass
class Cluster:
    """Bot processes sharing one environment (one database, one fake Discord, one fake La Cale)."""

    tmp_path: Path
    fake: FakeDiscord
    lacale: FakeLaCale
    database_url: str
    api_base: str
    env_extra: dict[str, str] = field(default_factory=dict)
    processes: list[BotProcess] = field(default_factory=list)

    def env(self, **overrides: str) -> dict[str, str]:
        drop = {
            "DISCORD_TOKEN",
            "SECRET_KEY",
            "DATABASE_URL",
            "LACALE_API_KEY",
            "CLUSTER_ID",
            "DEV_GUILD_ID",
            "SHARD_COUNT",
            "CLUSTER_COUNT",
            "DISCORD_REST_RATE",
            "HEALTH_PORT",
        }
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(
            DISCORD_TOKEN=self.fake.token,
            SECRET_KEY=SECRET_KEY,
            DATABASE_URL=self.database_url,
            LACALE_BASE_URL=self.lacale.base_url,
            DISCORD_API_BASE=self.api_base,
            SHARD_COUNT=str(SHARDS),
            CLUSTER_COUNT=str(CLUSTERS),
            DISCORD_REST_RATE=str(REST_RATE),
            POLL_INTERVAL_SECONDS=str(INTERVAL),
            # The set-up's /alert add searches (one per channel) need not wait 2 s per key.
            SEARCH_MIN_INTERVAL_SECONDS="0",
            LOG_LEVEL="INFO",
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env_extra)
        env.update(overrides)
        return env

    async def spawn(self, name: str, **overrides: str) -> BotProcess:
        log_path = self.tmp_path / f"{name}.log"
        with log_path.open("wb") as log_file:  # the child keeps its own descriptor
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                env=self.env(**overrides),
                cwd=self.tmp_path,
                stdout=log_file,
                stderr=log_file,
            )
        bp = BotProcess(name, proc, log_path, time.monotonic())
        self.processes.append(bp)
        return bp

    async def kill(self, bp: BotProcess) -> float:
        """``kill -9``; returns when it happened (monotonic)."""
        bp.proc.send_signal(signal.SIGKILL)
        at = time.monotonic()
        await bp.proc.wait()
        bp.stopped = at
        return at

    async def terminate(self, bp: BotProcess, timeout: float = 30) -> int:
        bp.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(bp.proc.wait(), timeout)
        bp.stopped = time.monotonic()
        return code

    async def close(self) -> None:
        for bp in self.processes:
            if bp.running:
                bp.proc.send_signal(signal.SIGKILL)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(bp.proc.wait(), 10)

    def holders(self) -> dict[str, set[int]]:
        return {bp.name: bp.shards(self.fake) for bp in self.processes if bp.running}

    def diagnostics(self) -> str:
        parts = [
            f"shards held: {self.holders()}",
            f"identifies: {[(r.shard, round(r.at, 2), r.refused) for r in self.fake.identifies]}",
        ]
        for bp in self.processes:
            parts.append(f"--- {bp.name} (pid {bp.pid}, exit {bp.proc.returncode}) log tail:\n{bp.log()[-2500:]}")
        return "\n".join(parts)

    async def wait(self, predicate: Any, what: str, timeout: float = PROCESS_TIMEOUT) -> Any:
        try:
            return await self.fake.wait_until(predicate, timeout=timeout, what=what)
        except FakeDiscordError as exc:
            raise AssertionError(f"{exc}\n{self.diagnostics()}") from None


# -- the world: servers on every shard, each with its own key and two alert channels ---------------


@dataclass
class Server:
    guild: FakeGuild
    admin: FakeMember
    channels: list[FakeChannel]
    key: str

    @property
    def shard(self) -> int:
        return (self.guild.id >> 22) % SHARDS


def make_servers(fake: FakeDiscord, lacale: FakeLaCale, per_shard: int, channels: int) -> list[Server]:
    servers = []
    for shard in range(SHARDS):
        for i in range(per_shard):
            guild = fake.add_guild(
                fake.snowflake_on_shard(shard, SHARDS), name=f"shard{shard}-{i}", preferred_locale="en-US"
            )
            chans = [fake.add_channel(guild, f"alerts-{c}") for c in range(channels)]
            admin = fake.add_member(guild, name="admin", permissions=MANAGE_GUILD | VIEW_SEND, locale="en-US")
            servers.append(Server(guild, admin, chans, lacale.add_key()))
    return servers


async def set_up(fake: FakeDiscord, server: Server) -> list[InteractionRecord]:
    """``/setup key`` (modal) then one ``/alert add`` per channel, as the server's admin."""
    where = server.channels[0]
    opened = await fake.invoke("setup key", by=server.admin, in_channel=where, locale="en-US")
    await opened.wait_response(timeout=20)
    # The bot registers its modal once the callback request returns; a person takes longer
    # than that to type a key (the fake records the callback a moment before).
    await asyncio.sleep(0.5)
    submitted = await fake.submit_modal(opened, {"vigie:secret:apikey": server.key}, by=server.admin, locale="en-US")
    final = await submitted.wait_final(timeout=20)
    assert "Fingerprint" in final["content"], final
    recs = [opened, submitted]
    for n, channel in enumerate(server.channels):
        rec = await fake.invoke(
            "alert add",
            by=server.admin,
            in_channel=where,
            locale="en-US",
            name=f"dune-{n}",
            query="dune",
            channel=channel,
        )
        answer = await rec.wait_final(timeout=20)
        assert "created" in answer["content"], answer
        recs.append(rec)
    return recs


def posted_titles(fake: FakeDiscord, channel: FakeChannel) -> Counter[str]:
    """Release titles posted as alerts (channel messages, not interaction answers) in ``channel``."""
    titles: Counter[str] = Counter()
    for m in fake.channel_messages(channel):
        if m["type"] == 0:
            for e in m.get("embeds", []):
                titles[e.get("title", "").replace("\\", "")] += 1
    return titles


def all_posted(fake: FakeDiscord, servers: Iterable[Server], titles: Iterable[str]) -> bool:
    wanted = list(titles)
    return all(posted_titles(fake, c)[t] >= 1 for s in servers for c in s.channels for t in wanted)


def duplicates(fake: FakeDiscord, servers: Iterable[Server]) -> dict[str, int]:
    """Every (channel, title) posted more than once."""
    return {
        f"{c.name}@{s.guild.name}:{t}": n
        for s in servers
        for c in s.channels
        for t, n in posted_titles(fake, c).items()
        if n > 1
    }


def post_times(fake: FakeDiscord) -> list[float]:
    return sorted(r.at for r in fake.requests if r.method == "POST" and re.fullmatch(r"/channels/\d+/messages", r.path))


def max_rate(times: list[float], window: float = 1.0) -> int:
    """The most requests in any sliding window of ``window`` seconds."""
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def newest_page_times(lacale: FakeLaCale, since: float, until: float) -> dict[str, list[float]]:
    """Per key, when a newest-page search (no terms) arrived within [since, until)."""
    out: dict[str, list[float]] = {}
    for r in lacale.requests:
        if (
            r.path == SEARCH
            and r.key
            and since <= r.at < until
            and not dict(r.query).get("q")
            and not dict(r.query).get("tmdbId")
        ):
            out.setdefault(r.key, []).append(r.at)
    return out


async def fresh_database(postgres_url: str) -> str:
    import asyncpg

    name = f"vigie_cluster_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return postgres_url.rsplit("/", 1)[0] + "/" + name


@contextlib.asynccontextmanager
async def cluster_env(
    tmp_path: Path,
    postgres_url: str,
    *,
    max_concurrency: int,
    api_base: str | None = None,
    proxy_modules: Path | None = None,
) -> AsyncIterator[Cluster]:
    fake = FakeDiscord(shard_count=SHARDS, max_concurrency=max_concurrency, interaction_timeout=10.0)
    # interaction_timeout: Discord's deadline is 3 s; this test is about ownership, and the
    # machine (2 cores) runs four bots, PostgreSQL and node besides: latency is measured elsewhere.
    async with fake, FakeLaCale() as lacale:
        database_url = await fresh_database(postgres_url)
        async with contextlib.AsyncExitStack() as stack:
            base = fake.api_base
            if proxy_modules is not None:
                base = await stack.enter_async_context(run_discord_proxy(proxy_modules, f"{fake.origin}/api"))
            cluster = Cluster(tmp_path, fake, lacale, database_url, api_base or base)
            try:
                yield cluster
            finally:
                await cluster.close()
        assert not fake.unhandled, fake.unhandled


def report(tmp_path: Path, figures: dict[str, Any]) -> None:
    text = json.dumps(figures, indent=2, sort_keys=True)
    (tmp_path / "cluster-figures.json").write_text(text)
    print(f"\ncluster figures:\n{text}")


# -- the acceptance test ------------------------------------------------------------------------


async def test_two_clusters_of_two_shards(tmp_path: Path, postgres_url: str) -> None:
    """Cold start, steady state, standby, another layout refused, kill -9 with posts in
    flight, rolling restart, post rate; and, at the same time on a second cluster (its own
    database and fakes), the steady state through @discordjs/proxy. The two run
    concurrently: both mostly wait for poll cycles (30 s), which halves the time added to CI."""
    figures: dict[str, Any] = {}
    try:
        modules: Path | None = await asyncio.to_thread(install_discord_proxy)
        no_proxy = None
    except ProxyUnavailable as exc:
        modules, no_proxy = None, str(exc)
    t0 = time.monotonic()
    try:
        async with asyncio.TaskGroup() as group:
            (tmp_path / "cluster").mkdir()
            group.create_task(cluster_scenario(tmp_path / "cluster", postgres_url, figures.setdefault("cluster", {})))
            if modules is not None:
                (tmp_path / "proxy").mkdir()
                group.create_task(
                    proxy_scenario(tmp_path / "proxy", postgres_url, modules, figures.setdefault("proxy", {}))
                )
    except BaseExceptionGroup as group_error:
        report(tmp_path, figures)
        raise group_error.exceptions[0] from None
    figures["runtime_s"] = round(time.monotonic() - t0, 1)
    report(tmp_path, figures)
    if no_proxy is not None:
        warnings.warn(f"the @discordjs/proxy scenario was not run: {no_proxy}", stacklevel=1)


async def cluster_scenario(tmp_path: Path, postgres_url: str, figures: dict[str, Any]) -> None:
    t0 = time.monotonic()
    # max_concurrency=1: every login of every process is in one identify bucket, so two
    # processes starting at once must space their logins across processes.
    async with cluster_env(tmp_path, postgres_url, max_concurrency=1) as cl:
        fake, lacale = cl.fake, cl.lacale
        # One server per shard, six alert channels each: a poll's six posts at once are more
        # than a process's share of DISCORD_REST_RATE allows in one second.
        servers = make_servers(fake, lacale, per_shard=1, channels=6)

        # 1. Cold start of both at once: shards split 0,2 / 1,3; commands synced once; no failed login.
        a, b = await asyncio.gather(cl.spawn("first"), cl.spawn("second"))
        await cl.wait(
            lambda: sorted(s.shard[0] for s in fake.sessions() if s.ready) == [0, 1, 2, 3],
            "the 4 shards to be connected once each",
        )
        held = cl.holders()
        assert sorted(map(sorted, held.values())) == [[0, 2], [1, 3]], cl.diagnostics()
        figures["cold_start_s"] = round(time.monotonic() - t0, 1)
        slot0 = a if held["first"] == {0, 2} else b
        slot1 = b if slot0 is a else a
        await cl.wait(lambda: fake.sync_count >= 1, "the command sync")

        # Servers set up through interactions: each answered once, by the process of its shard.
        setup_started = time.monotonic()
        figures["cold_start_to_setup_s"] = round(setup_started - t0, 1)
        recs = [r for rs in await asyncio.gather(*(set_up(fake, s) for s in servers)) for r in rs]
        assert all(len(r.callbacks) == 1 for r in recs)
        figures["setup_interactions"] = len(recs)
        setup_done = time.monotonic()
        figures["setup_s"] = round(setup_done - setup_started, 1)

        # 2. Steady state: each release posted exactly once per channel, across all 4 shards.
        # Meanwhile a third process waits as a standby (it connects no shard), and a process
        # with another layout is refused (exit status 2, one line).
        r1 = ["Dune.Cluster.One.2160p", "Dune.Cluster.Two.1080p"]
        for title in r1:
            lacale.add_torrent(title)
        identifies = len(fake.identifies)
        standby = await cl.spawn("standby")
        wrong = await cl.spawn("wrong-layout", SHARD_COUNT="2")
        code = await asyncio.wait_for(wrong.proc.wait(), PROCESS_TIMEOUT)
        wrong_lines = [ln for ln in wrong.log().splitlines() if ln.strip()]
        assert code == 2, wrong.log()
        assert len([ln for ln in wrong_lines if "SHARD_COUNT" in ln]) == 1, wrong.log()
        assert "Traceback" not in wrong.log()
        figures["wrong_layout"] = {"exit": code, "line": wrong_lines[-1]}
        await cl.wait(
            lambda: all_posted(fake, servers, r1), "release set 1 in every channel", timeout=2 * INTERVAL + 30
        )
        figures["release_to_posted_everywhere_s"] = round(time.monotonic() - setup_done, 1)
        assert standby.running, standby.log()
        assert len(fake.identifies) == identifies, cl.diagnostics()
        assert cl.holders()["standby"] == set()

        # 3. kill -9 of the slot-0 process with posts in flight: the standby takes over. Then,
        # in the same poll cycle, a rolling restart of the slot-1 process: its replacement
        # starts (and waits as a standby) before the old one is stopped.
        r2 = ["Dune.Cluster.Three.720p", "Dune.Cluster.Four.2160p"]
        mine = [s for s in servers if s.shard % CLUSTERS == 0]
        theirs = [s for s in servers if s.shard % CLUSTERS == 1]
        for s in mine:
            for c in s.channels:  # created at once, answered 4 s later: in flight when killed
                fake.slow_next(f"POST /channels/{c.id}/messages", 4.0)
        for title in r2:
            lacale.add_torrent(title)
        await cl.wait(
            lambda: any(posted_titles(fake, c)[r2[0]] for s in mine for c in s.channels),
            "a first post of set 2 on the slot-0 shards",
            timeout=2 * INTERVAL + 30,
        )
        in_flight = sum(1 for r in fake.requests if r.status == 0 and r.key.endswith("/messages"))
        killed_at = await cl.kill(slot0)
        steady_end = killed_at
        await cl.wait(lambda: cl.holders().get("standby") == {0, 2}, "the standby to take shards 0 and 2")
        took_over = time.monotonic()
        first_login = next(r.at for r in fake.identifies if r.at > killed_at)

        replacement = await cl.spawn("replacement")
        await cl.wait(lambda: "standby" in replacement.log(), "the replacement to wait as a standby")
        assert cl.holders()["replacement"] == set(), cl.diagnostics()
        asked: list[InteractionRecord] = []
        unrouted = 0
        stop_asking = asyncio.Event()

        async def keep_asking() -> None:
            nonlocal unrouted
            n = 0
            while not stop_asking.is_set():
                s = theirs[n % len(theirs)]
                n += 1
                try:
                    asked.append(await fake.invoke("alert list", by=s.admin, in_channel=s.channels[0], locale="en-US"))
                except FakeDiscordError:
                    unrouted += 1  # no session on that shard at this instant (Discord: "did not respond")
                await asyncio.sleep(0.25)

        asker = asyncio.create_task(keep_asking())
        await asyncio.sleep(1)
        stopping = asyncio.create_task(cl.terminate(slot1))
        await cl.wait(lambda: cl.holders().get("replacement") == {1, 3}, "the replacement to take shards 1 and 3")
        rolled = time.monotonic()
        restart_gap = time.monotonic() - (slot1.stopped or time.monotonic())
        assert await stopping == 0, slot1.log()[-3000:]
        await asyncio.sleep(2)
        stop_asking.set()
        await asker
        await cl.wait(lambda: all(r.callbacks for r in asked[-3:]), "the last interactions to be answered", timeout=20)
        await cl.wait(
            lambda: all_posted(fake, servers, r2), "release set 2 in every channel", timeout=2 * INTERVAL + 30
        )
        figures["takeover"] = {
            "posts_in_flight_when_killed": in_flight,
            "kill_to_first_identify_s": round(first_login - killed_at, 2),
            "kill_to_shards_connected_s": round(took_over - killed_at, 2),
            "kill_to_everything_posted_s": round(time.monotonic() - killed_at, 1),
        }
        figures["rolling_restart"] = {
            "interactions_sent": len(asked),
            "answered": sum(1 for r in asked if r.callbacks),
            "found_no_session": unrouted,
            "old_stopped_to_new_connected_s": round(restart_gap, 1),
        }

        # La Cale: one newest page per key per cycle, never two processes polling one key.
        # Measured while the layout is stable (from the set-up to the kill, and from the end
        # of the rolling restart to the end): consecutive newest pages of one key are about
        # one interval apart (the polls are spread over it); a key polled by two processes
        # shows as two requests a few seconds apart.
        end = time.monotonic()
        windows = [(setup_done, steady_end), (rolled, end)]
        stable = [newest_page_times(lacale, since, until) for since, until in windows]
        gaps = [b2 - b1 for w in stable for ts in w.values() for b1, b2 in itertools.pairwise(ts)]
        cycles = sum(until - since for since, until in windows) / INTERVAL
        requests = sum(len(ts) for w in stable for ts in w.values())
        figures["la_cale"] = {
            "stable_window_s": round(cycles * INTERVAL, 1),
            "keys": len(servers),
            "newest_page_requests": requests,
            "newest_page_requests_per_key_per_cycle": round(requests / len(servers) / cycles, 2),
            "min_gap_between_two_newest_requests_of_one_key_s": round(min(gaps), 1) if gaps else None,
            "pairs_measured": len(gaps),
        }
        assert set(stable[0]) == {s.key for s in servers}, stable[0].keys()
        assert gaps and min(gaps) >= INTERVAL / 2, figures["la_cale"]
        for (since, until), w in zip(windows, stable, strict=False):
            assert all(len(ts) <= (until - since) / INTERVAL + 1 for ts in w.values()), figures["la_cale"]
        every = r1 + r2

        # Whole run: nothing missed, nothing doubled, no login refused, posts under the budget.
        assert all_posted(fake, servers, every)
        dupes = duplicates(fake, servers)
        times = post_times(fake)
        figures.update(
            servers=len(servers),
            channels=sum(len(s.channels) for s in servers),
            alert_posts=sum(sum(posted_titles(fake, c).values()) for s in servers for c in s.channels),
            expected_posts=len(every) * sum(len(s.channels) for s in servers),
            duplicates=len(dupes),
            interactions_answered_twice=len(fake.double_acks),
            failed_logins=len(fake.failed_logins),
            command_syncs=fake.sync_count,
            identifies=len(fake.identifies),
            post_requests=len(times),
            max_posts_in_1s=max_rate(times),
            max_posts_in_5s=max_rate(times, 5.0),
            rest_rate=REST_RATE,
            runtime_s=round(time.monotonic() - t0, 1),
        )
        assert dupes == {}, dupes
        assert fake.double_acks == [], fake.double_acks
        assert fake.failed_logins == [], cl.diagnostics()
        assert fake.sync_count == 1
        assert all(len(r.callbacks) <= 1 for r in fake.interactions)
        # Each process paces its posts with a token bucket of DISCORD_REST_RATE / CLUSTER_COUNT
        # per second holding at most one token (burst 1): in any window of T seconds one
        # process sends at most 1 + T * rate / CLUSTER_COUNT, all of them together at most
        # CLUSTER_COUNT + T * rate. The tolerance is that burst, one request per process.
        # Unpaced, a poll's six posts would go out in the same second (6 > 2 + 2).
        assert max_rate(times) <= REST_RATE + CLUSTERS, figures
        assert max_rate(times, 5.0) <= 5 * REST_RATE + CLUSTERS, figures
        for bp in (standby, replacement):
            assert "Traceback" not in bp.log(), bp.log()[-3000:]


async def proxy_scenario(tmp_path: Path, postgres_url: str, modules: Path, figures: dict[str, Any]) -> None:
    """The same steady state with DISCORD_API_BASE pointed at @discordjs/proxy (the gateway
    stays the fake's, named by ``GET /gateway/bot`` through the proxy)."""
    t0 = time.monotonic()
    async with cluster_env(tmp_path, postgres_url, max_concurrency=SHARDS, proxy_modules=modules) as cl:
        fake, lacale = cl.fake, cl.lacale
        servers = make_servers(fake, lacale, per_shard=1, channels=2)
        first_request = len(fake.requests)
        await asyncio.gather(cl.spawn("first"), cl.spawn("second"))
        await cl.wait(
            lambda: sorted(s.shard[0] for s in fake.sessions() if s.ready) == [0, 1, 2, 3],
            "the 4 shards to be connected once each (proxy)",
        )
        assert sorted(map(sorted, cl.holders().values())) == [[0, 2], [1, 3]], cl.diagnostics()
        await cl.wait(lambda: fake.sync_count >= 1, "the command sync (proxy)")
        await asyncio.gather(*(set_up(fake, s) for s in servers))
        setup_done = time.monotonic()
        titles = ["Dune.Proxied.One.2160p", "Dune.Proxied.Two.1080p"]
        for title in titles:
            lacale.add_torrent(title)
        await cl.wait(
            lambda: all_posted(fake, servers, titles),
            "the releases in every channel (proxy)",
            timeout=2 * INTERVAL + 30,
        )
        await asyncio.sleep(2)  # anything doubled would have arrived
        seen = fake.requests[first_request:]
        newest = newest_page_times(lacale, setup_done, time.monotonic())
        figures.update(
            servers=len(servers),
            channels=sum(len(s.channels) for s in servers),
            alert_posts=sum(sum(posted_titles(fake, c).values()) for s in servers for c in s.channels),
            duplicates=len(duplicates(fake, servers)),
            interactions_answered_twice=len(fake.double_acks),
            failed_logins=len(fake.failed_logins),
            command_syncs=fake.sync_count,
            requests_through_proxy=len(seen),
            newest_page_requests_per_key=dict(Counter(len(v) for v in newest.values())),
            max_posts_in_1s=max_rate(post_times(fake)),
            runtime_s=round(time.monotonic() - t0, 1),
        )
        assert all("discord.js" in (r.user_agent or "") for r in seen), {r.user_agent for r in seen}
        assert duplicates(fake, servers) == {}
        assert fake.double_acks == [] and fake.failed_logins == [] and fake.sync_count == 1
        assert set(newest) == {s.key for s in servers} and all(len(v) <= 2 for v in newest.values()), newest
        assert max_rate(post_times(fake)) <= REST_RATE + CLUSTERS, figures
