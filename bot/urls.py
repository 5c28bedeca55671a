"""One detector for secrets in URLs: what the announce-URL masking hides and what makes a
public link unusable are the same rules, so a passkey the preview would mask can never be
posted in a channel through a search result, an alert card or an upload announcement.

A URL carries a secret when it has:

- ``user:password@`` credentials;
- a query (or fragment, or ``;`` path) parameter named like a credential: ``passkey``,
  ``pk``, ``apikey``, ``api_key``, ``key``, ``token``, ``auth``, ``authkey``,
  ``torrent_pass``, ``secret``, ``sig``..., or any name ending in ``key``, ``token``,
  ``secret``, ``pass`` or ``password`` (``rsskey``, ``download_token``);
- a run of 32 or more hex digits anywhere (``/announce/<passkey>``, ``/<passkey>/announce``,
  a passkey as a sub-domain), a UUID, or a path token of 32+ letters, digits, ``-`` and
  ``_`` with a digit in it that is not a slug of short words (``/<base64 token>/announce``).

An info hash in La Cale's documented download route (``/torrents/download/<hash>``) is
public; other values known to be public (a torrent's own info hash) may be passed as
``public`` and are not counted. No Discord import: the CLI and services use it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import unquote

REDACTED = "***"

#: Parameter names that carry a credential, compared lower case after percent-decoding.
SECRET_PARAMS = frozenset(
    {
        "passkey",
        "pk",
        "apikey",
        "api_key",
        "api-key",
        "x-api-key",
        "key",
        "token",
        "access_token",
        "api_token",
        "auth",
        "authkey",
        "auth_key",
        "auth_token",
        "authorization",
        "torrent_pass",
        "torrentpass",
        "secret",
        "client_secret",
        "sig",
        "signature",
        "password",
        "passwd",
        "pass",
        "rsskey",
        "rss_key",
        "session",
        "sessionid",
        "sid",
    }
)
_SECRET_SUFFIXES = ("key", "token", "secret", "pass", "password", "passwd")

_HEX_SECRET = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{32,}(?![0-9A-Za-z])")
_UUID = re.compile(
    r"(?<![0-9A-Za-z])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Za-z])"
)
_LONG_TOKEN = re.compile(r"(?<![0-9A-Za-z_\-])(?=[0-9A-Za-z_\-]*[0-9])[0-9A-Za-z_\-]{32,}(?![0-9A-Za-z_\-])")
_PARAM_SEPARATORS = re.compile(r"([&;])")


def is_secret_param(name: str) -> bool:
    """``passkey``, ``PassKey``, ``api%5Fkey``, ``rsskey``, ``download_token``..."""
    plain = unquote(name).strip().lower()
    return plain in SECRET_PARAMS or plain.endswith(_SECRET_SUFFIXES)


def _slug_like(token: str) -> bool:
    """``one-piece-s01e01-1080p-web-lacale-abc123`` (a page slug made of short words) is no
    secret; a token with a long random piece is."""
    pieces = re.split(r"[-_]", token)
    return len(pieces) >= 4 and all(len(p) <= 16 for p in pieces)


def _mask_tokens(text: str, public: frozenset[str], *, path: bool) -> str:
    def hide(m: re.Match[str]) -> str:
        return m.group(0) if m.group(0).lower() in public else REDACTED

    def hide_long(m: re.Match[str]) -> str:
        token = m.group(0)
        if token.lower() in public or _slug_like(token):
            return token
        return REDACTED

    text = _HEX_SECRET.sub(hide, text)
    text = _UUID.sub(hide, text)
    if path:
        text = _LONG_TOKEN.sub(hide_long, text)
    return text


def _redact_param(param: str, public: frozenset[str]) -> str:
    key, sep, value = param.partition("=")
    if not sep or not value:
        return _mask_tokens(param, public, path=False)
    if is_secret_param(key):
        return f"{key}={REDACTED}"
    return f"{key}={_mask_tokens(value, public, path=False)}"


def _redact_params(query: str, public: frozenset[str]) -> str:
    parts = _PARAM_SEPARATORS.split(query)
    return "".join(p if p in ("&", ";") else _redact_param(p, public) for p in parts)


#: La Cale's documented download route names a torrent by its (public) info hash.
_INFO_HASH = re.compile(r"[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}")


def _redact_path(path: str, public: frozenset[str]) -> str:
    """Each segment: its tokens, and its ``;name=value`` parameters."""
    out: list[str] = []
    for segment in path.split("/"):
        head, semi, params = segment.partition(";")
        after_download = [s.lower() for s in out[-2:]] == ["torrents", "download"]
        if not (after_download and _INFO_HASH.fullmatch(head)):
            head = _mask_tokens(head, public, path=True)
        out.append(head + semi + (_redact_params(params, public) if semi else ""))
    return "/".join(out)


def redact_secrets(url: str, *, public: Collection[str] = ()) -> str:
    """The URL with every secret replaced by ``***``, the rest kept character for
    character. Never raises for a string."""
    if not url:
        return ""
    known = frozenset(p.lower() for p in public if p)
    rest, hash_sep, fragment = url.partition("#")
    base, q_sep, query = rest.partition("?")
    scheme, scheme_sep, after = base.partition("://")
    if scheme_sep:
        netloc, slash, path = after.partition("/")
        if "@" in netloc:
            netloc = REDACTED + "@" + netloc.rpartition("@")[2]
        netloc = _mask_tokens(netloc, known, path=False)
        base = f"{scheme}://{netloc}{slash}{_redact_path(path, known)}"
    else:
        base = _redact_path(base, known)
    if q_sep:
        query = _redact_params(query, known)
    if hash_sep:
        fragment = _redact_params(fragment, known)
    return f"{base}{q_sep}{query}{hash_sep}{fragment}"


def url_carries_secret(url: str, *, public: Collection[str] = ()) -> bool:
    """True when :func:`redact_secrets` would hide anything: such a URL is never posted."""
    return redact_secrets(url, public=public) != url
