"""One async engine per process, with the SQLite pragmas Vigie relies on."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def ensure_sqlite_directory(database_url: str) -> None:
    """Create the folder of a SQLite file (``./data`` on a fresh machine)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    ensure_sqlite_directory(database_url)
    engine = create_async_engine(database_url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the poller write while commands read; foreign keys are off by
            # default in SQLite and the schema's cascades depend on them; busy_timeout
            # absorbs the short write locks of concurrent sessions.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def default_database_url() -> str:
    return os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///data/vigie.sqlite3")


class DatabaseUnavailable(Exception):
    """The database cannot be opened, reached or migrated; ``str()`` is one line for the
    operator (``vigie`` prints it and exits with ExitCode.DATABASE)."""


def safe_database_url(database_url: str) -> str:
    """DATABASE_URL with its password masked, fit for a message."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:
        return "DATABASE_URL"


def sqlite_location_problem(database_url: str) -> str | None:
    """Why a SQLite file could not be created where DATABASE_URL says, without creating
    anything (``vigie check``); None when it exists or could be created."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).expanduser().resolve()
    if path.exists():
        return None if path.is_file() else f"{path} exists and is not a file"
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"cannot create the SQLite file {path}: {ancestor} is a file, not a folder"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot create the SQLite file {path}: no permission to write in {ancestor}"
    return None


def describe_database_error(exc: BaseException, database_url: str) -> str:
    """One line saying what is wrong with the database and what to do, without its password."""
    where = safe_database_url(database_url)
    url = None
    with contextlib.suppress(Exception):
        url = make_url(database_url)
    backend = url.get_backend_name() if url is not None else ""
    # SQLAlchemy wraps the driver's error; the driver's says what happened.
    orig = getattr(exc, "orig", None) or exc
    text = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if isinstance(orig, ModuleNotFoundError):
        return f"{where} needs the {orig.name} driver: pip install 'vigie[postgres]'"
    if backend == "sqlite" and url is not None and url.database:
        path = Path(url.database).expanduser().resolve()
        if isinstance(orig, OSError):  # creating the folder failed
            reason = orig.strerror or text
            return (
                f"cannot create the folder for the SQLite file {path}: {reason} ({orig.filename or path.parent}); "
                "set DATABASE_URL to a path this user can write"
            )
        if "unable to open database file" in text or "readonly" in text or "read-only" in text:
            return f"cannot open or write the SQLite file {path} ({text}); check that its folder exists and is writable by this user"
        return f"SQLite file {path}: {text}"
    if isinstance(orig, OSError):  # connection refused, unknown host...
        host = f"{url.host}:{url.port or 5432}" if url is not None and url.host else where
        reason = orig.strerror or text
        if orig.errno and not isinstance(orig, socket.gaierror):  # asyncio words ECONNREFUSED "Connect call failed"
            reason = os.strerror(orig.errno)
        return f"cannot reach the database server {host}: {reason.lower()}"
    if isinstance(orig, TimeoutError):
        return f"the database server of {where} did not answer in time"
    return f"{where}: {type(orig).__name__}: {text}"
