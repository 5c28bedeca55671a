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
    # Alembic narrates every start at INFO ("Context impl SQLiteImpl.", "setup plugin ...");
    # the bot logs one line of its own when it migrates. Its details only at DEBUG.
    logging.getLogger("alembic").setLevel(
        logging.DEBUG if level == "DEBUG" else max(logging.WARNING, logging.getLevelName(level))
    )
    voice = logging.getLogger("discord.client")
    if not any(isinstance(f, _NoVoiceWarnings) for f in voice.filters):
        voice.addFilter(_NoVoiceWarnings())


class _NoVoiceWarnings(logging.Filter):
    """discord.py warns at every start that PyNaCl/davey are missing "so voice will NOT be
    supported": Vigie never joins a voice channel, so the warning only worries operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING and "voice will NOT be supported" in record.getMessage())
