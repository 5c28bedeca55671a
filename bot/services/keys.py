"""API keys at rest: Fernet encryption and a fingerprint that reveals nothing.

The one place keys are encrypted or decrypted. Every key that passes through here is
registered with the log redaction, so no log line can show it afterwards.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from bot.redaction import secrets


class KeyDecryptError(Exception):
    """The stored token cannot be decrypted (SECRET_KEY changed or the row was altered)."""


class KeyVault:
    def __init__(self, fernet_key: bytes) -> None:
        self._fernet = Fernet(fernet_key)
        # A separate HMAC key: the fingerprint must not help an attacker test guesses
        # against the database unless they also hold SECRET_KEY.
        self._fingerprint_key = hashlib.sha256(b"vigie-fingerprint-v1:" + fernet_key).digest()

    def encrypt(self, api_key: str) -> str:
        secrets.add(api_key)
        return self._fernet.encrypt(api_key.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            api_key = self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError) as exc:
            raise KeyDecryptError("stored key cannot be decrypted with this SECRET_KEY") from exc
        secrets.add(api_key)
        return api_key

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
