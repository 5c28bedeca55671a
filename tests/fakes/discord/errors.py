"""How the fake fails: a test's impossible request (FakeDiscordError) and Discord-shaped API errors
(status, code, the nested ``errors`` tree of a 50035)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web


class FakeDiscordError(AssertionError):
    """A test asked the fake for something real Discord could not do (or timed out waiting)."""


class _ApiError(Exception):
    """Raised by a route handler: becomes a Discord-shaped error response."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors, self.headers = status, code, message, errors, headers

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class _Errors:
    """Collects Discord's nested ``errors`` tree of a 50035 Invalid Form Body."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Iterable[Any], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def __bool__(self) -> bool:
        return bool(self.tree)

    def raise_if_any(self) -> None:
        if self.tree:
            raise _ApiError(400, 50035, "Invalid Form Body", self.tree)


def _json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Exactly ``Content-Type: application/json`` (no charset), as discord.py expects."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")
