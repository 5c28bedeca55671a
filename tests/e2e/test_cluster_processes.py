"""Several real ``python -m bot`` processes on one PostgreSQL, against the fake Discord and
the fake La Cale: slots, standby, layout, fail-stop, one command sync, spaced logins."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bot.db.advisory import NS_SLOT
from bot.exit_codes import ExitCode
from tests.e2e.test_process import env_for, run
from tests.fakes.discord import FakeDiscord
from tests.fakes.lacale import FakeLaCale
from tests.support.fresh_db import fresh_db, plain, postgres_url  # noqa: F401  (fixtures)

#: Guild ids on shard 0 and shard 1 of 2 (Discord's rule: (id >> 22) % shard_count).
SHARD0_GUILD = 4000 << 22
SHARD1_GUILD = (4001 << 22) | 12345


#: Never inherited from the shell running the tests.
CLUSTER_SETTINGS = {"SHARD_COUNT", "CLUSTER_COUNT", "CLUSTER_ID", "DISCORD_REST_RATE", "HEALTH_PORT", "HEALTH_HOST"}


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@dataclass
class Bot:
    """One ``python -m bot`` process; its stdout and stderr go to ``log``."""

    proc: asyncio.subprocess.Process
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_log(self, needle: str, timeout: float = 60) -> float:
        """Until ``needle`` is in the log; returns when it was seen (time.monotonic)."""
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.returncode is not None:
                raise AssertionError(f"exited {self.proc.returncode} before logging {needle!r}:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not logged in {timeout} s:\n{self.text()[-3000:]}")
            await asyncio.sleep(0.02)
        return time.monotonic()

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 30)


class Cluster:
    def __init__(self, tmp_path: Path, fake: FakeDiscord, lacale: FakeLaCale, database_url: str) -> None:
        inherited = {k: v for k, v in env_for(tmp_path, fake, lacale).items() if k not in CLUSTER_SETTINGS}
        self.env = {**inherited, "DATABASE_URL": database_url, "LOG_LEVEL": "INFO"}
        self.tmp_path = tmp_path
        self.bots: list[Bot] = []

    async def start(self, name: str, **settings: str) -> Bot:
        log = self.tmp_path / f"{name}.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", env={**self.env, **settings}, cwd=self.tmp_path, stdout=out, stderr=out
            )
        bot = Bot(proc, log)
        self.bots.append(bot)
        return bot

    async def close(self) -> None:
        for bot in self.bots:
            if bot.proc.returncode is None:
                bot.proc.send_signal(signal.SIGTERM)
        for bot in self.bots:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bot.proc.wait(), 30)
            if bot.proc.returncode is None:
                bot.proc.kill()


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path, fake: FakeDiscord, database_url: str) -> AsyncIterator[Cluster]:
    async with FakeLaCale() as lacale:
        group = Cluster(tmp_path, fake, lacale, database_url)
        try:
            yield group
        finally:
            await group.close()


def sessions_by_shard(fake: FakeDiscord) -> dict[tuple[int, int], int]:
    """Live, ready gateway sessions per (shard, shard count)."""
    counts: dict[tuple[int, int], int] = {}
    for session in fake._sessions.values():
        if session.live and session.ready:
            counts[session.shard] = counts.get(session.shard, 0) + 1
    return counts


async def test_two_processes_split_the_shards_sync_once_and_space_their_logins(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fresh_db: str,
) -> None:
    """Cold start of two identical replicas at the same second (one with CLUSTER_ID=1):
    each runs its own shard, answers its own servers, commands are synced once (by slot 0),
    the two logins of the one identify bucket are at least 5 s apart; a third process with
    another layout is refused with one line and status 2."""
    fake_discord.add_guild(SHARD0_GUILD, name="Shard zero")
    fake_discord.add_guild(SHARD1_GUILD, name="Shard one")
    layout = {"SHARD_COUNT": "2", "CLUSTER_COUNT": "2"}
    async with cluster(tmp_path, fake_discord, fresh_db) as group:
        explicit, first_free = await asyncio.gather(
            group.start("explicit", **layout, CLUSTER_ID="1"), group.start("first-free", **layout)
        )
        await fake_discord.wait_until(
            lambda: sessions_by_shard(fake_discord) == {(0, 2): 1, (1, 2): 1}, 90, "one session per shard"
        )
        assert "cluster slot 1 of 2: shards 1 of 2" in explicit.text()
        assert "cluster slot 0 of 2: shards 0 of 2" in first_free.text()

        # Commands: synced once, by the process in slot 0.
        assert fake_discord.sync_count == 1
        assert "synced" in first_free.text() and "synced by the process in cluster slot 0" in explicit.text()

        # Logins of one bucket (max_concurrency 1): at least 5 s apart across the two processes.
        identified = sorted(s.identified_at for s in fake_discord._sessions.values())
        assert len(identified) == 2 and identified[1] - identified[0] >= 5.0, identified

        # Each server's interactions reach the process that runs its shard, and are answered once.
        for guild_id in (SHARD0_GUILD, SHARD1_GUILD):
            channel = fake_discord.guilds[guild_id].system_channel
            rec = await fake_discord.invoke("search", in_channel=channel, locale="en-US", query="dune")
            await rec.wait_final(timeout=15)
            assert len(rec.callbacks) == 1, rec.callbacks

        # Another layout while these run: refused before doing anything.
        code, _, err = await run(
            [], {**group.env, "SHARD_COUNT": "4", "CLUSTER_COUNT": "2", "LOG_LEVEL": "WARNING"}, tmp_path
        )
        assert code == ExitCode.USAGE == 2, err
        assert one_line(err) == (
            "vigie: other Vigie processes on this database run with SHARD_COUNT=2, CLUSTER_COUNT=2, this one with "
            "SHARD_COUNT=4, CLUSTER_COUNT=2: every process must use the same values (stop them all to change the layout)"
        )
        assert sessions_by_shard(fake_discord) == {(0, 2): 1, (1, 2): 1}

        assert await explicit.stop() == 0 and await first_free.stop() == 0, (
            explicit.text()[-2000:] + first_free.text()[-2000:]
        )
    for bot in (explicit, first_free):
        assert "Traceback" not in bot.text(), bot.text()[-3000:]


async def test_a_second_instance_waits_as_standby_and_takes_over_when_the_first_is_killed(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fresh_db: str,
) -> None:
    """CLUSTER_COUNT=1 on PostgreSQL: an instance started by mistake does no harm (no
    gateway session, no sync, no answer); when the running one is SIGKILLed, it takes the
    slot at once and connects."""
    guild = fake_discord.add_guild(SHARD0_GUILD, name="Standby")
    async with cluster(tmp_path, fake_discord, fresh_db) as group:
        active = await group.start("active")
        await fake_discord.wait_until(lambda: sessions_by_shard(fake_discord) == {(0, 1): 1}, 60, "the first session")
        standby = await group.start("standby")
        await standby.wait_log("waiting as a hot standby")
        await asyncio.sleep(1.5)
        assert sessions_by_shard(fake_discord) == {(0, 1): 1} and fake_discord.identify_count == 1
        rec = await fake_discord.invoke("search", in_channel=guild.system_channel, locale="en-US", query="dune")
        await rec.wait_final(timeout=15)
        await asyncio.sleep(0.5)
        assert len(rec.callbacks) == 1, rec.callbacks

        killed_at = time.monotonic()
        active.proc.kill()
        took_at = await standby.wait_log("took cluster slot 0 after")
        print(f"standby took the slot {took_at - killed_at:.2f} s after the holder was killed")
        assert took_at - killed_at < 5, "the freed slot was not taken at once"
        await fake_discord.wait_until(
            lambda: sessions_by_shard(fake_discord) == {(0, 1): 1} and fake_discord.identify_count == 2,
            60,
            "the standby's session",
        )
        assert fake_discord.sync_count == 1  # commands unchanged: not synced again
        rec = await fake_discord.invoke("search", in_channel=guild.system_channel, locale="en-US", query="dune")
        await rec.wait_final(timeout=15)

        # A standby stopped while it waits leaves at once, cleanly.
        spare = await group.start("spare")
        await spare.wait_log("waiting as a hot standby")
        stopping = time.monotonic()
        assert await spare.stop() == 0, spare.text()[-3000:]
        assert time.monotonic() - stopping < 5
        assert await standby.stop() == 0
    for bot in (standby, spare):
        assert "Traceback" not in bot.text() and "never retrieved" not in bot.text(), bot.text()[-3000:]


async def test_losing_the_slot_connection_stops_the_process_with_the_database_status(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fresh_db: str,
) -> None:
    """The slot's connection is the fence: once it is gone another process may run the
    same shards, so this one stops at once (no graceful close) with status 7."""
    fake_discord.add_guild(SHARD0_GUILD, name="Fence")
    async with cluster(tmp_path, fake_discord, fresh_db) as group:
        bot = await group.start("fenced", SHARD_COUNT="2", CLUSTER_COUNT="2")
        await fake_discord.wait_until(lambda: sessions_by_shard(fake_discord) == {(0, 2): 1}, 60, "the session")
        admin = await asyncpg.connect(plain(fresh_db))
        try:
            rows = await admin.fetch(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = $1", NS_SLOT
            )
            assert len(rows) == 1
            await admin.execute("SELECT pg_terminate_backend($1)", rows[0]["pid"])
        finally:
            await admin.close()
        code = await asyncio.wait_for(bot.proc.wait(), 10)
        log = bot.text()
        assert code == ExitCode.DATABASE == 7, log[-3000:]
        assert (
            "vigie: database: the database closed the connection that holds cluster slot 0; "
            "stopping now so that the supervisor restarts this process"
        ) in log, log[-3000:]
        await fake_discord.wait_until(lambda: not sessions_by_shard(fake_discord), 5, "the session to drop")
        assert "Traceback" not in log


async def test_several_clusters_on_sqlite_are_refused_in_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "DISCORD_TOKEN": "t",
        "SECRET_KEY": "s" * 32,
        "CLUSTER_COUNT": "2",
        "SHARD_COUNT": "2",
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",  # never the real Discord, whatever happens
    }
    code, _, err = await run([], env, tmp_path)
    assert code == ExitCode.USAGE == 2
    assert one_line(err) == (
        "vigie: CLUSTER_COUNT: 2 processes need PostgreSQL (DATABASE_URL=postgresql+asyncpg://...): "
        "a SQLite file serves one process only; set CLUSTER_COUNT=1 or move to PostgreSQL"
    )
    assert not (tmp_path / "data").exists()
