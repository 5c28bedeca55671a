"""API keys at rest: Fernet encryption and a fingerprint that reveals nothing.

The one place keys are encrypted or decrypted. Every key that passes through here is
registered with the log redaction, so no log line can show it afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.redaction import secrets


class KeyDecryptError(Exception):
    """The stored token cannot be decrypted (SECRET_KEY changed or the row was altered)."""


class KeyVault:
    """Encrypts with the current key; decrypts with it or any previous one.

    ``old_keys`` are the Fernet keys of earlier ``SECRET_KEY`` values (``SECRET_KEY_OLD``):
    tokens written under them stay readable, and :meth:`rotate` re-encrypts them under the
    current key so that the old secret can eventually be dropped.
    """

    def __init__(self, fernet_key: bytes, old_keys: Sequence[bytes] = ()) -> None:
        self._current = Fernet(fernet_key)
        self._fernet = MultiFernet([self._current, *(Fernet(k) for k in old_keys if k != fernet_key)])
        # A separate HMAC key: the fingerprint must not help an attacker test guesses
        # against the database unless they also hold SECRET_KEY.
        self._fingerprint_key = hashlib.sha256(b"vigie-fingerprint-v1:" + fernet_key).digest()

    def encrypt(self, api_key: str) -> str:
        secrets.add(api_key)
        return self._current.encrypt(api_key.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            api_key = self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError) as exc:
            raise KeyDecryptError("stored key cannot be decrypted with SECRET_KEY nor SECRET_KEY_OLD") from exc
        secrets.add(api_key)
        return api_key

    def decrypt_or_none(self, token: str | None) -> str | None:
        """The key in ``token``, or ``None`` when there is none or it cannot be read (a key
        being replaced or removed: only its caches need it, to drop them)."""
        if not token:
            return None
        try:
            return self.decrypt(token)
        except KeyDecryptError:
            return None

    def is_current(self, token: str) -> bool:
        """Whether ``token`` was written under the current key (nothing to rotate)."""
        try:
            self._current.decrypt(token.encode("ascii"))
        except (InvalidToken, ValueError):
            return False
        return True

    def rotate(self, token: str) -> str | None:
        """``token`` re-encrypted under the current key, or ``None`` when it already is
        (no write needed: rotating every row at every start would rewrite the table).
        Raises :class:`KeyDecryptError` when no key, current or old, reads it."""
        if self.is_current(token):
            return None
        try:
            rotated = self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError) as exc:
            raise KeyDecryptError("stored key cannot be decrypted with SECRET_KEY nor SECRET_KEY_OLD") from exc
        # Register the key with the log redaction, as every decryption does.
        self.decrypt(rotated)
        return rotated

    def fingerprint(self, api_key: str) -> str:
        """Short, stable, non-reversible: ``a1b2-c3d4``. Shown instead of the key."""
        digest = hmac.new(self._fingerprint_key, api_key.encode(), hashlib.sha256).hexdigest()
        return f"{digest[:4]}-{digest[4:8]}"


def normalize_api_key(raw: str) -> str | None:
    """The key as typed in a modal: spaces and quotes people paste around it removed.
    ``None`` when what remains cannot be a key (empty, inner spaces, too long)."""
    key = raw.strip().strip("\"'`").strip()
    if not key or len(key) > 256 or any(c.isspace() for c in key) or not key.isprintable():
        return None
    return key
