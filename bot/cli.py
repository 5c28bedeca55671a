"""``vigie``: run the bot (default), manage the database, sync commands, check a setup,
and talk to La Cale from a shell (``vigie api ...``).

An operator's mistake (a missing setting, a wrong token, no network, an unusable database)
ends with one line per problem on stderr and a status from :class:`bot.exit_codes.ExitCode`,
never a traceback; only an unforeseen error prints one (status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from bot.config import (
    INSECURE_HTTP_SETTING,
    ConfigError,
    DatabaseSettings,
    Settings,
    is_loopback_host,
    load_database_settings,
    load_settings,
)
from bot.exit_codes import EXIT_STATUS_HELP, ExitCode
from bot.logging_setup import configure_logging

log = logging.getLogger("vigie")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("vigie")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    from bot.cli_api import add_api_parser

    parser = argparse.ArgumentParser(
        prog="vigie",
        description="Vigie: La Cale inside Discord.",
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    db = sub.add_parser("db", help="database maintenance (needs only DATABASE_URL)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations (idempotent); needs only DATABASE_URL")
    backup = db_sub.add_parser(
        "backup",
        help="copy a SQLite database to FILE, consistent while the bot runs (PostgreSQL: use pg_dump)",
        description="Copy the SQLite database to FILE (mode 0600) through SQLite's online backup API: "
        "consistent while the bot runs. Keep SECRET_KEY with the backup: the La Cale keys in it are "
        "encrypted with it and unreadable without it. For PostgreSQL, use pg_dump.",
    )
    backup.add_argument("file", metavar="FILE", help="where to write the copy (replaced if it exists)")
    sub.add_parser("sync", help="sync application commands to Discord now")
    sub.add_parser(
        "check",
        help="check settings, database (pending migrations are reported, not applied), Discord login and (with LACALE_API_KEY) La Cale",
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_api_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "run"
    if command == "api":
        from bot.cli_api import run_api

        return run_api(args)
    if command == "check":
        return asyncio.run(_check())
    if command == "db":
        return _db_command(args)
    settings = _load(load_settings)
    if settings is None:
        return ExitCode.USAGE
    try:
        if command == "sync":
            return asyncio.run(_sync(settings))
        from bot.app import run_bot

        if _insecure_http(settings):
            log.warning("%s", INSECURE_HTTP_WARNING)
        # Until run_bot installs its handlers, SIGTERM stops the start-up like Ctrl-C: status 0.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        asyncio.run(run_bot(settings))
        return ExitCode.OK
    except KeyboardInterrupt:
        return ExitCode.OK
    except Exception as exc:
        known = describe_failure(exc, settings)
        if known is None:
            raise
        log.debug("stopped by %s", type(exc).__name__, exc_info=exc)
        code, message = known
        _print_problems([message])
        return code


S = TypeVar("S", Settings, DatabaseSettings)

#: Said by the run (a log line) and by ``vigie check`` (a "warn" line).
INSECURE_HTTP_WARNING = (
    f"LACALE_BASE_URL is plain http:// ({INSECURE_HTTP_SETTING}=true): members' API keys travel unencrypted"
)


def _load(loader: Callable[[], S]) -> S | None:
    """Settings from ``loader`` with logging configured; None once every problem is
    printed (the caller exits with ExitCode.USAGE)."""
    try:
        settings = loader()
    except ConfigError as exc:
        _print_problems(exc.problems)
        return None
    configure_logging(settings.log_level)
    return settings


def _insecure_http(settings: Settings) -> bool:
    """LACALE_BASE_URL is plain http:// to another machine (the operator opted in)."""
    return settings.lacale_base_url.startswith("http://") and not _loopback(settings.lacale_base_url)


def _print_problems(problems: Sequence[str]) -> None:
    for problem in problems:
        print(f"vigie: {problem}", file=sys.stderr)


def _loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return is_loopback_host(urlsplit(url).hostname or "")


def describe_failure(exc: BaseException, settings: Settings) -> tuple[ExitCode, str] | None:
    """The status and the one line for a failure an operator can fix; None for a bug."""
    import aiohttp
    import discord

    from bot.cluster.membership import LayoutMismatch
    from bot.db.engine import DatabaseUnavailable
    from bot.observability.health import HealthServerError

    if isinstance(exc, LayoutMismatch):
        return ExitCode.USAGE, str(exc)
    if isinstance(exc, DatabaseUnavailable):
        return ExitCode.DATABASE, f"database: {exc}"
    if isinstance(exc, HealthServerError):
        return ExitCode.USAGE, str(exc)
    if isinstance(exc, discord.LoginFailure):
        return ExitCode.AUTH, (
            "Discord refused DISCORD_TOKEN (401 Unauthorized): copy it again from the Discord Developer Portal "
            "→ your application → Bot → Reset Token"
        )
    if isinstance(exc, discord.ConnectionClosed) and exc.code == 4004:
        return ExitCode.AUTH, "Discord's gateway refused DISCORD_TOKEN (4004): reset the token in the Developer Portal"
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return ExitCode.USAGE, f"Discord refused the gateway intents: {exc}"
    if isinstance(exc, discord.HTTPException):
        return (
            ExitCode.UNAVAILABLE,
            f"Discord answered {exc.status} {exc.text or exc.response.reason or ''}".rstrip() + "; retry later",
        )
    if isinstance(exc, (aiohttp.ClientError, discord.GatewayNotFound, OSError, TimeoutError)):
        return (
            ExitCode.UNAVAILABLE,
            f"cannot reach Discord at {_discord_where(settings)}: {_network_reason(exc)}; check the network and retry",
        )
    return None


def _discord_where(settings: Settings) -> str:
    from urllib.parse import urlsplit

    return urlsplit(settings.discord_api_base or "https://discord.com").netloc


def _network_reason(exc: BaseException) -> str:
    import aiohttp

    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, OSError) and os_error.errno and not isinstance(os_error, socket.gaierror):
            return os.strerror(os_error.errno).lower()
        return (getattr(os_error, "strerror", None) or str(os_error) or type(exc).__name__).lower()
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return (str(exc).splitlines() or [""])[0] or type(exc).__name__


def _db_command(args: argparse.Namespace | None = None) -> int:
    """``vigie db upgrade`` and ``vigie db backup FILE``: DATABASE_URL is all they need."""
    settings = _load(load_database_settings)
    if settings is None:
        return ExitCode.USAGE
    if args is not None and args.db_command == "backup":
        return _db_backup(settings.database_url, args.file)
    try:
        return asyncio.run(_db_upgrade(settings.database_url))
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:
        from bot.db.engine import describe_database_error

        log.debug("database error", exc_info=exc)
        _print_problems([f"database: {describe_database_error(exc, settings.database_url)}"])
        return ExitCode.DATABASE


def _db_backup(database_url: str, target: str) -> int:
    from bot.db.backup import BackupError, NotSQLite, backup_sqlite

    try:
        result = backup_sqlite(database_url, target)
    except NotSQLite as exc:
        _print_problems([str(exc)])
        return ExitCode.USAGE
    except BackupError as exc:
        _print_problems([f"backup: {exc}"])
        return ExitCode.DATABASE
    print(f"backup of {result.source} written to {result.target} ({result.size} bytes, readable by you only)")
    print(
        "keep SECRET_KEY along with this backup: the La Cale keys stored in it are encrypted with SECRET_KEY, "
        "and without it they are lost (servers and members would have to register them again)"
    )
    return ExitCode.OK


async def _db_upgrade(database_url: str) -> int:
    from bot.db.engine import create_engine
    from bot.db.migrate import upgrade_database

    engine = create_engine(database_url)
    try:
        before, after = await upgrade_database(engine)
    finally:
        await engine.dispose()
    if before == after:
        print(f"database already at {after}")
    else:
        print(f"database upgraded from {before or 'empty'} to {after}")
    return ExitCode.OK


async def _sync(settings: Settings) -> int:

    from bot.app import VigieBot

    if settings.discord_api_base:
        from bot.discord_api_base import use_discord_api_base

        use_discord_api_base(settings.discord_api_base)
    # Not a cluster member: no slot taken (all may be held), no background work.
    bot = VigieBot(settings.model_copy(update={"sync_commands": False}), member=False)
    async with bot:
        await bot.login(settings.discord_token.get_secret_value())
        count = await bot.sync_commands(force=True)
    print(f"synced {count} commands")
    return ExitCode.OK


async def _check() -> int:
    """One line per check, stopping at the first failure with its status (see ExitCode).
    Changes nothing: pending migrations are reported, not applied, and a SQLite file that
    does not exist yet is not created."""

    def line(tag: str, what: str) -> None:
        print(f"[{tag}] {what}")

    try:
        settings = load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            line("FAIL", f"settings: {problem}")
        return ExitCode.USAGE
    line("ok", "settings")
    configure_logging("WARNING")
    if _insecure_http(settings):
        line("warn", INSECURE_HTTP_WARNING)

    code = await _check_database(settings.database_url, line)
    if code != ExitCode.OK:
        return code

    import discord

    if settings.discord_api_base:
        from bot.discord_api_base import use_discord_api_base

        use_discord_api_base(settings.discord_api_base)
    # The guilds intent only so that discord.py does not warn about its absence: this
    # client logs in over HTTP and never connects to the gateway.
    http_client = discord.Client(intents=discord.Intents(guilds=True))
    try:
        await http_client.login(settings.discord_token.get_secret_value())
        user = http_client.user
        line("ok", f"discord login as {user} ({user.id if user else '?'})")
    except Exception as exc:
        known = describe_failure(exc, settings)
        if known is None:
            raise
        line("FAIL", f"discord login: {known[1]}")
        return known[0]
    finally:
        await http_client.close()

    api_key = os.environ.get("LACALE_API_KEY")
    if not api_key:
        print("[skip] La Cale: set LACALE_API_KEY to check a key")
        return ExitCode.OK
    from bot.cli_api import describe_error, exit_code_for
    from bot.lacale.client import LaCaleClient
    from bot.lacale.errors import AuthError, LaCaleError

    try:
        async with LaCaleClient(
            api_key, base_url=settings.lacale_base_url, timeout=settings.http_timeout_seconds
        ) as client:
            meta = await client.meta()
    except AuthError as exc:
        line("FAIL", f"La Cale: key refused ({type(exc).__name__})")
        return ExitCode.AUTH
    except LaCaleError as exc:
        line("FAIL", f"La Cale at {settings.lacale_base_url}: {describe_error(exc).replace(api_key, '***')}")
        return ExitCode(exit_code_for(exc))
    line(
        "ok",
        f"La Cale at {settings.lacale_base_url}: key accepted, {sum(1 for _ in meta.walk_categories())} categories",
    )
    return ExitCode.OK


async def _check_database(database_url: str, say: Callable[[str, str], None]) -> ExitCode:
    from bot.db.engine import create_engine, describe_database_error, safe_database_url, sqlite_location_problem
    from bot.db.migrate import pending_after, pending_migrations

    where = safe_database_url(database_url)
    problem = sqlite_location_problem(database_url)
    if problem is not None:
        say("FAIL", f"database: {problem}")
        return ExitCode.DATABASE
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        from pathlib import Path

        if not Path(url.database).expanduser().exists():  # noqa: ASYNC240 - one stat at start-up
            pending = pending_after(None)
            say("ok", f"database {where}: not created yet; {_pending_text(pending)}")
            return ExitCode.OK
    engine = create_engine(database_url)
    try:
        current, pending = await pending_migrations(engine)
    except Exception as exc:  # any driver error: one line, no traceback
        say("FAIL", f"database: {describe_database_error(exc, database_url)}")
        return ExitCode.DATABASE
    finally:
        await engine.dispose()
    if pending:
        say("ok", f"database {where} at revision {current or 'empty'}; {_pending_text(pending)}")
    else:
        say("ok", f"database at revision {current}")
    return ExitCode.OK


def _pending_text(pending: Sequence[str]) -> str:
    if not pending:
        return "no migration pending"
    return (
        f"{len(pending)} migration{'s' if len(pending) > 1 else ''} pending ({', '.join(pending)}): "
        "the bot applies them at start, or run `vigie db upgrade`"
    )


if __name__ == "__main__":
    raise SystemExit(main())
