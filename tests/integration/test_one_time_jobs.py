"""Jobs one process does for all: migrations, pruning (command sync: see test_processes)."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path

import asyncpg

from tests.support.fresh_db import fresh_db, plain, postgres_url  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]


#: ``vigie db upgrade``'s own code, started once imports are done: the processes are
#: released together (a line on stdin), so that their migrations overlap as they do when
#: every replica starts at the same second (Python's start-up time would spread them).
_UPGRADE = """
import asyncio, sys
from bot.cli import _db_upgrade
from bot.logging_setup import configure_logging
configure_logging("WARNING")
sys.stdin.readline()
sys.exit(asyncio.run(_db_upgrade(sys.argv[1])))
"""


async def _start_upgrade(url: str, cwd: Path) -> asyncio.subprocess.Process:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _UPGRADE,
        url,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _upgrade_together(url: str, cwd: Path, count: int) -> list[tuple[int, str]]:
    procs = [await _start_upgrade(url, cwd) for _ in range(count)]
    await asyncio.sleep(1.5)  # imports done
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
    outs = await asyncio.gather(*(asyncio.wait_for(p.communicate(), 120) for p in procs))
    return [(p.returncode or 0, out.decode()) for p, (out, _) in zip(procs, outs, strict=False)]


async def test_simultaneous_first_start_migrates_once_and_all_succeed(postgres_url: str, tmp_path: Path) -> None:
    """Processes starting at the same second on an empty database (``vigie db upgrade``
    here; the bot's start runs the same function): one migrates, the others wait for it
    and find the database at head. Without the lock, two ``CREATE TABLE`` race and one
    fails on a unique violation (about one run in three)."""
    admin = await asyncpg.connect(plain(postgres_url))
    try:
        for attempt in range(3):
            name = f"vigie_mig_{secrets.token_hex(4)}"
            await admin.execute(f"CREATE DATABASE {name}")
            url = postgres_url.rsplit("/", 1)[0] + "/" + name
            try:
                results = await _upgrade_together(url, tmp_path, 4)
            finally:
                await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
            failed = [out for code, out in results if code != 0]
            assert not failed, f"attempt {attempt}: {len(failed)} of 4 failed:\n" + "\n".join(failed)
            outs = sorted(out.strip() for _, out in results)
            assert sum("upgraded from empty" in out for out in outs) == 1, outs
            assert sum("already at" in out for out in outs) == 3, outs
    finally:
        await admin.close()


async def test_one_process_prunes_at_a_time_the_others_skip_at_once(fresh_db: str) -> None:
    """Two processes pruning together: the second does not queue behind the first's row
    locks (it returns at once, the job being done); once the first committed, pruning
    is anyone's again."""
    from datetime import timedelta

    from bot.db.engine import create_engine, create_sessionmaker
    from bot.db.migrate import upgrade_database
    from bot.db.models import SeenRelease, utcnow
    from bot.services.alerts.record import prune

    engines = [create_engine(fresh_db), create_engine(fresh_db)]
    try:
        await upgrade_database(engines[0])
        first, second = (create_sessionmaker(e) for e in engines)
        old = utcnow() - timedelta(days=200)
        async with first.begin() as session:
            session.add_all(SeenRelease(guild_id=g, info_hash=f"{g:040x}", seen_at=old) for g in range(1, 51))
        cutoff = utcnow() - timedelta(days=90)
        async with first.begin() as a:
            assert await prune(a, cutoff=cutoff) == (0, 50)
            async with second.begin() as b:
                assert await asyncio.wait_for(prune(b, cutoff=cutoff), 3) == (0, 0)
        async with first.begin() as session:
            session.add(SeenRelease(guild_id=99, info_hash="f" * 40, seen_at=old))
        async with second.begin() as b:
            assert await prune(b, cutoff=cutoff) == (0, 1)
    finally:
        for engine in engines:
            await engine.dispose()
