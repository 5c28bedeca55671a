"""REST routes for guilds: the guild, its channels, roles and members."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .errors import _ApiError
from .models import FakeGuild
from .records import _File


class GuildsRoutesMixin:
    # -- REST: guilds --------------------------------------------------------------------------------

    def _rest_guild(self, guild_id: str) -> FakeGuild:
        g = self.guilds.get(int(guild_id)) if guild_id.isdigit() else None
        if g is None or g.removed:
            raise _ApiError(404, 10004, "Unknown Guild")
        return g

    async def _r_get_guild(self, request: web.Request, payload: Any, files: list[_File], guild_id: str) -> web.Response:
        g = self._rest_guild(guild_id)
        data = self._guild_rest_payload(g)
        if request.query.get("with_counts") in ("true", "1", "True"):
            data.update(approximate_member_count=len(g.members), approximate_presence_count=0)
        return self._json(data)

    async def _r_guild_channels(
        self, request: web.Request, payload: Any, files: list[_File], guild_id: str
    ) -> web.Response:
        g = self._rest_guild(guild_id)
        return self._json([c.payload() for c in g.channels.values() if not c.deleted and not c.is_thread])

    async def _r_guild_roles(
        self, request: web.Request, payload: Any, files: list[_File], guild_id: str
    ) -> web.Response:
        return self._json([r.payload() for r in self._rest_guild(guild_id).roles.values()])

    async def _r_guild_members(
        self, request: web.Request, payload: Any, files: list[_File], guild_id: str
    ) -> web.Response:
        g = self._rest_guild(guild_id)
        after = int(request.query.get("after", 0))
        limit = max(1, min(1000, int(request.query.get("limit", 1))))
        members = sorted((m for m in g.members.values() if m.id > after), key=lambda m: m.id)[:limit]
        return self._json([m.payload() for m in members])

    async def _r_guild_member(
        self, request: web.Request, payload: Any, files: list[_File], guild_id: str, user_id: str
    ) -> web.Response:
        g = self._rest_guild(guild_id)
        m = g.members.get(int(user_id)) if user_id.isdigit() else None
        if m is None:
            raise _ApiError(404, 10007, "Unknown Member")
        return self._json(m.payload())
