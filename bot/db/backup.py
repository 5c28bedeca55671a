"""``vigie db backup FILE``: a consistent copy of a SQLite database, safe while the bot runs.

SQLite's online backup API (``sqlite3.Connection.backup``) copies the database as one
snapshot: in WAL mode the bot keeps writing meanwhile, and the copy holds exactly the
transactions committed when the copy began. Copying the file with ``cp`` instead may
catch a page half-written and misses what still sits in the ``-wal`` file.

The copy is written to a new 0600 file beside the target (it holds every server's La
Cale key, encrypted), checked, switched to a rollback journal so that it is one
self-contained file, then renamed over the target: a failure leaves any previous backup
as it was. PostgreSQL has its own tool for this, ``pg_dump``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.private_files import create_private_temp, fsync_directory

#: How long the copy waits for a writer's lock before giving up (the bot's own writes
#: take milliseconds).
BUSY_TIMEOUT_MS = 10_000


class BackupError(Exception):
    """The backup could not be made; ``str()`` is one line for the operator."""


class NotSQLite(BackupError):
    """The database is not SQLite: another tool makes its backups."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    source: Path
    target: Path
    size: int


def sqlite_path(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise NotSQLite(
            "vigie db backup copies SQLite databases; for PostgreSQL use pg_dump "
            '(e.g. pg_dump --format=custom --file=vigie.dump "$DATABASE_URL" with the postgresql:// form of the URL)'
        )
    if not url.database or url.database == ":memory:":
        raise BackupError("DATABASE_URL names no SQLite file to back up")
    return Path(url.database).expanduser().resolve()


def backup_sqlite(database_url: str, target: str | Path) -> BackupResult:
    source = sqlite_path(database_url)
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    out = Path(target).expanduser()
    if out.is_dir() and not out.is_symlink():
        raise BackupError(f"cannot write {out}: it is a directory")
    if out.exists() and out.resolve() == source:
        raise BackupError(f"{out} is the database itself; choose another file")
    directory = out.parent if str(out.parent) else Path(".")
    if not directory.is_dir():
        raise BackupError(f"cannot write {out}: the folder {directory} does not exist")
    temp: Path | None = _private_temp(directory, out.name)
    try:
        # Opened read-write (a WAL database is read through its -shm), but never written.
        src = sqlite3.connect(source.as_uri() + "?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            dst = sqlite3.connect(str(temp))
            try:
                src.backup(dst)  # pages=-1: the whole database in one step, one snapshot
                problem = dst.execute("PRAGMA quick_check").fetchone()[0]
                if problem != "ok":
                    raise BackupError(f"the copy does not pass SQLite's check ({problem}); the database may be damaged")
                # One self-contained file: no -wal/-shm beside the copy to forget.
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        if temp is None:  # set above; only the cleanup below clears it
            raise BackupError(f"cannot write {out}")
        written, temp = temp, None
        with open(written, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(written, out)
        fsync_directory(directory)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {source}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        if temp is not None:
            for leftover in (temp, Path(f"{temp}-journal"), Path(f"{temp}-wal"), Path(f"{temp}-shm")):
                with contextlib.suppress(OSError):
                    leftover.unlink()
    return BackupResult(source, out, out.stat().st_size)


def _private_temp(directory: Path, name: str) -> Path:
    """A new, empty 0600 file beside the target (see :mod:`bot.private_files`)."""
    try:
        fd, temp = create_private_temp(directory, name)
    except FileExistsError:
        raise BackupError(f"no free temporary name in {directory}") from None
    except OSError as exc:
        raise BackupError(f"cannot write in {directory}: {exc.strerror or exc}") from None
    os.close(fd)
    return temp
