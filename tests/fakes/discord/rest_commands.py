"""REST routes for application commands (sync, create, edit, delete) and what tests read of them."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from .errors import FakeDiscordError, _ApiError
from .models import _id_of
from .records import _File
from .validation import _validate_command_list


class CommandsRoutesMixin:
    # -- REST: application commands --------------------------------------------------------------

    def _check_app(self, app_id: str) -> None:
        if app_id != str(self.application_id):
            raise _ApiError(403, 50001, "Missing Access")

    def _command_scope(self, guild_id: str | None) -> int | None:
        if guild_id is None:
            return None
        g = self.guilds.get(int(guild_id)) if guild_id.isdigit() else None
        if g is None or g.removed:
            raise _ApiError(403, 50001, "Missing Access")
        return g.id

    def commands(self, guild_id: Any = None) -> list[dict[str, Any]]:
        """The commands as last synced (global when ``guild_id`` is None), as Discord stores them."""
        return copy.deepcopy(self._commands.get(_id_of(guild_id) if guild_id is not None else None, []))

    def command(self, name: str, guild_id: Any = None) -> dict[str, Any]:
        for cmd in self.commands(guild_id):
            if cmd["name"] == name:
                return cmd
        raise FakeDiscordError(f"no synced command {name!r} (guild {guild_id})")

    def _stored_command(self, cmd: dict[str, Any], scope: int | None, prev: dict[str, Any] | None) -> dict[str, Any]:
        ctype = cmd.get("type", 1)
        perms = cmd.get("default_member_permissions")
        body: dict[str, Any] = {
            "type": ctype,
            "name": cmd["name"],
            "name_localizations": cmd.get("name_localizations") or None,
            "description": cmd.get("description") or "" if ctype == 1 else "",
            "description_localizations": cmd.get("description_localizations") or None,
            "default_member_permissions": str(perms) if perms is not None else None,
            "nsfw": bool(cmd.get("nsfw", False)),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types") or [0],
        }
        if ctype == 1:
            body["options"] = copy.deepcopy(cmd.get("options") or [])
        if scope is None:
            dm = cmd.get("dm_permission")
            body["dm_permission"] = True if dm is None else bool(dm)
        else:
            body["guild_id"] = str(scope)
        same = prev is not None and all(prev.get(k) == v for k, v in body.items())
        return {
            "id": prev["id"] if prev else str(self._snowflake()),
            "application_id": str(self.application_id),
            "version": prev["version"] if same and prev else str(self._snowflake()),
            **body,
        }

    async def _r_get_commands(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, guild_id: str | None = None
    ) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        cmds = copy.deepcopy(self._commands.get(scope, []))
        if request.query.get("with_localizations") not in ("true", "1", "True"):
            for cmd in cmds:  # like Discord: only the localized string for the request's locale
                cmd.pop("name_localizations", None)
                cmd.pop("description_localizations", None)
        return self._json(cmds)

    async def _r_put_commands(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, guild_id: str | None = None
    ) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        _validate_command_list(payload)
        previous = {(c["type"], c["name"]): c for c in self._commands.get(scope, [])}
        stored = [self._stored_command(cmd, scope, previous.get((cmd.get("type", 1), cmd["name"]))) for cmd in payload]
        self._commands[scope] = stored
        self.sync_payloads.append((scope, copy.deepcopy(payload)))
        self.sync_count += 1
        return self._json(copy.deepcopy(stored))

    async def _r_post_command(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, guild_id: str | None = None
    ) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        existing = self._commands.get(scope, [])
        _validate_command_list([payload])
        key = (payload.get("type", 1), payload["name"])
        prev = next((c for c in existing if (c["type"], c["name"]) == key), None)
        stored = self._stored_command(payload, scope, prev)
        others = [c for c in existing if c is not prev]
        self._commands[scope] = others + [stored]
        return self._json(copy.deepcopy(stored), status=200 if prev else 201)

    def _find_stored(self, scope: int | None, command_id: str) -> dict[str, Any]:
        for cmd in self._commands.get(scope, []):
            if cmd["id"] == command_id:
                return cmd
        raise _ApiError(404, 10063, "Unknown application command")

    async def _r_get_command(
        self,
        request: web.Request,
        payload: Any,
        files: list[_File],
        app_id: str,
        command_id: str,
        guild_id: str | None = None,
    ) -> web.Response:
        self._check_app(app_id)
        return self._json(copy.deepcopy(self._find_stored(self._command_scope(guild_id), command_id)))

    async def _r_patch_command(
        self,
        request: web.Request,
        payload: Any,
        files: list[_File],
        app_id: str,
        command_id: str,
        guild_id: str | None = None,
    ) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        cmd = self._find_stored(scope, command_id)
        merged = {
            **{k: v for k, v in cmd.items() if k not in ("id", "application_id", "version", "guild_id")},
            **(payload or {}),
        }
        _validate_command_list([merged])
        new = self._stored_command(merged, scope, cmd)
        self._commands[scope] = [new if c is cmd else c for c in self._commands[scope]]
        return self._json(copy.deepcopy(new))

    async def _r_delete_command(
        self,
        request: web.Request,
        payload: Any,
        files: list[_File],
        app_id: str,
        command_id: str,
        guild_id: str | None = None,
    ) -> web.Response:
        self._check_app(app_id)
        scope = self._command_scope(guild_id)
        cmd = self._find_stored(scope, command_id)
        self._commands[scope] = [c for c in self._commands[scope] if c is not cmd]
        return self._no_content()

    async def _r_command_permissions(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, guild_id: str
    ) -> web.Response:
        self._check_app(app_id)
        return self._json([])
