"""What the fake records for tests to assert on: HTTP requests, IDENTIFYs, interaction callbacks,
uploaded files, and each interaction with everything the bot answered to it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .constants import _PENDING, FLAG_EPHEMERAL, FLAG_LOADING
from .errors import FakeDiscordError

if TYPE_CHECKING:
    from .server import FakeDiscord


@dataclass
class RequestRecord:
    """One HTTP request the bot made to the fake."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[dict[str, Any]]
    status: int = 0
    #: ``time.monotonic()`` when the request arrived (the fake runs in the test's process, so
    #: requests from several bot processes share one clock: post rates across processes).
    at: float = field(default_factory=time.monotonic)
    #: The request's ``Via`` header, if any (a REST proxy in front of the fake may add one).
    via: str | None = None
    #: The client's ``User-Agent`` (discord.py's, or a proxy's when one stands in between).
    user_agent: str | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class IdentifyRecord:
    """One IDENTIFY the fake received: ``session_id`` is None when it was refused
    (op 9: the identify bucket was used less than ``identify_interval`` s before, or the
    day's session starts were spent)."""

    shard: tuple[int, int]
    at: float
    session_id: str | None
    reason: str | None = None

    @property
    def refused(self) -> bool:
        return self.session_id is None


@dataclass
class CallbackRecord:
    """One interaction callback the bot POSTed (accepted or not): a second callback for
    one interaction is answered 400 / 40060 "already acknowledged", as Discord does."""

    interaction_id: int
    at: float
    status: int
    code: int = 0


@dataclass
class _File:
    index: int | None
    filename: str
    data: bytes
    content_type: str


# --- interactions -------------------------------------------------------------------------


class InteractionRecord:
    """One interaction the fake dispatched, and everything the bot answered to it."""

    def __init__(self, fake: FakeDiscord, payload: dict[str, Any], *, command: dict[str, Any] | None = None) -> None:
        self._fake = fake
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.command = command
        self.guild_id = int(payload["guild_id"]) if payload.get("guild_id") else None
        self.channel_id = int(payload["channel_id"])
        user = payload["member"]["user"] if "member" in payload else payload["user"]
        self.user_id = int(user["id"])
        self.source_message_id: int | None = int(payload["message"]["id"]) if payload.get("message") else None
        self.parent: InteractionRecord | None = None
        self.dispatched_at = 0.0
        #: The gateway sessions it was sent to (every live session of its shard).
        self.sessions: list[str] = []
        #: Every callback the bot POSTed: ``{"type", "data", "files"}`` (files: filename, data, content_type).
        self.callbacks: list[dict[str, Any]] = []
        #: Errors the fake answered to the bot's requests about this interaction.
        self.errors: list[dict[str, Any]] = []
        self.original_id: int | None = None
        self.followup_ids: list[int] = []
        self._edits_after_ack = 0

    def __repr__(self) -> str:
        what = self.command_name or (self.payload.get("data") or {}).get("custom_id")
        return f"<InteractionRecord id={self.id} type={self.type} {what!r} callback={self.callback_type}>"

    @property
    def command_name(self) -> str | None:
        data = self.payload.get("data") or {}
        if self.type not in (2, 4):
            return None
        parts = [data.get("name")]
        options = data.get("options") or []
        while options and options[0].get("type") in (1, 2):
            parts.append(options[0]["name"])
            options = options[0].get("options") or []
        return " ".join(p for p in parts if p)

    @property
    def custom_id(self) -> str | None:
        return (self.payload.get("data") or {}).get("custom_id")

    @property
    def response(self) -> dict[str, Any] | None:
        return self.callbacks[0] if self.callbacks else None

    @property
    def callback_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None

    @property
    def responded(self) -> bool:
        return bool(self.callbacks)

    @property
    def deferred(self) -> bool:
        return self.callback_type in (5, 6)

    @property
    def ephemeral(self) -> bool:
        msg = self.original
        if msg is not None:
            return bool(msg["flags"] & FLAG_EPHEMERAL)
        response = self.response
        if response and response["type"] in (4, 5):
            return bool(((response.get("data") or {}).get("flags") or 0) & FLAG_EPHEMERAL)
        return False

    @property
    def original(self) -> dict[str, Any] | None:
        """The response message as it is now (after edits; attachments carry their ``data``
        bytes), None before the response or once deleted (``fake.message(id)`` still has it)."""
        msg = self._fake._messages.get(self.original_id) if self.original_id else None
        return None if msg is None or msg.get("_deleted") else msg

    @property
    def followups(self) -> list[dict[str, Any]]:
        return [self._fake._messages[i] for i in self.followup_ids if i in self._fake._messages]

    @property
    def modal(self) -> dict[str, Any] | None:
        response = self.response
        return response["data"] if response and response["type"] == 9 else None

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        response = self.response
        return (response.get("data") or {}).get("choices", []) if response and response["type"] == 8 else None

    @property
    def content(self) -> str | None:
        msg = self.original
        return msg["content"] if msg else None

    async def wait_response(self, timeout: float = 5.0) -> dict[str, Any]:
        """The first callback (``{"type", "data", "files"}``) once the bot sent it."""
        return await self._fake._wait_for(
            lambda: self.response if self.callbacks else _PENDING, timeout, f"a response to {self!r}", rec=self
        )

    async def wait_final(
        self, timeout: float = 5.0, predicate: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        """The response message once it is final: immediately for types 4 and 7, after the
        ``@original`` edit or the first followup for a deferral (5 or 6). With ``predicate``,
        waits until the message (as edited) satisfies it."""
        response = await self.wait_response(timeout)
        if response["type"] in (8, 9):
            kind = "autocomplete choices (rec.choices)" if response["type"] == 8 else "a modal (rec.modal)"
            raise FakeDiscordError(f"{self!r} answered with {kind}, there is no message")

        def check() -> Any:
            msg = self.original
            if response["type"] == 6 and self._edits_after_ack == 0:
                msg = None  # the component's message is only "final" once edited
            if msg is None or msg["flags"] & FLAG_LOADING:
                others = [m for m in self.followups if int(m["id"]) != self.original_id and not m.get("_deleted")]
                msg = others[0] if others else None
            if msg is None or (predicate is not None and not predicate(msg)):
                return _PENDING
            return msg

        return await self._fake._wait_for(check, timeout, f"the final message of {self!r}", rec=self)

    async def wait_followup(self, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
        """The ``count``-th followup message."""
        return await self._fake._wait_for(
            lambda: self.followups[count - 1] if len(self.followups) >= count else _PENDING,
            timeout,
            f"followup #{count} of {self!r}",
            rec=self,
        )
