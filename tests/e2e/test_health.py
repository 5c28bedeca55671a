"""Operators see Vigie work: ``/healthz``, ``/readyz`` and ``/metrics`` of a running bot
(HEALTH_PORT), scraped over HTTP like Prometheus or an orchestrator would."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import MANAGE_GUILD, VigieWorld, vigie_settings
from tests.e2e.conftest import alert_cycle as cycle
from tests.e2e.conftest import alerts_cog as cog
from tests.e2e.test_process import env_for
from tests.fakes.discord import FakeDiscord
from tests.fakes.lacale import FakeLaCale
from tests.support.postgres import PostgresUnavailable, _free_port, throwaway_postgres

pytestmark = pytest.mark.asyncio


class OutageDiscord(FakeDiscord):
    """The fake Discord, whose gateway can refuse new connections (503 to the upgrade) as
    during an outage: a shard it dropped stays disconnected until ``gateway_down`` is False."""

    gateway_down = False

    async def _handle_gateway(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_down:
            return web.Response(status=503, text="gateway unavailable")
        return await super()._handle_gateway(request)


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with OutageDiscord() as fake:
        yield fake
        assert not fake.unhandled, f"the bot used routes the fake Discord does not implement: {fake.unhandled}"


def make_world(tmp_path: Path, discord: FakeDiscord, lacale: FakeLaCale, **overrides: Any) -> VigieWorld:
    guild = discord.add_guild(name="La Cale FR", preferred_locale="fr")
    channel = discord.add_channel(guild, "general")
    admin = discord.add_member(guild, name="admin", permissions=MANAGE_GUILD | (1 << 10) | (1 << 11), locale="fr")
    member = discord.add_member(guild, name="member", locale="en-US")
    settings = vigie_settings(tmp_path, discord, lacale, guild.id, **overrides)
    return VigieWorld(
        discord=discord, lacale=lacale, settings=settings, guild=guild, channel=channel, admin=admin, member=member
    )


@pytest.fixture
async def hworld(tmp_path: Path, fake_discord: FakeDiscord, lacale: FakeLaCale) -> AsyncIterator[VigieWorld]:
    """The usual world, with the health endpoint on (HEALTH_PORT=0: a free port)."""
    w = make_world(tmp_path, fake_discord, lacale, health_port=0)
    await w.start()
    try:
        yield w
    finally:
        await w.stop()


def base_url(world: VigieWorld) -> str:
    assert world.bot is not None and world.bot.health is not None
    return f"http://127.0.0.1:{world.bot.health.port}"


async def get(url: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
        return resp.status, await resp.text(), dict(resp.headers)


async def get_json(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
        return resp.status, await resp.json()


async def wait_status(url: str, status: int, timeout: float = 15.0) -> dict[str, Any]:
    """Polls ``url`` until it answers ``status``; returns that answer's JSON."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        last = await get_json(url)
        if last[0] == status:
            return last[1]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{url} still answers {last} after {timeout} s (expected {status})")
        await asyncio.sleep(0.1)


class Scrape:
    """One ``/metrics`` page, parsed with prometheus_client's own parser."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def value(self, name: str, **labels: str) -> float | None:
        for s in self.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        return None

    def labelsets(self, name: str) -> list[dict[str, str]]:
        return [s.labels for s in self.samples if s.name == name]


async def scrape(world: VigieWorld) -> Scrape:
    status, text, headers = await get(base_url(world) + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return Scrape(text)


async def final(world: VigieWorld, command: str, **options: Any) -> dict[str, Any]:
    return await (await world.invoke(command, locale="en-US", **options)).wait_final()


# -- /metrics -----------------------------------------------------------------------------------
async def test_metrics_count_commands_la_cale_polls_posts_gaps_and_discord_429s(hworld: VigieWorld) -> None:
    w = hworld
    await w.register_key()
    first = await scrape(w)
    assert first.value("vigie_slot_held") == 1.0
    assert first.value("vigie_alert_posts_pending") == 0.0
    assert first.value("vigie_commands_total", command="setup key", outcome="ok") == 1.0
    # Checking the key asked La Cale's metadata once.
    assert first.value("vigie_lacale_requests_total", endpoint="meta", outcome="ok") == 1.0

    # A search: counted with its latency, and its request to La Cale.
    w.lacale.add_torrent("Dune.2021.1080p")
    assert "Dune.2021.1080p" in str(await final(w, "search", query="dune"))
    # A search La Cale fails: the member gets a message, the requests their status class.
    w.lacale.fail_next("/api/external", 500, times=10)
    await final(w, "search", query="arcane")
    w.lacale.clear_faults()
    s = await scrape(w)
    assert s.value("vigie_commands_total", command="search", outcome="ok") == 1.0
    assert s.value("vigie_commands_total", command="search", outcome="ServerError") == 1.0
    assert s.value("vigie_command_duration_seconds_count", command="search") == 2.0
    assert 0 < (s.value("vigie_command_duration_seconds_sum", command="search") or 0) < 10
    assert s.value("vigie_lacale_requests_total", endpoint="search", outcome="ok") == 1.0
    assert s.value("vigie_lacale_requests_total", endpoint="search", outcome="5xx") == 4.0  # 1 + 3 retries
    assert s.value("vigie_lacale_request_duration_seconds_count", endpoint="search") == 5.0

    # An alert whose channel Vigie cannot post in: the post fails, stays pending.
    await final(w, "alert add", name="dune", query="dune")
    # The bot's own timer ran a cycle after the start (with nothing to poll then).
    before = await scrape(w)
    cycles = before.value("vigie_poll_cycles_total") or 0.0
    await cycle(w)
    w.discord.forbid_channel(w.channel)
    w.lacale.add_torrent("Dune.Part.Two.2160p")
    await cycle(w)
    s = await scrape(w)
    assert s.value("vigie_poll_cycles_total") == cycles + 2
    assert s.value("vigie_poll_servers_total", outcome="ok") == 2.0
    assert s.value("vigie_poll_servers_last_cycle") == 1.0
    assert s.value("vigie_poll_cycle_duration_seconds_count") == cycles + 2
    assert s.value("vigie_alert_posts_failed_total", reason="channel_unavailable") == 1.0
    assert s.value("vigie_alert_posts_failed_total", reason="rejected") == 0.0
    assert s.value("vigie_alert_posts_pending") == 1.0
    assert s.value("vigie_alert_posts_sent_total") == 0.0

    # Access back, alert resumed; Discord answers the post 429 once: discord.py waits and
    # posts it, the 429 is counted, the post is sent once and nothing is pending.
    w.discord.forbid_channel(w.channel, False)
    w.discord.rate_limit_next(f"/channels/{w.channel.id}/messages", retry_after=0.2)
    await final(w, "alert resume", name="dune")
    await cog(w).sender.flush()
    await w.discord.wait_for_channel_message(w.channel, lambda m: bool(m.get("embeds")))
    s = await scrape(w)
    assert s.value("vigie_discord_rate_limited_total", scope="user") == 1.0
    assert s.value("vigie_alert_posts_sent_total") == 1.0
    assert s.value("vigie_alert_messages_sent_total") == 1.0
    assert s.value("vigie_alert_posts_pending") == 0.0
    assert s.value("vigie_alert_gaps_total") == 0.0

    # A burst bigger than what La Cale's pages can show: one gap notice, counted.
    for i in range(65):
        w.lacale.add_torrent(f"Dune.Burst.{i:02d}")
    await cycle(w)
    s = await scrape(w)
    assert s.value("vigie_alert_gaps_total") == 1.0
    assert s.value("vigie_poll_servers_total", outcome="gap_unfilled") == 1.0
    assert s.value("vigie_alert_posts_sent_total") == 1.0 + 50


# -- /readyz, /healthz ----------------------------------------------------------------------------
async def test_readyz_503_while_a_shard_is_disconnected_healthz_stays_200(hworld: VigieWorld) -> None:
    w = hworld
    url = base_url(w)
    status, body = await get_json(url + "/readyz")
    assert (status, body["failed"]) == (200, [])
    assert body["checks"] == {"database": "ok", "slot": "ok", "shards": "ok"}
    assert (await get_json(url + "/healthz"))[0] == 200

    # Discord drops the gateway and refuses new connections for a while.
    assert isinstance(w.discord, OutageDiscord)
    w.discord.gateway_down = True
    await w.discord.drop_connections(4000)
    body = await wait_status(url + "/readyz", 503)
    assert body["failed"] == ["shards"]
    assert body["checks"]["shards"] == "disconnected: shard 0"
    assert body["checks"]["database"] == "ok"
    assert (await get_json(url + "/healthz"))[0] == 200

    w.discord.gateway_down = False
    body = await wait_status(url + "/readyz", 200, timeout=30)
    assert body["checks"]["shards"] == "ok"


@contextlib.contextmanager
def own_postgres() -> Iterator[tuple[str, Any, Any]]:
    """A PostgreSQL 15 server of this test's own (tests/support/postgres.py's is shared by the
    session and must keep running), with ``stop()`` / ``start()`` for an outage."""
    try:
        with throwaway_postgres(name="vigie-pg-health-") as server:
            yield server.url, server.stop, server.start
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


async def test_readyz_503_while_postgresql_is_down(
    tmp_path: Path, fake_discord: FakeDiscord, lacale: FakeLaCale
) -> None:
    with own_postgres() as (url, stop_server, start_server):
        w = make_world(tmp_path, fake_discord, lacale, health_port=0, database_url=url)
        await w.start()
        try:
            base = base_url(w)
            status, body = await get_json(base + "/readyz")
            assert (status, body["checks"]["database"]) == (200, "ok")

            await asyncio.to_thread(stop_server)
            status, body = await get_json(base + "/readyz")
            assert status == 503
            # On PostgreSQL the cluster slot is a lock on a connection of its own: it went
            # with the server, and a real process stops at once with status 7 (fail-stop,
            # issue 10 item 2); the test harness only records it (VigieWorld.slot_lost).
            assert body["failed"] == ["database", "slot"]
            assert body["checks"]["database"].startswith("unreachable")
            assert body["checks"]["shards"] == "ok"
            assert len(w.slot_lost) == 1 and "cluster slot 0" in w.slot_lost[0]
            # /healthz and the metrics page still answer until the process is gone.
            assert (await get_json(base + "/healthz"))[0] == 200
            assert (await get(base + "/metrics"))[0] == 200

            # The database is back, the slot is not: a fenced process never resumes work
            # (another may hold its slot by now); its supervisor restarts it instead.
            await asyncio.to_thread(start_server)
            for _ in range(100):
                status, body = await get_json(base + "/readyz")
                if body["checks"]["database"] == "ok":
                    break
                await asyncio.sleep(0.1)
            assert (status, body["failed"]) == (503, ["slot"])
        finally:
            await w.stop()


async def test_endpoint_off_without_health_port(world: VigieWorld) -> None:
    assert world.settings.health_port is None
    assert world.bot is not None and world.bot.health is None


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port`` (Linux /proc)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            for line in fh.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, port_hex = local.split(":")
                if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


async def test_bot_process_serves_health_on_loopback_by_default(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    """``python -m bot`` with HEALTH_PORT and no HEALTH_HOST: on 127.0.0.1 only."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux's /proc/net/tcp to see the bound address")
    guild = fake_discord.add_guild(name="Process")
    async with FakeLaCale() as lacale:
        env = env_for(tmp_path, fake_discord, lacale, guild.id)
        env.pop("HEALTH_HOST", None)
        port = _free_port()
        env["HEALTH_PORT"] = str(port)
        log_path = tmp_path / "bot.log"
        with log_path.open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", env=env, cwd=tmp_path, stdout=log_file, stderr=log_file
            )
            try:
                await fake_discord.wait_until_ready_sent(timeout=60)
                url = f"http://127.0.0.1:{port}"
                assert (await get_json(url + "/healthz"))[0] == 200
                await wait_status(url + "/readyz", 200, timeout=30)
                s = Scrape((await get(url + "/metrics"))[1])
                assert s.value("vigie_slot_held") == 1.0
                assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
            finally:
                proc.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(proc.wait(), 30)
        log = log_path.read_text()
        assert code == 0, log[-3000:]
        assert f"health endpoint on http://127.0.0.1:{port}" in log
        assert listening_addresses(port) == set()


async def test_health_port_already_taken_is_one_line_and_status_2(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    guild = fake_discord.add_guild(name="Process")
    async with FakeLaCale() as lacale:
        env = env_for(tmp_path, fake_discord, lacale, guild.id)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            env.update(HEALTH_PORT=str(port), LOG_LEVEL="WARNING")
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                env=env,
                cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    lines = [line for line in err.decode().splitlines() if line.startswith("vigie:")]
    assert lines == [
        f"vigie: HEALTH_PORT: cannot listen on 127.0.0.1:{port} (address already in use); choose a free port or unset HEALTH_PORT"
    ]
    assert "Traceback" not in err.decode()
