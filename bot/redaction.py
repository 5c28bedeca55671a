"""Keeping secrets out of logs, whatever the level.

Three layers, because a key can reach a log line by three roads:
1. known secrets (every key Vigie decrypted or registered, the Discord token) are
   replaced wherever they appear;
2. ``apikey=``, ``passkey=``, ``token=`` values and ``X-Api-Key`` headers are masked by
   pattern, so a key Vigie has never seen (a typo, someone else's) is masked too;
3. discord.py's DEBUG logging prints raw gateway payloads, including the values typed
   in modals *before* Vigie knows them to be keys: text inputs whose ``custom_id`` starts
   with :data:`SECRET_INPUT_PREFIX` are blanked in structured log arguments and by
   pattern in the formatted text.

The redaction happens in a LogRecord factory, so it covers every handler (files,
console, pytest's caplog) and every library, not only loggers we configure.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

#: Prefix of the custom_id of every modal text input that holds a secret.
SECRET_INPUT_PREFIX = "vigie:secret:"
MASK = "***"

_QUERY_SECRET = re.compile(r"(?i)\b(apikey|api_key|passkey|token|x-api-key)(\s*[=:]\s*[\"']?)([^\s&\"',;}]+)")
# A text input's value next to a secret custom_id, in the repr (single quotes) or JSON form.
_INPUT_VALUE_AFTER = re.compile(
    r"""(['"]custom_id['"]\s*:\s*['"]""" + re.escape(SECRET_INPUT_PREFIX) + r"""[^'"]*['"][^{}]*?['"]value['"]\s*:\s*)(['"])((?:\\.|(?!\2).)*)\2"""
)
_INPUT_VALUE_BEFORE = re.compile(
    r"""(['"]value['"]\s*:\s*)(['"])((?:\\.|(?!\2).)*)\2([^{}]*?['"]custom_id['"]\s*:\s*['"]""" + re.escape(SECRET_INPUT_PREFIX) + ")"
)


class SecretRegistry:
    """Secrets known to this process; thread-safe, values never leave it except as masks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()

    def add(self, *secrets: str | None) -> None:
        # Very short strings would mask ordinary words; real keys are long.
        fresh = {s for s in secrets if s and len(s) >= 6}
        if fresh - self._secrets:
            with self._lock:
                self._secrets = self._secrets | fresh

    def discard(self, secret: str) -> None:
        with self._lock:
            self._secrets = self._secrets - {secret}

    def __iter__(self) -> Iterable[str]:  # type: ignore[override]
        return iter(self._secrets)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        text = _QUERY_SECRET.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
        text = _INPUT_VALUE_AFTER.sub(lambda m: m.group(1) + m.group(2) + MASK + m.group(2), text)
        text = _INPUT_VALUE_BEFORE.sub(lambda m: m.group(1) + m.group(2) + MASK + m.group(2) + m.group(4), text)
        return text


secrets = SecretRegistry()


def scrub_structure(value: Any, _depth: int = 0) -> Any:
    """A copy of a log argument with secret text inputs blanked (dicts/lists only)."""
    if _depth > 40:
        return value
    if isinstance(value, dict):
        custom_id = value.get("custom_id")
        out = {k: scrub_structure(v, _depth + 1) for k, v in value.items()}
        if isinstance(custom_id, str) and custom_id.startswith(SECRET_INPUT_PREFIX) and "value" in out:
            out["value"] = MASK
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(scrub_structure(v, _depth + 1) for v in value)
    return value


def _redact_record(record: logging.LogRecord) -> None:
    try:
        if record.args:
            args = record.args
            if isinstance(args, dict):
                args = scrub_structure(args)
            else:
                args = tuple(scrub_structure(a) for a in args)
            message = str(record.msg) % args if args else str(record.msg)
        else:
            message = str(record.msg)
    except Exception:  # a malformed log call: let logging report it as usual
        return
    record.msg = secrets.redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = secrets.redact(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = secrets.redact(record.exc_text)


class RedactingFilter(logging.Filter):
    """Also usable on a handler, for records created before the factory was installed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_vigie_redacted", False):
            _redact_record(record)
            record._vigie_redacted = True  # type: ignore[attr-defined]
        return True


_installed = False


def install_redaction() -> None:
    """Redact every LogRecord at creation, in every logger (idempotent)."""
    global _installed
    if _installed:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        record._vigie_redacted = True  # type: ignore[attr-defined]
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
