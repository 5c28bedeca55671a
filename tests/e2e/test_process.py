"""The bot as a user runs it: ``python -m bot`` in its own process, against both fakes."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from tests.e2e.conftest import MANAGE_GUILD, SECRET_KEY
from tests.fakes.discord import FakeDiscord
from tests.fakes.lacale import FakeLaCale

ROOT = Path(__file__).resolve().parents[2]


def env_for(tmp_path: Path, fake: FakeDiscord, lacale: FakeLaCale, guild_id: int | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DISCORD_TOKEN", "SECRET_KEY", "DATABASE_URL", "LACALE_API_KEY"}
    }
    env.update(
        DISCORD_TOKEN=fake.token,
        SECRET_KEY=SECRET_KEY,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'data' / 'vigie.sqlite3'}",
        LACALE_BASE_URL=lacale.base_url,
        DISCORD_API_BASE=fake.api_base,
        LOG_LEVEL="DEBUG",
        PYTHONPATH=str(ROOT),
    )
    if guild_id:
        env["DEV_GUILD_ID"] = str(guild_id)
    return env


async def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_bot_process_registers_a_key_and_stops_cleanly_on_sigterm(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    guild = fake_discord.add_guild(name="Process")
    channel = fake_discord.add_channel(guild, "general")
    admin = fake_discord.add_member(guild, name="admin", permissions=MANAGE_GUILD, locale="en-US")
    async with FakeLaCale() as lacale:
        env = env_for(tmp_path, fake_discord, lacale, guild.id)
        log_path = tmp_path / "bot.log"
        with log_path.open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", env=env, cwd=tmp_path, stdout=log_file, stderr=log_file
            )
            try:
                await fake_discord.wait_for_sync(timeout=60)
                await fake_discord.wait_until_ready_sent(timeout=60)
                opened = await fake_discord.invoke("setup key", by=admin, in_channel=channel, locale="en-US")
                await opened.wait_response(timeout=10)
                submitted = await fake_discord.submit_modal(
                    opened, {"vigie:secret:apikey": lacale.default_key}, by=admin
                )
                final = await submitted.wait_final(timeout=10)
                assert "Fingerprint" in final["content"]

                search = await fake_discord.invoke(
                    "search", by=admin, in_channel=channel, locale="en-US", query="nothing"
                )
                assert "No release found" in (await search.wait_final(timeout=10))["content"]
            finally:
                proc.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(proc.wait(), 30)
        log = log_path.read_text()
        assert code == 0, log[-3000:]
        assert "shutting down" in log
        assert lacale.default_key not in log, "the key reached the log (DEBUG level)"
        assert "Traceback" not in log
        db = sqlite3.connect(tmp_path / "data" / "vigie.sqlite3")
        assert db.execute("select key_status from guild_settings").fetchone()[0] == "valid"


async def test_db_upgrade_twice_on_empty_directory(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    async with FakeLaCale() as lacale:
        env = env_for(tmp_path, fake_discord, lacale)
        code, out, err = await run(["db", "upgrade"], env, tmp_path)
        assert code == 0, err
        assert "upgraded from empty" in out
        code, out, _ = await run(["db", "upgrade"], env, tmp_path)
        assert code == 0 and "already at" in out
        tables = {
            r[0] for r in sqlite3.connect(tmp_path / "data" / "vigie.sqlite3").execute("select name from sqlite_master")
        }
        assert {"guild_settings", "member_keys", "alerts", "deliveries", "uploads"} <= tables


async def test_check_and_sync_commands(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    guild = fake_discord.add_guild(name="Check")
    async with FakeLaCale() as lacale:
        env = env_for(tmp_path, fake_discord, lacale, guild.id)
        code, out, err = await run(["check"], {**env, "LACALE_API_KEY": lacale.default_key}, tmp_path)
        assert code == 0, out + err
        assert out.count("[ok]") == 4, out
        assert lacale.default_key not in out + err

        code, out, _ = await run(["check"], {**env, "LACALE_API_KEY": "wrong-key-000000"}, tmp_path)
        assert code != 0 and "[FAIL] La Cale: key refused" in out

        code, out, _ = await run(["check"], {**env, "DISCORD_TOKEN": "bad-token"}, tmp_path)
        assert code != 0 and "[FAIL] discord login" in out

        before = fake_discord.sync_count
        code, out, err = await run(["sync"], env, tmp_path)
        assert code == 0, err
        assert "synced" in out and fake_discord.sync_count == before + 1
