"""Stopping is prompt in every state (issue 9, item 20).

A supervisor kills a process that outlives its grace period after SIGTERM (10 s for Docker),
so ``vigie`` must exit, cleanly and with status 0, within 10 s whatever Discord is doing:
here Discord goes away while the bot runs and refuses every reconnect, which puts discord.py
in its reconnect back-off (a random sleep that doubles with each failure: minutes after a
long outage). Before the fix the process slept the back-off out after SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from bot.criteria import Criteria
from bot.services.alerts.service import AlertSpec
from tests.e2e.conftest import VigieWorld
from tests.e2e.test_process import env_for
from tests.fakes.discord import FakeDiscord
from tests.fakes.lacale import SEARCH, FakeLaCale

#: A supervisor's usual grace period.
GRACE = 10.0
#: discord.py logs each back-off before sleeping it.
BACKOFF = re.compile(rb"Attempting a reconnect for shard ID \d+ in (\d+(?:\.\d+)?)s")


async def start_bot(tmp_path: Path, fake: FakeDiscord, lacale: FakeLaCale) -> tuple[asyncio.subprocess.Process, Path]:
    fake.add_guild(name="Shutdown")
    log_path = tmp_path / "bot.log"
    with log_path.open("wb") as log_file:  # the child keeps its own descriptor
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            env=env_for(tmp_path, fake, lacale),
            cwd=tmp_path,
            stdout=log_file,
            stderr=log_file,
        )
    await fake.wait_until_ready_sent(timeout=60)
    return proc, log_path


async def stop_within_grace(proc: asyncio.subprocess.Process, log_path: Path) -> str:
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(proc.wait(), GRACE)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"still running {GRACE:.0f} s after SIGTERM:\n{log_path.read_text()[-3000:]}") from None
    log = log_path.read_text()
    assert code == 0, log[-3000:]
    assert "shutting down" in log
    assert "Session is closed" not in log, log[-3000:]
    assert time.monotonic() - sent < GRACE
    return log


async def test_sigterm_during_the_reconnect_backoff_exits_within_10_s(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    async with FakeLaCale() as lacale:
        proc, log_path = await start_bot(tmp_path, fake_discord, lacale)
        try:
            # Discord goes away: every reconnect is refused and each back-off doubles.
            await fake_discord.stop()
            # Wait for a back-off that alone outlasts the grace period (about 12 s on
            # average, sometimes 25 s: the delays are random).
            deadline = time.monotonic() + 90
            while True:
                delays = [float(d) for d in BACKOFF.findall(log_path.read_bytes())]
                if delays and delays[-1] >= GRACE + 1:
                    break
                assert time.monotonic() < deadline, f"no long back-off yet: {delays}"
                assert proc.returncode is None, log_path.read_text()[-3000:]
                await asyncio.sleep(0.05)
            log = await stop_within_grace(proc, log_path)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert "Traceback" not in log.split("signal received")[1], log[-3000:]


async def test_close_stops_the_polls_before_closing_the_sessions_they_use(
    world: VigieWorld, caplog: pytest.LogCaptureFixture
) -> None:
    """The scheduler is cancelled while it spreads a cycle: the poll it already started
    must stop too, before the HTTP session and the engine close (it used to run on and
    fail with "Session is closed")."""
    bot = world.bot
    assert bot is not None
    cog = bot.get_cog("Alerts")
    second = world.discord.add_guild(name="Second")
    second_channel = world.discord.add_channel(second, "alerts")
    for guild, channel in ((world.guild, world.channel), (second, second_channel)):
        await bot.services.guilds.ensure_guild(guild.id, "en-US")
        await bot.services.guilds.register_guild_key(guild.id, world.key, world.admin.id)
        await cog.alerts.create(
            guild.id,
            AlertSpec(name="dune", channel_id=channel.id, criteria=Criteria(query="dune")),
            created_by=world.admin.id,
        )
    world.lacale.delay_next(SEARCH, 1.5, times=10)  # La Cale is slow: the first poll is in flight
    searches = world.lacale.count(SEARCH)
    # A cycle spread over 20 s, as the scheduler runs it: the second poll waits its turn.
    cycle = bot.spawn(cog.scheduler.run_cycle(spread=20), name="alert-cycle")
    await world.discord.wait_until(lambda: world.lacale.count(SEARCH) > searches, timeout=10, what="the first poll")
    polls = {t for t in asyncio.all_tasks() if t.get_name().startswith("alert-poll-")}
    assert polls
    with caplog.at_level(logging.DEBUG):
        await world.stop()
        await asyncio.sleep(2.5)  # past La Cale's delay: a poll still running would fail now
    assert cycle.done() and all(t.done() for t in polls), "a poll outlived the close"
    assert "Session is closed" not in caplog.text, caplog.text[-3000:]
    assert "poll crashed" not in caplog.text
