"""Keeping secrets out of logs, whatever the level.

Four layers, because a secret can reach a log line by several roads:
1. known secrets (every key Vigie decrypted or registered, the Discord token, the
   ``SECRET_KEY``) are replaced wherever they appear, even split by a line break (a
   wrapped line, an escaped ``\\n`` in a repr);
2. credentials named as such are masked by pattern, so a key Vigie has never seen (a typo,
   someone else's) is masked too: ``apikey=``/``passkey=``/``token=`` values, headers and
   their Python repr (``'X-Api-Key': '…'``), JSON (``"apikey": "…"``), ``Authorization:
   Bearer|Bot|Basic …``;
3. secrets *inside URLs* whose place, not name, gives them away: the interaction or
   webhook token in discord.py's ``/interactions/{id}/{token}/callback`` and
   ``/webhooks/{app_id}/{token}`` (usable 15 minutes to post as the bot), a passkey as a
   path segment of a tracker's announce URL, ``user:password@`` (:mod:`bot.urls`'s
   detector, the one public links use, with a stricter passkey rule for tracker URLs);
4. discord.py's DEBUG logging prints raw gateway payloads, including the values typed
   in modals *before* Vigie knows them to be keys: text inputs whose ``custom_id`` starts
   with :data:`SECRET_INPUT_PREFIX` are blanked in structured log arguments and by
   pattern in the formatted text, as are values under secret-named keys (the
   interaction ``token`` of every INTERACTION_CREATE).

The redaction happens in a LogRecord factory, so it covers every handler (files,
console, pytest's caplog) and every library, not only loggers we configure.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from bot.urls import redact_secrets

#: Prefix of the custom_id of every modal text input that holds a secret.
SECRET_INPUT_PREFIX = "vigie:secret:"  # noqa: S105 - a custom_id prefix, not a secret
MASK = "***"

#: Names whose value is a credential, in a query string, a header, JSON or a repr.
_SECRET_NAMES = (
    "x-api-key",
    "api-key",
    "api_key",
    "apikey",
    "passkey",
    "torrent_pass",
    "authkey",
    "auth_key",
    "access_token",
    "refresh_token",
    "bot_token",
    "discord_token",
    "webhook_token",
    "token",
    "secret_key",
    "client_secret",
    "password",
    "pk",
)
_NAMES = "|".join(re.escape(n) for n in sorted(_SECRET_NAMES, key=len, reverse=True))
# An unquoted value ends at whitespace or a delimiter; a key wrapped onto the next line
# (nothing else on that line) is taken whole.
_BARE_VALUE = r"""[^\s&"',;}\]\\]+(?:(?:\r?\n|\\n)(?=[^\s&"',;}\]\\]+(?:[\r\n&"',;}\]]|\\n|\Z))[^\s&"',;}\]\\]+)?"""
#: ``name=value``, ``name: value``, ``"name": "value"``, ``'name': 'value'``, ``name='value'``.
_NAMED_SECRET = re.compile(
    r"(?i)(?<![\w-])([\"']?)(" + _NAMES + r")\1(\s*[=:]\s*)"
    r"""(?:(["'])((?:\\.|(?!\4).)*)\4|(""" + _BARE_VALUE + "))"
)
#: ``Authorization: Bearer …`` / ``'Authorization': 'Bot …'``: the scheme stays readable.
_AUTHORIZATION = re.compile(
    r"""(?i)((?<![\w-])["']?(?:proxy-)?authorization["']?\s*[=:]\s*["']?)((?:Bearer|Bot|Basic|Token|Digest)\s+)?([^\s"',;}]+)"""
)
#: A bearer token wherever it stands ("sent Bearer abc…").
_BEARER = re.compile(r"(?i)(?<![\w-])(Bearer\s+)([A-Za-z0-9._~+/=-]{8,})")
#: A Discord bot token's shape (three base64url parts), wherever it stands.
_DISCORD_TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")
#: Interaction tokens are base64 of "interaction:…"; webhook URLs carry them (or a
#: webhook's own token) right after the id.
_INTERACTION_TOKEN = re.compile(r"aW50ZXJhY3Rpb246[A-Za-z0-9_+=-]*")
_DISCORD_URL_TOKEN = re.compile(r"(?i)(/(?:interactions|webhooks)/\d+/)([^/\s?#'\"{}<>]+)")
#: A URL in free text (a repr quote, a space or a bracket ends it).
_URL = re.compile(r"""(?i)\b([a-z][a-z0-9+.-]{1,15})://([^\s'"<>]+)""")
#: A path segment that can only be a credential: long, one token, not a word.
_PASSKEY_SEGMENT = re.compile(r"(?<=/)(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{16,}(?=/|$)")
_TRACKER_PATH = re.compile(r"(?i)/(?:announce|scrape)")
# Line breaks a secret may be split by: real ones, and their escaped form in a repr/JSON.
_LINE_BREAK = r"(?:[ \t]*(?:\r\n|\r|\n|\\r\\n|\\n|\\r)[ \t]*)"
_LINE_BREAKS = re.compile(_LINE_BREAK)


def redact_url(url: str) -> str:
    """``url`` (``scheme://rest``) with what a URL reveals masked, by :mod:`bot.urls`'s
    detector (the one the announce-URL masking and the public links use: ``user:password@``,
    credential-named parameters, runs of 32+ hex digits, UUIDs, long path tokens), and, in
    logs only, more strictly still: in a tracker's announce/scrape URL (or any ``udp://``)
    every path segment that looks like a passkey (16+ token characters with a digit)."""
    match = _URL.match(url)
    if match is None:
        return url
    url = redact_secrets(url)
    scheme, rest = url.split("://", 1)
    netloc, slash, path = rest.partition("/")
    if slash and (scheme.lower() == "udp" or _TRACKER_PATH.search("/" + path)):
        path_only, sep, query = path.partition("?")
        path_only = _PASSKEY_SEGMENT.sub(MASK, "/" + path_only)[1:]
        path = path_only + sep + query
    return f"{scheme}://{netloc}{slash}{path}"


def redact_urls(text: str) -> str:
    """Every URL in ``text`` through :func:`redact_url`; for messages that quote URLs
    (a torrent refused for its tracker URL), before they are logged."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def redact_patterns(text: str) -> str:
    """Mask every credential recognised by its name, its place or its shape."""
    text = _NAMED_SECRET.sub(_mask_named, text)
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + (m.group(2) or "") + MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _INTERACTION_TOKEN.sub(MASK, text)
    text = _DISCORD_URL_TOKEN.sub(lambda m: m.group(1) + MASK, text)
    text = _DISCORD_TOKEN.sub(MASK, text)
    return redact_urls(text)


def _mask_named(m: re.Match[str]) -> str:
    head = m.group(1) + m.group(2) + m.group(1) + m.group(3)
    if m.group(4):
        return head + m.group(4) + MASK + m.group(4)
    return head + MASK


# A text input's value next to a secret custom_id, in the repr (single quotes) or JSON form.
_INPUT_VALUE_AFTER = re.compile(
    r"""(['"]custom_id['"]\s*:\s*['"]"""
    + re.escape(SECRET_INPUT_PREFIX)
    + r"""[^'"]*['"][^{}]*?['"]value['"]\s*:\s*)(['"])((?:\\.|(?!\2).)*)\2"""
)
_INPUT_VALUE_BEFORE = re.compile(
    r"""(['"]value['"]\s*:\s*)(['"])((?:\\.|(?!\2).)*)\2([^{}]*?['"]custom_id['"]\s*:\s*['"]"""
    + re.escape(SECRET_INPUT_PREFIX)
    + ")"
)


class SecretRegistry:
    """Secrets known to this process; thread-safe, values never leave it except as masks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._split: dict[str, re.Pattern[str]] = {}

    def add(self, *secrets: str | None) -> None:
        # Very short strings would mask ordinary words; real keys are long.
        fresh = {s for s in secrets if s and len(s) >= 6}
        if fresh - self._secrets:
            with self._lock:
                self._secrets = self._secrets | fresh

    def discard(self, secret: str) -> None:
        with self._lock:
            self._secrets = self._secrets - {secret}
            self._split.pop(secret, None)

    def __iter__(self) -> Iterable[str]:
        return iter(self._secrets)

    def _split_pattern(self, secret: str) -> re.Pattern[str]:
        """The secret with an optional line break between any two of its characters."""
        pattern = self._split.get(secret)
        if pattern is None:
            pattern = re.compile((_LINE_BREAK + "?").join(re.escape(c) for c in secret))
            self._split[secret] = pattern
        return pattern

    def redact_known(self, text: str) -> str:
        known = sorted(self._secrets, key=len, reverse=True)
        for secret in known:
            if secret in text:
                text = text.replace(secret, MASK)
        if ("\n" in text or "\r" in text or "\\n" in text or "\\r" in text) and known:
            flat = _LINE_BREAKS.sub("", text)
            for secret in known:
                if secret in flat:
                    text = self._split_pattern(secret).sub(MASK, text)
        return text

    def redact(self, text: str) -> str:
        text = self.redact_known(text)
        text = redact_patterns(text)
        text = _INPUT_VALUE_AFTER.sub(lambda m: m.group(1) + m.group(2) + MASK + m.group(2), text)
        text = _INPUT_VALUE_BEFORE.sub(lambda m: m.group(1) + m.group(2) + MASK + m.group(2) + m.group(4), text)
        return text


secrets = SecretRegistry()

#: Environment variables holding secrets: registered when redaction is installed, so a
#: process that never builds the bot (``vigie check``, ``vigie api``) masks them too.
SECRET_ENV_VARS = ("DISCORD_TOKEN", "SECRET_KEY", "SECRET_KEY_OLD", "LACALE_API_KEY")

_SECRET_KEYS = frozenset(_SECRET_NAMES) | {"authorization"}


def scrub_structure(value: Any, _depth: int = 0) -> Any:
    """A copy of a log argument with secret text inputs and secret-named values (an
    interaction's ``token``, an ``X-Api-Key`` header) blanked (dicts/lists only)."""
    if _depth > 40:
        return value
    if isinstance(value, dict):
        custom_id = value.get("custom_id")
        out = {
            k: MASK
            if isinstance(k, str) and k.lower() in _SECRET_KEYS and isinstance(v, str) and v
            else scrub_structure(v, _depth + 1)
            for k, v in value.items()
        }
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
    if record.stack_info:
        record.stack_info = secrets.redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """Also usable on a handler, for records created before the factory was installed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_vigie_redacted", False):
            _redact_record(record)
            record._vigie_redacted = True
        return True


_installed = False


def install_redaction() -> None:
    """Redact every LogRecord at creation, in every logger (idempotent)."""
    global _installed
    secrets.add(*(os.environ.get(name) for name in SECRET_ENV_VARS))
    if _installed:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        record._vigie_redacted = True
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
