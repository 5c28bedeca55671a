"""A fresh PostgreSQL database per test on the session's throwaway server (tests/support/postgres.py)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.support.postgres import postgres_url  # noqa: F401  (fixture re-exported for the tests' modules)


def plain(url: str) -> str:
    """The asyncpg spelling of a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture
async def fresh_db(postgres_url: str) -> AsyncIterator[str]:
    """The SQLAlchemy URL of a new, empty database, dropped after the test."""
    name = "vigie_" + secrets.token_hex(6)
    admin = await asyncpg.connect(plain(postgres_url))
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    yield postgres_url.rsplit("/", 1)[0] + "/" + name
    admin = await asyncpg.connect(plain(postgres_url))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()
