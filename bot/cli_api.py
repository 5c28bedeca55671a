"""``vigie api ...``: La Cale from a shell, for operators and scripts.

JSON on stdout, one line on stderr on failure, and an exit status a script can branch on
(see :data:`EXIT_CODES`; the same table as every ``vigie`` command, :class:`ExitCode`). These commands need only a La Cale key: no Discord token, no
database, no ``SECRET_KEY``, so they also work to check a key or a server in isolation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.config import INSECURE_HTTP_SETTING, check_lacale_base_url
from bot.exit_codes import EXIT_STATUS_HELP, ExitCode
from bot.lacale.client import DEFAULT_BASE_URL, LaCaleClient
from bot.lacale.errors import (
    AuthError,
    BadRequest,
    Duplicate,
    InvalidRequest,
    LaCaleError,
    NotFound,
    RateLimited,
    ResponseTooLarge,
    Unavailable,
)
from bot.lacale.models import (
    Torrent,
    UploadFile,
    UploadRequest,
    UploadResult,
    url_carries_secret,
)
from bot.private_files import create_private_temp, fsync_directory

EXIT_OK = ExitCode.OK
EXIT_OTHER = ExitCode.FAILURE
EXIT_USAGE = ExitCode.USAGE
EXIT_AUTH = ExitCode.AUTH
EXIT_RATE_LIMITED = ExitCode.RATE_LIMITED
EXIT_UNAVAILABLE = ExitCode.UNAVAILABLE
EXIT_DUPLICATE = ExitCode.DUPLICATE

#: Error class → exit status; first match wins (subclasses before bases).
EXIT_CODES: tuple[tuple[type[LaCaleError], int], ...] = (
    (InvalidRequest, EXIT_USAGE),
    (BadRequest, EXIT_USAGE),
    (NotFound, EXIT_USAGE),
    (AuthError, EXIT_AUTH),
    (RateLimited, EXIT_RATE_LIMITED),
    (ResponseTooLarge, EXIT_UNAVAILABLE),  # explicit: an unusable answer, like any other
    (Unavailable, EXIT_UNAVAILABLE),
    (Duplicate, EXIT_DUPLICATE),
)

ENV_KEY = "LACALE_API_KEY"
ENV_BASE_URL = "LACALE_BASE_URL"
#: First retry delay of GETs; a module constant so tests can make retries instant.
BACKOFF_BASE = 0.5


class _UsageError(Exception):
    """A local problem (missing key, unreadable file): exit status 2."""


# -- parser -------------------------------------------------------------------------------
def add_api_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``api`` and its subcommands to the ``vigie`` parser."""
    api = subparsers.add_parser(
        "api",
        help="talk to La Cale from a shell (JSON on stdout)",
        description=(
            "Search, read metadata, download or upload with a La Cale API key. Key from --api-key "
            f"or {ENV_KEY}; server from --base-url or {ENV_BASE_URL}. Exit status: 0 ok, 2 usage or "
            "refused request, 3 key missing/refused, 4 rate limited, 5 service unavailable, 6 duplicate."
        ),
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(api, default=None)
    sub = api.add_subparsers(dest="api_command", metavar="{search,meta,download,upload}")

    search = sub.add_parser("search", help="search approved torrents, newest first (50 max)")
    _add_common(search)
    search.add_argument("query", nargs="?", default=None, help="search text (none: the newest releases)")
    search.add_argument("--cat", action="append", default=[], metavar="SLUG", help="category slug (repeatable)")
    search.add_argument("--tmdb", metavar="ID", help="exact TMDB id")

    meta = sub.add_parser("meta", help="categories, tag groups and tags (slugs for search, ids for upload)")
    _add_common(meta)

    download = sub.add_parser("download", help="fetch a .torrent (personal: it embeds your passkey)")
    _add_common(download)
    download.add_argument("info_hash", metavar="INFOHASH")
    download.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write it ('-' for stdout)")

    upload = sub.add_parser("upload", help="upload a .torrent")
    _add_common(upload)
    upload.add_argument("file", metavar="FILE", help="the .torrent")
    upload.add_argument("--title", required=True)
    upload.add_argument("--category", required=True, metavar="ID", help="category id (see 'api meta')")
    upload.add_argument("--tag", action="append", default=[], metavar="ID", help="tag id (repeatable)")
    upload.add_argument("--nfo", metavar="FILE")
    upload.add_argument("--description")
    upload.add_argument("--tmdb", metavar="ID")
    upload.add_argument("--tmdb-type", type=str.upper, choices=("MOVIE", "TV"))
    upload.add_argument("--cover-url", metavar="URL")


def _add_common(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    """Connection options, accepted before or after the subcommand.

    Subcommands use SUPPRESS so that an option given to ``api`` is not reset by the
    subcommand's default.
    """
    parser.add_argument("--api-key", default=default, help=f"La Cale API key (default: ${ENV_KEY})")
    parser.add_argument("--base-url", default=default, help=f"server (default: ${ENV_BASE_URL} or {DEFAULT_BASE_URL})")
    parser.add_argument("--timeout", type=float, default=default, help="seconds per request (default 20)")
    parser.add_argument("--retries", type=int, default=default, help="retries of a failed read (default 3)")


# -- entry points -------------------------------------------------------------------------
def run_api(args: argparse.Namespace) -> int:
    """Run a parsed ``vigie api ...`` command; returns the exit status."""
    command = getattr(args, "api_command", None)
    if not command:
        _error(None, "choose a command: search, meta, download or upload (see vigie api --help)")
        return EXIT_USAGE
    key = (getattr(args, "api_key", None) or os.environ.get(ENV_KEY, "")).strip()
    try:
        if not key:
            raise _UsageError(f"no API key: pass --api-key or set {ENV_KEY}")
        result = asyncio.run(_dispatch(command, args, key))
    except _UsageError as exc:
        _error(command, _scrub(str(exc), key))
        return EXIT_USAGE
    except LaCaleError as exc:
        _error(command, _scrub(describe_error(exc), key))
        return exit_code_for(exc)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    if result is not None:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        sys.stdout.flush()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone ``vigie api`` (``python -m bot.cli_api api search ...``)."""
    parser = argparse.ArgumentParser(prog="vigie")
    add_api_parser(parser.add_subparsers(dest="command", required=True))
    return run_api(parser.parse_args(argv))


def exit_code_for(exc: LaCaleError) -> int:
    return next((code for cls, code in EXIT_CODES if isinstance(exc, cls)), EXIT_OTHER)


def describe_error(exc: LaCaleError) -> str:
    """One line for a human: what happened and, when useful, what to do."""
    message = exc.message or type(exc).__name__
    if isinstance(exc, InvalidRequest):
        limit = f" (limit {exc.limit})" if exc.limit is not None else ""
        return f"invalid {exc.field}{limit}: {message}"
    if isinstance(exc, RateLimited):
        return f"rate limited, retry in {exc.retry_after:.0f} s: {message}"
    if isinstance(exc, AuthError):
        hint = " (the key may lack the upload:write scope)" if getattr(exc, "upload", False) else ""
        return f"key refused{hint}: {message}" if exc.status == 403 else f"key missing: {message}"
    if isinstance(exc, ResponseTooLarge):
        return f"answer refused, too large: {message}"
    if isinstance(exc, Unavailable):
        return f"La Cale unavailable: {message}"
    if isinstance(exc, Duplicate):
        return f"duplicate: {message}"
    return message


# -- commands -----------------------------------------------------------------------------
async def _dispatch(command: str, args: argparse.Namespace, key: str) -> Any:
    base_url = (getattr(args, "base_url", None) or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL).strip()
    # The same rules as the bot's LACALE_BASE_URL: the key travels to this address.
    insecure_ok = os.environ.get(INSECURE_HTTP_SETTING, "").strip().lower() in ("1", "true", "yes", "on")
    try:
        base_url = check_lacale_base_url(base_url, allow_insecure_http=insecure_ok)
    except ValueError as exc:
        raise _UsageError(f"{ENV_BASE_URL} (or --base-url) {exc}") from None
    upload_req = _upload_request(args) if command == "upload" else None  # read files before connecting
    timeout = getattr(args, "timeout", None) or 20.0
    retries = getattr(args, "retries", None)
    async with LaCaleClient(
        key,
        base_url=base_url,
        timeout=timeout,
        max_retries=3 if retries is None else max(0, retries),
        backoff_base=BACKOFF_BASE,
    ) as client:
        if command == "search":
            found = await client.search(args.query, tmdb_id=args.tmdb, categories=args.cat)
            return [_torrent_json(t, client.base_url) for t in found]
        if command == "meta":
            return (await client.meta()).model_dump(mode="json", by_alias=True)
        if command == "download":
            data = await client.download_torrent(args.info_hash)
            return _write_torrent(data, args.output, args.info_hash)
        if command == "upload":
            if upload_req is None:
                raise RuntimeError("upload_req is set at this point")
            return _upload_json(await client.upload(upload_req), client.base_url)
    raise _UsageError(f"unknown command {command!r}")


def _torrent_json(t: Torrent, base_url: str) -> dict[str, Any]:
    """A result safe to paste anywhere: ``link`` never carries a key, passkey or token."""
    return {
        "title": t.title,
        "guid": t.guid,
        "size": t.size,
        "pub_date": t.pub_date.isoformat(),
        "category": t.category,
        "seeders": t.seeders,
        "leechers": t.leechers,
        "info_hash": t.info_hash,
        "link": t.page_url(base_url),
    }


def _upload_json(result: UploadResult, base_url: str) -> dict[str, Any]:
    out = result.model_dump(mode="json")
    link = out.get("link") or ""
    if result.slug and (not link or url_carries_secret(link) or not link.startswith(base_url.rstrip("/") + "/")):
        out["link"] = f"{base_url.rstrip('/')}/torrents/{result.slug}"
    return out


def _upload_request(args: argparse.Namespace) -> UploadRequest:
    torrent = _read_file(args.file, "torrent")
    nfo = _read_file(args.nfo, "NFO") if args.nfo else None
    if args.tmdb_type and not args.tmdb:
        raise _UsageError("--tmdb-type needs --tmdb")
    return UploadRequest(
        title=args.title,
        category_id=args.category,
        torrent=torrent,
        tags=tuple(args.tag),
        description=args.description or None,
        tmdb_id=args.tmdb or None,
        tmdb_type=args.tmdb_type or None,
        cover_url=args.cover_url or None,
        nfo=nfo,
    )


def _read_file(path: str, what: str) -> UploadFile:
    try:
        return UploadFile(Path(path).name, Path(path).read_bytes())
    except OSError as exc:
        raise _UsageError(f"cannot read the {what} file {path}: {exc.strerror or exc}") from None


def _write_torrent(data: bytes, output: str, info_hash: str) -> dict[str, Any] | None:
    """Owner-only permissions: the file embeds the account's passkey.

    A new file is always created (``O_CREAT|O_EXCL``, mode 0600) beside the target, written,
    synced, then renamed over it: an existing file's mode (0644) is not kept, and a symlink
    at ``output`` is replaced, never written through (its target stays untouched). A failure
    leaves the previous file as it was and no temporary file behind.
    """
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return None
    target = Path(output)
    if target.is_dir() and not target.is_symlink():
        raise _UsageError(f"cannot write {output}: it is a directory")
    directory = target.parent
    temp: Path | None = None
    try:
        fd, temp = create_private_temp(directory, target.name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
        temp = None
        fsync_directory(directory)
    except OSError as exc:
        raise _UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()
    return {"info_hash": info_hash.strip().lower(), "path": output, "size": len(data)}


def _scrub(text: str, key: str) -> str:
    return text.replace(key, "***") if key and key in text else text


def _error(command: str | None, message: str) -> None:
    print(f"vigie api{' ' + command if command else ''}: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
