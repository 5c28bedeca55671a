"""The Dockerfile and compose.yaml, checked without a Docker engine (none runs here):
their structure parsed, the image's dependency step and health check run for real, and
``docker compose config`` when the Docker CLI has its compose plugin."""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings
from bot.observability.health import HealthServer
from bot.observability.metrics import Metrics
from tests.support.postgres import _free_port

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        current += (" " if current else "") + stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            lines.append(current)
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def default_of(value: str) -> str:
    """``${NAME:-default}`` -> ``default``."""
    match = re.fullmatch(r"\$\{\w+:-([^}]*)\}", str(value))
    return match.group(1) if match else str(value)


# -- compose.yaml ---------------------------------------------------------------------------------
def test_compose_runs_postgres_then_one_migration_then_bot_replicas() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "migrate", "bot", "proxy"}

    pg = services["postgres"]
    assert pg["image"].startswith("postgres:15")
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in pg["volumes"])
    assert pg["volumes"][0].split(":")[0] in compose()["volumes"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])

    migrate = services["migrate"]
    assert migrate["command"] == ["vigie", "db", "upgrade"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    assert migrate["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")

    bot = services["bot"]
    assert bot["image"] == migrate["image"]
    assert bot["deploy"]["replicas"] == 2
    assert bot["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert bot["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert bot["env_file"] == ".env"
    env = bot["environment"]
    assert env["DATABASE_URL"] == migrate["environment"]["DATABASE_URL"]
    assert "@postgres:5432/" in env["DATABASE_URL"]
    # As many slots as replicas by default; the layout is the same for every replica.
    assert int(default_of(env["CLUSTER_COUNT"])) == bot["deploy"]["replicas"]
    assert int(default_of(env["SHARD_COUNT"])) >= int(default_of(env["CLUSTER_COUNT"]))
    assert "CLUSTER_ID" not in env  # identical replicas: each takes the first free slot
    assert env["HEALTH_PORT"] == "8080"
    # Every other variable the bot is given is one of its settings.
    known = {name.upper() for name in Settings.model_fields} | {"SHARD_COUNT", "CLUSTER_COUNT"}
    assert set(env) <= known, set(env) - known

    proxy = services["proxy"]
    assert proxy["profiles"] == ["proxy"]
    assert "nirn-proxy" in proxy["image"] or "discordjs/proxy" in proxy["image"]
    assert "DISCORD_API_BASE" in env
    assert "http://proxy:8080/api/v10" in (ROOT / "compose.yaml").read_text()
    # Only the proxy is optional.
    assert [name for name, s in services.items() if "profiles" in s] == ["proxy"]


def test_compose_config_accepted_by_docker_compose(tmp_path: Path) -> None:
    """``docker compose config -q`` on the file (needs only the CLI and its compose plugin,
    not an engine)."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no docker CLI with the compose plugin on this machine")
    shutil.copy(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    (tmp_path / ".env").write_text("DISCORD_TOKEN=x\nSECRET_KEY=0123456789abcdef0123\nPOSTGRES_PASSWORD=secret\n")
    for profile in ([], ["--profile", "proxy"]):
        result = subprocess.run(
            [docker, "compose", *profile, "-f", "compose.yaml", "config", "-q"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr


# -- Dockerfile -----------------------------------------------------------------------------------
def test_dockerfile_installs_dependencies_before_copying_the_code() -> None:
    steps = dockerfile()
    copies = [(i, args) for i, (op, args) in enumerate(steps) if op == "COPY"]
    runs = [(i, args) for i, (op, args) in enumerate(steps) if op == "RUN"]
    first_copy_index, first_copy = copies[0]
    assert first_copy.split()[:-1] == ["pyproject.toml"]  # only the dependency metadata
    deps_index = next(i for i, args in runs if "pip install -r" in args)
    code_copies = [i for i, args in copies if re.search(r"\b(bot|cogs|migrations)\b", args)]
    assert first_copy_index < deps_index < min(code_copies)
    # The code's own install adds nothing from the network.
    assert any("--no-deps" in args for i, args in runs if i > min(code_copies))


def test_dockerfile_dependency_step_lists_every_dependency() -> None:
    """The RUN step's script, run on the real pyproject.toml, lists every runtime and
    PostgreSQL dependency (so the layer really holds them all)."""
    run = next(args for op, args in dockerfile() if op == "RUN" and "tomllib" in args)
    script = shlex.split(run.split(">", 1)[0])[2]  # python -c '<script>' > /tmp/requirements.txt
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    names = {re.split(r"[<>=\[ ]", line)[0].lower() for line in out.splitlines() if line}
    assert {"discord.py", "prometheus-client", "asyncpg", "sqlalchemy", "alembic", "aiohttp"} <= names


def test_dockerfile_non_root_volume_and_healthcheck() -> None:
    steps = dockerfile()
    ops = [op for op, _ in steps]
    user = [args for op, args in steps if op == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert any("/data" in args for op, args in steps if op == "VOLUME")
    env = " ".join(args for op, args in steps if op == "ENV")
    assert re.search(r"\bHEALTH_PORT=\d+", env)
    assert ops.count("HEALTHCHECK") == 1
    health = next(args for op, args in steps if op == "HEALTHCHECK")
    assert "/healthz" in health and "urllib" in health and "curl" not in health


async def test_dockerfile_healthcheck_command_follows_healthz() -> None:
    """The HEALTHCHECK's command, run as Docker runs it (``sh -c``): 0 while /healthz
    answers, non-zero when nothing does."""
    health = next(args for op, args in dockerfile() if op == "HEALTHCHECK")
    command = health.split(" CMD ", 1)[1]
    port = _free_port()
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HEALTH_PORT": str(port)}

    async def run() -> int:
        proc = await asyncio.create_subprocess_exec(
            "sh", "-c", command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return await asyncio.wait_for(proc.wait(), 30)

    assert await run() != 0  # nothing listening yet
    server = HealthServer(object(), Metrics(), host="127.0.0.1", port=port)
    await server.start()
    try:
        assert await run() == 0
    finally:
        await server.stop()
