"""Logging configuration: one format, redaction installed before anything logs."""

from __future__ import annotations

import logging
import sys

from bot.redaction import install_redaction


def configure_logging(level: str = "INFO") -> None:
    install_redaction()
    root = logging.getLogger()
    if not any(getattr(h, "_vigie", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
        handler._vigie = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # discord.py's INFO is useful; its DEBUG (raw payloads) only when asked for.
    logging.getLogger("discord").setLevel(level)
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
