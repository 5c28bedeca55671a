"""A throwaway PostgreSQL server on loopback, for the tests that check the code is
portable (DATABASE_URL=postgresql+asyncpg://...). Skipped where no server binary exists."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("pg_ctl")
    return Path(which).parent if which else None


class PostgresUnavailable(Exception):
    """No server binaries here, or root without ``runuser``: the caller skips or stops."""


class ThrowawayServer:
    """One PostgreSQL server of its own, in a temporary folder, on a free loopback port.

    Not under pytest's tmp dir: that one is private to the current user (0700), and the
    server runs as the postgres user when the tests run as root. ``stop()``/``start()`` let
    a test cause an outage; :func:`throwaway_postgres` removes everything at the end.
    """

    def __init__(self, *, name: str = "vigie-pg-", options: str = "") -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise PostgresUnavailable("no PostgreSQL server binaries on this machine (/usr/lib/postgresql/*/bin)")
        self._bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix=name))
        self._data = self.root / "data"
        self._prefix: list[str] = []
        if os.geteuid() == 0:  # postgres refuses to run as root
            runuser = shutil.which("runuser")
            if runuser is None:
                shutil.rmtree(self.root, ignore_errors=True)
                raise PostgresUnavailable("running as root without runuser")
            shutil.chown(self.root, "postgres")
            self._prefix = [runuser, "-u", "postgres", "--"]
        self.port = _free_port()
        self._options = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off {options}".strip()
        self.url = f"postgresql+asyncpg://vigie@127.0.0.1:{self.port}/postgres"
        subprocess.run(
            [
                *self._prefix,
                str(self._bin / "initdb"),
                "-D",
                str(self._data),
                "-U",
                "vigie",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        subprocess.run(
            [
                *self._prefix,
                str(self._bin / "pg_ctl"),
                "-D",
                str(self._data),
                "-w",
                "-l",
                str(self.root / "log"),
                "-o",
                self._options,
                "start",
            ],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            [*self._prefix, str(self._bin / "pg_ctl"), "-D", str(self._data), "-m", "immediate", "stop"],
            capture_output=True,
        )


@contextmanager
def throwaway_postgres(*, name: str = "vigie-pg-", options: str = "") -> Iterator[ThrowawayServer]:
    """A started :class:`ThrowawayServer`, stopped and removed on the way out."""
    server = ThrowawayServer(name=name, options=options)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        with throwaway_postgres() as server:
            yield server.url
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


async def empty_public_schema(engine: AsyncEngine) -> None:
    """The session's PostgreSQL is shared by the tests that use it: each starts from an
    empty ``public`` schema (no tables, no Alembic revision)."""
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
