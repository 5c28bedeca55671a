"""Requests that must reach Discord at most once per call.

discord.py sends a request again, unasked, when Discord (or a proxy) answers 500, 502, 504
or 524. For a message that is harmless (Vigie's nonce makes Discord answer the message it
already created), but opening a forum post (a new thread) has no nonce: if the first try
created the thread before the 5xx, the silent second try creates another. Inside
:func:`one_try`, such an answer stops the request at once with :class:`AnsweredOnce`
instead; the caller treats it as an ambiguous outcome and checks what exists before trying
again (see ``bot/ui/alert_posts.py``).

The check is a hook on the HTTP session's trace (added by ``bot/app.py``), so it sees
every answer before discord.py decides to retry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from types import SimpleNamespace

import aiohttp

#: The answers discord.py retries by itself.
BLIND_RETRY_STATUSES = frozenset({500, 502, 504, 524})

_ONE_TRY: ContextVar[bool] = ContextVar("vigie_one_try", default=False)


class AnsweredOnce(Exception):
    """A request sent once and answered with a status discord.py would have retried."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status} (not retried: the request may have been carried out)")
        self.status = status


@contextlib.contextmanager
def one_try() -> Iterator[None]:
    """Requests made inside (in this task) are sent once."""
    token = _ONE_TRY.set(True)
    try:
        yield
    finally:
        _ONE_TRY.reset(token)


async def stop_blind_retries(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
) -> None:
    """``on_request_end`` hook: inside :func:`one_try`, a retried status ends the request."""
    response = params.response
    if _ONE_TRY.get() and response.status in BLIND_RETRY_STATUSES:
        response.release()
        raise AnsweredOnce(response.status)
