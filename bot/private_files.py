"""Writing a file only its owner can read, in place of another, without a window.

``vigie api download`` (a .torrent carries its owner's passkey) and ``vigie db backup``
(the database holds encrypted keys) both write through a new temporary file renamed over
the target: an existing file's mode is not kept, a symlink at the target is replaced
rather than written through, and an interrupted write never damages the previous file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_private_temp(directory: Path, name: str) -> tuple[int, Path]:
    """A new, empty 0600 file in ``directory``, open for writing: exclusive creation never
    opens an existing file or follows a link planted under the chosen name. Raises
    ``FileExistsError`` when no free name is found, ``OSError`` when the folder refuses."""
    for _ in range(100):
        candidate = directory / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(
                candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
            ), candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable; best effort (not every platform can open a
    directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
