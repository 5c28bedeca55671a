"""Errors that services raise for the user to read.

A service knows *what* went wrong, not how to say it to a Discord user: it raises
:class:`UserError` with a catalogue key and values; the command tree's error handler
renders it in the member's language.
"""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """A refusal with a clear message: bad input, missing key, missing permission..."""

    def __init__(self, key: str, /, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


class NoKey(UserError):
    """No La Cale key usable for this action (no server key and no personal key)."""

    def __init__(self, key: str = "error.no_key", /, **values: Any) -> None:
        super().__init__(key, **values)


class KeyUnreadable(UserError):
    """A key is stored but cannot be decrypted (Vigie's SECRET_KEY changed): not the same
    as no key, and not fixed the same way."""
