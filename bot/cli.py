"""``vigie``: run the bot (default), manage the database, sync commands, check a setup,
and talk to La Cale from a shell (``vigie api ...``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.config import ConfigError, Settings, load_settings
from bot.logging_setup import configure_logging

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    from bot.cli_api import add_api_parser

    parser = argparse.ArgumentParser(prog="vigie", description="Vigie: La Cale inside Discord.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations (idempotent)")
    sub.add_parser("sync", help="sync application commands to Discord now")
    sub.add_parser("check", help="check settings, database, Discord login and (with LACALE_API_KEY) La Cale")
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
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"vigie: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.log_level)
    try:
        if command == "db":
            return asyncio.run(_db_upgrade(settings))
        if command == "sync":
            return asyncio.run(_sync(settings))
        from bot.app import run_bot

        asyncio.run(run_bot(settings))
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_OK
    except _DiscordLoginFailed as exc:
        print(f"vigie: {exc}", file=sys.stderr)
        return EXIT_FAILURE


class _DiscordLoginFailed(Exception):
    pass


async def _db_upgrade(settings: Settings) -> int:
    from bot.db.engine import create_engine
    from bot.db.migrate import upgrade_database

    engine = create_engine(settings.database_url)
    try:
        before, after = await upgrade_database(engine)
    finally:
        await engine.dispose()
    if before == after:
        print(f"database already at {after}")
    else:
        print(f"database upgraded from {before or 'empty'} to {after}")
    return EXIT_OK


async def _sync(settings: Settings) -> int:
    import discord

    from bot.app import VigieBot

    if settings.discord_api_base:
        from bot.discord_api_base import use_discord_api_base

        use_discord_api_base(settings.discord_api_base)
    bot = VigieBot(settings.model_copy(update={"sync_commands": False}))
    try:
        async with bot:
            await bot.login(settings.discord_token.get_secret_value())
            count = await bot.sync_commands(force=True)
    except discord.LoginFailure as exc:
        raise _DiscordLoginFailed(f"Discord refused the token: {exc}") from None
    print(f"synced {count} commands")
    return EXIT_OK


async def _check() -> int:
    """One line per check; stops at the first failure with a non-zero status."""
    import os

    def line(ok: bool, what: str) -> None:
        print(f"[{'ok' if ok else 'FAIL'}] {what}")

    try:
        settings = load_settings()
    except ConfigError as exc:
        line(False, f"settings: {exc}")
        return EXIT_USAGE
    line(True, "settings")
    configure_logging("WARNING")

    from bot.db.engine import create_engine
    from bot.db.migrate import upgrade_database

    engine = create_engine(settings.database_url)
    try:
        _, after = await upgrade_database(engine)
    except Exception as exc:  # any driver error: report it, do not dump a traceback
        line(False, f"database: {type(exc).__name__}: {exc}")
        return 3
    finally:
        await engine.dispose()
    line(True, f"database at revision {after}")

    import discord

    if settings.discord_api_base:
        from bot.discord_api_base import use_discord_api_base

        use_discord_api_base(settings.discord_api_base)
    http_client = discord.Client(intents=discord.Intents.none())
    try:
        await http_client.login(settings.discord_token.get_secret_value())
        user = http_client.user
        line(True, f"discord login as {user} ({user.id if user else '?'})")
    except discord.LoginFailure:
        line(False, "discord login: the token was refused")
        return 4
    except (discord.HTTPException, OSError) as exc:
        line(False, f"discord login: {type(exc).__name__}")
        return 5
    finally:
        await http_client.close()

    api_key = os.environ.get("LACALE_API_KEY")
    if not api_key:
        print("[skip] La Cale: set LACALE_API_KEY to check a key")
        return EXIT_OK
    from bot.lacale.client import LaCaleClient
    from bot.lacale.errors import AuthError, LaCaleError

    try:
        async with LaCaleClient(api_key, base_url=settings.lacale_base_url, timeout=settings.http_timeout_seconds) as client:
            meta = await client.meta()
    except AuthError as exc:
        line(False, f"La Cale: key refused ({type(exc).__name__})")
        return 6
    except LaCaleError as exc:
        line(False, f"La Cale at {settings.lacale_base_url}: {type(exc).__name__}")
        return 7
    line(True, f"La Cale at {settings.lacale_base_url}: key accepted, {sum(1 for _ in meta.walk_categories())} categories")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
