"""``vigie db backup FILE``: a consistent SQLite copy while the bot writes, 0600, restorable."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from bot.db.engine import create_engine
from bot.db.migrate import upgrade_database
from bot.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]


def vigie(args: list[str], database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DISCORD_TOKEN", "SECRET_KEY"}}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()


def test_backup_while_a_writer_is_active_restores_with_every_committed_row(tmp_path: Path) -> None:
    db_path = tmp_path / "data" / "vigie.sqlite3"
    url = f"sqlite+aiosqlite:///{db_path}"
    asyncio.run(_migrate(url))
    db = sqlite3.connect(db_path, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")  # as the bot opens it
    db.executemany(
        "INSERT INTO bot_state (key, value, updated_at) VALUES (?, ?, CURRENT_TIMESTAMP)",
        [(f"before:{i}", "x" * 200) for i in range(2000)],
    )
    db.commit()

    # A writer committing small transactions all along, as the bot does.
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        conn = sqlite3.connect(db_path, timeout=10)
        i = 0
        while not stop.is_set():
            conn.execute(
                "INSERT INTO bot_state (key, value, updated_at) VALUES (?, 'w', CURRENT_TIMESTAMP)", (f"during:{i}",)
            )
            conn.commit()
            written.append(i)
            i += 1
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:  # the writer is really running
            time.sleep(0.001)
        target = tmp_path / "backups" / "vigie-backup.sqlite3"
        target.parent.mkdir()
        target.write_bytes(b"an older backup")
        target.chmod(0o644)
        started = len(written)
        result = vigie(["db", "backup", str(target)], url, tmp_path)
        during = len(written)
    finally:
        stop.set()
        thread.join()
    assert result.returncode == ExitCode.OK, result.stderr
    assert "SECRET_KEY" in result.stdout and "lost" in result.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temp, no -wal beside it
    assert during > started  # the writer kept committing while the copy was made

    copy = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT count(*) FROM bot_state WHERE key LIKE 'before:%'").fetchone()[0] == 2000
    # A snapshot: some of the writer's rows, in order, none half-way.
    keys = {k for (k,) in copy.execute("SELECT key FROM bot_state WHERE key LIKE 'during:%'")}
    assert keys == {f"during:{i}" for i in range(len(keys))} and started <= len(keys) <= during
    assert copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    copy.close()

    # Restored in place of the database, Vigie opens it as up to date.
    restored = vigie(["db", "upgrade"], f"sqlite+aiosqlite:///{target}", tmp_path)
    assert restored.returncode == 0 and "already at" in restored.stdout, restored.stderr


def test_backup_of_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    result = vigie(["db", "backup", str(tmp_path / "out")], "postgresql+asyncpg://vigie@127.0.0.1:9/vigie", tmp_path)
    assert result.returncode == ExitCode.USAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pg_dump" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_backup_without_a_database_says_so(tmp_path: Path) -> None:
    result = vigie(
        ["db", "backup", str(tmp_path / "out")], f"sqlite+aiosqlite:///{tmp_path / 'none.sqlite3'}", tmp_path
    )
    assert result.returncode == ExitCode.DATABASE
    assert result.stderr.strip().splitlines() == [f"vigie: backup: no SQLite database at {tmp_path / 'none.sqlite3'}"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "none.sqlite3").exists()
