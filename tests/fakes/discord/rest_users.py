"""REST routes for users, DMs, the application and the gateway URL."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from .errors import _ApiError
from .records import _File
from .spec import check_request


class UsersRoutesMixin:
    # -- REST: users, application, gateway ---------------------------------------------------------

    async def _r_me(self, request: web.Request, payload: Any, files: list[_File]) -> web.Response:
        return self._json(
            {**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "locale": "en-US", "email": None}
        )

    async def _r_get_user(self, request: web.Request, payload: Any, files: list[_File], user_id: str) -> web.Response:
        user = self.users.get(int(user_id)) if user_id.isdigit() else None
        if user is None:
            raise _ApiError(404, 10013, "Unknown User")
        return self._json(user.payload())

    async def _r_create_dm(self, request: web.Request, payload: Any, files: list[_File]) -> web.Response:
        check_request("CreatePrivateChannelRequest", payload or {})
        rid = (payload or {}).get("recipient_id")
        if rid is None or int(rid) not in self.users:
            raise _ApiError(
                400,
                50035,
                "Invalid Form Body",
                {"recipient_id": {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Unknown user"}]}},
            )
        return self._json(self.dm_channel(int(rid)).payload())

    async def _r_leave_guild(
        self, request: web.Request, payload: Any, files: list[_File], guild_id: str
    ) -> web.Response:
        g = self.guilds.get(int(guild_id))
        if g is None or g.removed:
            raise _ApiError(404, 10004, "Unknown Guild")
        self.remove_guild(g.id)
        return self._no_content()

    async def _r_app_info(self, request: web.Request, payload: Any, files: list[_File]) -> web.Response:
        return self._json(
            {
                "id": str(self.application_id),
                "name": self.bot_user.username,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "hook": True,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": hashlib.sha256(str(self.application_id).encode()).hexdigest(),
                "owner": self.app_owner.payload(),
                "team": None,
                "flags": 0,
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "install_params": None,
                "integration_types_config": {"0": {}},
                "approximate_guild_count": sum(1 for g in self.guilds.values() if not g.removed),
                "bot": self.bot_user.payload(),
            }
        )

    async def _r_gateway(self, request: web.Request, payload: Any, files: list[_File]) -> web.Response:
        return self._json({"url": self.gateway_url})

    async def _r_gateway_bot(self, request: web.Request, payload: Any, files: list[_File]) -> web.Response:
        return self._json(
            {
                "url": self.gateway_url,
                "shards": self.shard_count,
                "session_start_limit": {
                    "total": self.session_start_total,
                    "remaining": self.session_start_remaining,
                    "reset_after": self.session_start_reset_after_ms,
                    "max_concurrency": self.max_concurrency,
                },
            }
        )

    async def _r_empty_list(self, request: web.Request, payload: Any, files: list[_File], **_: str) -> web.Response:
        return self._json([])
