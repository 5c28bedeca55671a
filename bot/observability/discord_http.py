"""Discord's 429 answers, counted from discord.py's own HTTP session.

discord.py handles a 429 itself (sleeps and retries, or raises at once for a 429 without
a ``Via`` header: a Cloudflare ban) and only narrates it in log lines whose wording and
level are its own. Its documented ``Client(http_trace=...)`` option hands an aiohttp
:class:`~aiohttp.TraceConfig` to the session every REST request goes through, so each 429
is seen exactly once as an HTTP answer, whatever the log level, without wrapping or
patching discord.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp

from bot.observability.metrics import Metrics


def rate_limit_trace(metrics: Metrics) -> aiohttp.TraceConfig:
    """A trace that counts every HTTP 429 by scope (``user``, ``shared``, ``global``, or
    ``cloudflare`` when the answer carries no ``Via`` header)."""
    trace = aiohttp.TraceConfig()

    async def on_request_end(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        response = params.response
        if response.status != 429:
            return
        headers = response.headers
        if not headers.get("Via"):
            scope = "cloudflare"
        elif headers.get("X-RateLimit-Global", "").lower() == "true":
            scope = "global"
        else:
            scope = headers.get("X-RateLimit-Scope", "user").lower()
            if scope not in ("user", "shared", "global"):
                scope = "other"
        metrics.discord_429(scope)

    trace.on_request_end.append(on_request_end)
    return trace
