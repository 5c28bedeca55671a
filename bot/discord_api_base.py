"""Send discord.py's traffic to another Discord API (the fake Discord of the end-to-end tests).

discord.py builds every REST URL, webhooks and interaction callbacks included, from the class
attribute ``discord.http.Route.BASE``. Nothing in discord.py 2.7 resets it on its own; only
``discord.http._set_api_version`` rewrites it (to ``https://discord.com/api/v{n}``), so that
function is wrapped to put our base back (with the version asked for).

The gateway: ``AutoShardedClient`` asks ``GET /gateway/bot`` (so the API at ``base`` names its
own gateway), but discord.py falls back on ``DiscordWebSocket.DEFAULT_GATEWAY`` when it
reconnects without resuming (a shard reconnect or an invalidated session), and a plain
``Client`` always starts there. So ``DEFAULT_GATEWAY`` is set to ``gateway`` when given, and
otherwise to whatever ``GET /gateway/bot`` answered. Attachment URLs need nothing: they are
whatever the API puts in its payloads.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yarl
from discord import http as _http
from discord.gateway import DiscordWebSocket

_base: str | None = None
_explicit_gateway = False


def use_discord_api_base(base: str, *, gateway: str | None = None) -> None:
    """Make discord.py talk to ``base`` (e.g. ``http://127.0.0.1:8080/api/v10``).

    Call it before the client logs in. ``gateway`` (``ws://...``) is only needed by a
    non-sharded ``Client``; an ``AutoShardedClient`` learns it from ``GET /gateway/bot``.
    """
    global _base, _explicit_gateway
    _base = base.rstrip("/")
    _http.Route.BASE = _base
    _explicit_gateway = gateway is not None
    if gateway is not None:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    _install_hooks()


def _install_hooks() -> None:
    set_version = _http._set_api_version
    if not getattr(set_version, "_vigie_hook", False):

        @functools.wraps(set_version)
        def _set_api_version(value: int) -> None:
            set_version(value)
            if _base is not None:  # keep our host, follow the version
                _http.Route.BASE = re.sub(r"/v\d+$", f"/v{value}", _base)

        _set_api_version._vigie_hook = True  # type: ignore[attr-defined]
        _http._set_api_version = _set_api_version

    get_bot_gateway = _http.HTTPClient.get_bot_gateway
    if not getattr(get_bot_gateway, "_vigie_hook", False):

        @functools.wraps(get_bot_gateway)
        async def _get_bot_gateway(self: _http.HTTPClient) -> tuple[int, str, Any]:
            shards, url, limits = await get_bot_gateway(self)
            if _base is not None and not _explicit_gateway:
                DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
            return shards, url, limits

        _get_bot_gateway._vigie_hook = True  # type: ignore[attr-defined]
        _http.HTTPClient.get_bot_gateway = _get_bot_gateway  # type: ignore[method-assign]
