"""Operator mistakes get one clear line and a documented exit status (issue 9, item 17).

Each test runs ``python -m bot`` in its own process, as an operator would, against the fake
Discord and the fake La Cale over loopback.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from pathlib import Path

from bot.db.engine import create_engine
from bot.db.migrate import head_revision
from bot.exit_codes import ExitCode
from tests.e2e.test_process import ROOT, env_for, run
from tests.fakes.discord import FakeDiscord
from tests.fakes.lacale import FakeLaCale
from tests.support.migrations import alembic_step
from tests.support.postgres import postgres_url  # noqa: F401  (fixture)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


async def test_wrong_token_is_one_line_and_status_3(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    async with FakeLaCale() as lacale:
        env = {**env_for(tmp_path, fake_discord, lacale), "DISCORD_TOKEN": "not-the-token", "LOG_LEVEL": "WARNING"}
        code, out, err = await run([], env, tmp_path)
        assert code == ExitCode.AUTH == 3
        assert one_line(err).startswith("vigie: Discord refused DISCORD_TOKEN (401 Unauthorized)")
        assert "not-the-token" not in err

        code, out, err = await run(["check"], env, tmp_path)
        assert code == 3 and "Traceback" not in out + err
        assert out.strip().splitlines()[-1].startswith("[FAIL] discord login: Discord refused DISCORD_TOKEN")


async def test_unreachable_discord_is_one_line_and_status_5(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    async with FakeLaCale() as lacale:
        closed_port = "http://127.0.0.1:9/api/v10"  # nothing listens on the discard port
        env = {**env_for(tmp_path, fake_discord, lacale), "DISCORD_API_BASE": closed_port, "LOG_LEVEL": "WARNING"}
        code, out, err = await run([], env, tmp_path)
        assert code == ExitCode.UNAVAILABLE == 5
        assert (
            one_line(err)
            == "vigie: cannot reach Discord at 127.0.0.1:9: connection refused; check the network and retry"
        )

        code, out, err = await run(["check"], env, tmp_path)
        assert code == 5 and "Traceback" not in out + err
        assert (
            out.strip().splitlines()[-1]
            == "[FAIL] discord login: cannot reach Discord at 127.0.0.1:9: connection refused; check the network and retry"
        )


async def test_unusable_database_is_one_line_and_status_7(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    unwritable = f"sqlite+aiosqlite:///{tmp_path / 'a-file' / 'vigie.sqlite3'}"
    unreachable = "postgresql+asyncpg://vigie:pw-not-shown@127.0.0.1:9/vigie"
    async with FakeLaCale() as lacale:
        base = {**env_for(tmp_path, fake_discord, lacale), "LOG_LEVEL": "WARNING"}
        for url, says in (
            (unwritable, f"cannot create the folder for the SQLite file {tmp_path / 'a-file' / 'vigie.sqlite3'}"),
            (unreachable, "cannot reach the database server 127.0.0.1:9: "),
        ):
            env = {**base, "DATABASE_URL": url}
            code, _, err = await run([], env, tmp_path)
            assert code == ExitCode.DATABASE == 7, err
            assert one_line(err).startswith(f"vigie: database: {says}"), err
            assert "pw-not-shown" not in err

            code, _, err = await run(["db", "upgrade"], env, tmp_path)
            assert code == 7 and one_line(err).startswith(f"vigie: database: {says}"), err

            code, out, err = await run(["check"], env, tmp_path)
            assert code == 7 and "Traceback" not in out + err, out + err
            assert out.strip().splitlines()[-1].startswith("[FAIL] database: "), out
            assert "pw-not-shown" not in out + err

        code, _, err = await run([], {**base, "DATABASE_URL": "mysql://vigie@localhost/vigie"}, tmp_path)
        assert code == ExitCode.USAGE and one_line(err).startswith("vigie: DATABASE_URL: use sqlite+aiosqlite:///")


async def test_db_upgrade_needs_only_database_url(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db' / 'vigie.sqlite3'}",
    }
    code, out, err = await run(["db", "upgrade"], env, tmp_path)
    assert code == 0, err
    assert out.startswith("database upgraded from empty to ") and err == "", err


async def test_check_reports_pending_migrations_and_applies_none(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    async with FakeLaCale() as lacale:
        env = env_for(tmp_path, fake_discord, lacale)
        db_path = tmp_path / "data" / "vigie.sqlite3"
        # No database yet: reported, not created.
        code, out, err = await run(["check"], env, tmp_path)
        assert code == 0, out + err
        assert "not created yet; 6 migrations pending (0001, 0002, 0003, 0004, 0005, 0006)" in out
        assert not db_path.exists()

        # A database one migration behind: reported, left as it is.
        engine = create_engine(env["DATABASE_URL"])
        async with engine.begin() as connection:
            await connection.run_sync(alembic_step("0001"))
        await engine.dispose()
        code, out, err = await run(["check"], env, tmp_path)
        assert code == 0, out + err
        assert (
            "at revision 0001; 5 migrations pending (0002, 0003, 0004, 0005, 0006): the bot applies them at start, or run `vigie db upgrade`"
            in out
        )
        assert sqlite3.connect(db_path).execute("select version_num from alembic_version").fetchone()[0] == "0001"


async def test_normal_start_prints_no_alembic_chatter_nor_voice_warning(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    fake_discord.add_guild(name="Quiet")
    async with FakeLaCale() as lacale:
        env = {**env_for(tmp_path, fake_discord, lacale), "LOG_LEVEL": "INFO"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await fake_discord.wait_until_ready_sent(timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err_bytes = await asyncio.wait_for(proc.communicate(), 30)
        err = err_bytes.decode()
        assert proc.returncode == 0, err
        assert f"database migrated from empty to {head_revision()}" in err
        assert "alembic" not in err, err
        assert "voice will NOT be supported" not in err and "PyNaCl" not in err and "davey" not in err, err
        assert " WARNING " not in err and "Traceback" not in err, err


async def test_missing_postgres_database_is_one_line_and_status_7(tmp_path: Path, postgres_url: str) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": postgres_url.rsplit("/", 1)[0].replace("vigie@", "vigie:pw-not-shown@") + "/no_such_db",
    }
    code, out, err = await run(["db", "upgrade"], env, tmp_path)
    assert code == ExitCode.DATABASE, out + err
    line = one_line(err)
    assert (
        line.startswith("vigie: database: postgresql+asyncpg://vigie:***@127.0.0.1:")
        and 'database "no_such_db" does not exist' in line
    ), line
    assert "pw-not-shown" not in err

    # The same server with a database that exists, in the plain form people paste.
    import asyncpg

    admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await admin.execute("DROP DATABASE IF EXISTS vigie_cli")
        await admin.execute("CREATE DATABASE vigie_cli")
    finally:
        await admin.close()
    plain = postgres_url.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)[0] + "/vigie_cli"
    code, out, err = await run(["db", "upgrade"], {**env, "DATABASE_URL": plain}, tmp_path)
    assert code == 0 and "upgraded from empty" in out, err
