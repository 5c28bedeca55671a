"""``@discordjs/proxy`` (npm), the shared REST rate-limit proxy, in front of the fake Discord.

The package is installed once into a cache directory outside the repository
(``$VIGIE_TEST_NODE_CACHE``, default ``~/.cache/vigie-test-node``) by the session fixture
``discord_proxy_modules``, at pinned versions, so ``.ci/run`` needs nothing beyond node and
npm. Without node or npm, or when npm cannot install the package, the tests that need the
proxy are skipped with the reason.

``run_discord_proxy(modules, upstream_api)`` starts ``tests/fakes/discord_proxy.js`` (a
``node:http`` server around ``proxyRequests(new REST({ api: upstream }))``) and yields the
API base to give the bot (``DISCORD_API_BASE``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

#: Pinned: the behaviour documented in the README (408/504 passed through, 429s waited out,
#: X-RateLimit headers dropped) was checked against these versions.
PACKAGES = {"@discordjs/proxy": "2.1.1", "@discordjs/rest": "2.6.3"}
SCRIPT = Path(__file__).resolve().parents[1] / "fakes" / "discord_proxy.js"


def _cache_dir() -> Path:
    return Path(os.environ.get("VIGIE_TEST_NODE_CACHE") or Path.home() / ".cache" / "vigie-test-node")


def _installed(prefix: Path) -> bool:
    for name, version in PACKAGES.items():
        manifest = prefix / "node_modules" / name / "package.json"
        try:
            if json.loads(manifest.read_text())["version"] != version:
                return False
        except (OSError, ValueError, KeyError):
            return False
    return True


class ProxyUnavailable(Exception):
    """Why @discordjs/proxy cannot run here (no node or npm, npm install failed)."""


def install_discord_proxy() -> Path:
    """The ``node_modules`` directory holding @discordjs/proxy, installed on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise ProxyUnavailable("@discordjs/proxy needs node and npm (Node.js 18 or newer) on PATH")
    prefix = _cache_dir()
    if not _installed(prefix):
        prefix.mkdir(parents=True, exist_ok=True)
        specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
        try:
            done = subprocess.run(
                [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", *specs],
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            raise ProxyUnavailable("npm install @discordjs/proxy timed out (is the npm registry reachable?)") from None
        if done.returncode != 0 or not _installed(prefix):
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ProxyUnavailable(f"npm could not install @discordjs/proxy into {prefix}: {' / '.join(tail)}")
    return prefix / "node_modules"


@pytest.fixture(scope="session")
def discord_proxy_modules() -> Iterator[Path]:
    """The ``node_modules`` directory holding @discordjs/proxy; skips the test without it."""
    try:
        yield install_discord_proxy()
    except ProxyUnavailable as exc:
        pytest.skip(str(exc))


@contextlib.asynccontextmanager
async def run_discord_proxy(modules: Path, upstream_api: str, *, timeout_ms: int = 15000) -> AsyncIterator[str]:
    """Starts the proxy in front of ``upstream_api`` (``http://host:port/api``, no version)
    and yields the base to give discord.py (``http://127.0.0.1:N/api/v10``)."""
    env = {**os.environ, "NODE_PATH": str(modules), "PROXY_TIMEOUT_MS": str(timeout_ms)}
    proc = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node",
        str(SCRIPT),
        upstream_api,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            port = int(json.loads(line)["port"])
        except (TimeoutError, ValueError, KeyError) as exc:
            proc.kill()
            _, err = await proc.communicate()
            raise RuntimeError(f"@discordjs/proxy did not start: {err.decode()[-2000:]}") from exc
        yield f"http://127.0.0.1:{port}/api/v10"
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
