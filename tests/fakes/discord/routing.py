"""HTTP plumbing: the route table, injected faults (429s, failures, delays), request bodies
(JSON and multipart), the API dispatcher and the CDN."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .errors import _ApiError, _json_response
from .records import InteractionRecord, RequestRecord, _File

log = logging.getLogger("tests.fakes.discord")


class RoutingMixin:
    # -- HTTP plumbing ---------------------------------------------------------------------------

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any], bool]]:
        table: list[tuple[str, str, Callable[..., Any], bool]] = [
            ("GET", "/users/@me", self._r_me, True),
            ("POST", "/users/@me/channels", self._r_create_dm, True),
            ("DELETE", "/users/@me/guilds/{guild_id}", self._r_leave_guild, True),
            ("GET", "/users/{user_id}", self._r_get_user, True),
            ("GET", "/oauth2/applications/@me", self._r_app_info, True),
            ("GET", "/applications/@me", self._r_app_info, True),
            ("GET", "/gateway", self._r_gateway, False),
            ("GET", "/gateway/bot", self._r_gateway_bot, True),
            ("GET", "/applications/{app_id}/commands", self._r_get_commands, True),
            ("PUT", "/applications/{app_id}/commands", self._r_put_commands, True),
            ("POST", "/applications/{app_id}/commands", self._r_post_command, True),
            ("GET", "/applications/{app_id}/commands/{command_id}", self._r_get_command, True),
            ("PATCH", "/applications/{app_id}/commands/{command_id}", self._r_patch_command, True),
            ("DELETE", "/applications/{app_id}/commands/{command_id}", self._r_delete_command, True),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands/permissions", self._r_command_permissions, True),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._r_get_commands, True),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._r_put_commands, True),
            ("POST", "/applications/{app_id}/guilds/{guild_id}/commands", self._r_post_command, True),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self._r_get_command, True),
            ("PATCH", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self._r_patch_command, True),
            ("DELETE", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self._r_delete_command, True),
            ("GET", "/applications/{app_id}/entitlements", self._r_empty_list, True),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._r_callback, False),
            ("POST", "/webhooks/{app_id}/{token}", self._r_followup, False),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self._r_webhook_get, False),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._r_webhook_edit, False),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self._r_webhook_delete, False),
            ("GET", "/channels/{channel_id}", self._r_get_channel, True),
            ("GET", "/channels/{channel_id}/messages", self._r_history, True),
            ("POST", "/channels/{channel_id}/messages", self._r_create_message, True),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._r_get_message, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._r_edit_message, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._r_delete_message, True),
            ("POST", "/channels/{channel_id}/typing", self._r_typing, True),
            ("POST", "/channels/{channel_id}/threads", self._r_create_thread, True),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._r_reaction, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._r_reaction, True),
            ("GET", "/guilds/{guild_id}", self._r_get_guild, True),
            ("GET", "/guilds/{guild_id}/channels", self._r_guild_channels, True),
            ("GET", "/guilds/{guild_id}/threads/active", self._r_active_threads, True),
            ("GET", "/guilds/{guild_id}/roles", self._r_guild_roles, True),
            ("GET", "/guilds/{guild_id}/members", self._r_guild_members, True),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._r_guild_member, True),
        ]
        compiled = []
        for method, pattern, handler, auth in table:
            regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern)) + "$"
            compiled.append((method, re.compile(regex), handler, auth))
        return compiled

    def rate_limit_next(
        self,
        route: str,
        retry_after: float = 0.1,
        *,
        is_global: bool = False,
        times: int = 1,
        scope: str = "user",
        via: bool = True,
    ) -> None:
        """The next ``times`` requests whose "METHOD /path" contains ``route`` get a 429.

        Discord's own 429s come through its Google front end with ``Via: 1.1 google`` and a
        JSON body, which discord.py waits out and retries. ``via=False`` gives a 429 with
        neither (what Cloudflare's ban, or a REST proxy rejecting on a rate limit, answers):
        discord.py raises it at once, without retrying."""
        self._faults.append(
            {
                "route": route,
                "kind": "429",
                "retry_after": retry_after,
                "global": is_global,
                "times": times,
                "scope": scope,
                "via": via,
            }
        )

    def fail_next(
        self,
        route: str,
        status: int = 500,
        *,
        code: int = 0,
        message: str | None = None,
        times: int = 1,
        after_handling: bool = False,
    ) -> None:
        """The next ``times`` requests whose "METHOD /path" contains ``route`` fail with ``status``.
        (discord.py retries 500/502/504 itself after sleeping 1 s, 3 s...).

        ``after_handling``: the request is carried out first (the message is created),
        then answered with the failure, as a REST proxy that times out (408) or a gateway
        that drops the answer (502) after Discord did the work."""
        self._faults.append(
            {
                "route": route,
                "kind": "fail",
                "status": status,
                "code": code,
                "message": message,
                "times": times,
                "after": after_handling,
            }
        )

    def slow_next(self, route: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` requests whose "METHOD /path" contains ``route`` are carried
        out at once (a message is created) and answered ``seconds`` later: a request in
        flight, e.g. for a bot process killed before it hears back."""
        self._faults.append({"route": route, "kind": "slow", "delay": seconds, "times": times, "after": True})

    def _take_fault(self, key: str) -> dict[str, Any] | None:
        for fault in self._faults:
            if fault["route"] in key:
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_response(self, fault: dict[str, Any], key: str) -> web.Response:
        if fault["kind"] == "429":
            self.rate_limited.append(key)
            retry = fault["retry_after"]
            if not fault.get("via", True):
                return web.Response(
                    status=429, text="error code: 1015", headers={"Retry-After": str(max(1, int(retry + 0.999)))}
                )
            headers = {
                "Retry-After": str(max(1, int(retry + 0.999))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry:.3f}",
                "X-RateLimit-Reset-After": f"{retry:.3f}",
                "X-RateLimit-Bucket": hashlib.md5(key.encode(), usedforsecurity=False).hexdigest(),
                "X-RateLimit-Scope": fault["scope"],
                "Via": "1.1 google",
            }
            if fault["global"]:
                headers["X-RateLimit-Global"] = "true"
            body = {"message": "You are being rate limited.", "retry_after": retry, "global": fault["global"]}
            return _json_response(body, status=429, headers=headers)
        status = fault["status"]
        message = fault["message"] or f"{status}: {http.HTTPStatus(status).phrase}"
        return _json_response({"message": message, "code": fault["code"]}, status=status)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[_File]]:
        ctype = request.content_type
        files: list[_File] = []
        if ctype.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            async for part in reader:
                name = part.name or ""  # type: ignore[union-attr]
                raw = bytes(await part.read(decode=False))  # type: ignore[union-attr]
                if name == "payload_json":
                    payload = json.loads(raw.decode())
                elif part.filename is not None:  # type: ignore[union-attr]
                    m = re.fullmatch(r"files\[(\d+)\]", name) or re.fullmatch(r"file(\d*)", name)
                    index = int(m.group(1)) if m and m.group(1) else len(files)
                    ctype_part = part.headers.get("Content-Type", "application/octet-stream")  # type: ignore[union-attr]
                    filename = part.filename  # type: ignore[union-attr]
                    if ctype_part == "application/octet-stream":
                        ctype_part = self._guess_type(filename)
                    files.append(_File(index, filename, raw, ctype_part))
            return payload, files
        body = await request.read()
        if not body:
            return None, files
        try:
            return json.loads(body), files
        except ValueError:
            raise _ApiError(400, 50109, "The request body contains invalid JSON.") from None

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        version = request.match_info["version"]
        path = "/" + request.match_info["tail"]
        key = f"{request.method} {path}"
        record = RequestRecord(
            request.method,
            path,
            dict(request.query),
            None,
            [],
            via=request.headers.get("Via"),
            user_agent=request.headers.get("User-Agent"),
        )
        self.requests.append(record)
        try:
            if version not in ("9", "10"):
                raise _ApiError(400, 50041, "Invalid API version provided.")
            payload, files = await self._read_body(request)
            record.json = payload
            record.files = [{"filename": f.filename, "data": f.data, "content_type": f.content_type} for f in files]
            if request.method in ("POST", "PUT", "PATCH") and payload is not None:
                self._outgoing.append(payload)
            self._outgoing.extend(f.filename for f in files)
            fault = self._take_fault(key)
            if fault is not None and not fault.get("after"):
                response = self._fault_response(fault, key)
                record.status = response.status
                return response
            for method, regex, handler, auth in self._routes:
                m = regex.match(path)
                if m is None or method != request.method:
                    continue
                if auth and request.headers.get("Authorization") != f"Bot {self.token}":
                    raise _ApiError(401, 0, "401: Unauthorized")
                response = await handler(request, payload, files, **m.groupdict())
                break
            else:
                log.error("fake Discord: UNHANDLED route %s (add it to tests/fakes/discord/)", key)
                self.unhandled.append(key)
                self._bump()
                raise _ApiError(404, 0, "404: Not Found")
            if fault is not None and fault["kind"] == "slow":  # done; the answer comes late
                self._bump()  # (``record.status`` stays 0 while the answer is held back)
                await asyncio.sleep(fault["delay"])
            elif fault is not None:  # done, but the answer is lost
                response = self._fault_response(fault, key)
                self._bump()
        except _ApiError as exc:
            record.status = exc.status
            if exc.status != 404 or key not in self.unhandled:
                log.warning(
                    "fake Discord: %s -> %s %s %s",
                    key,
                    exc.status,
                    exc.code,
                    json.dumps(exc.errors or exc.message)[:500],
                )
                self.errors.append({"route": key, "status": exc.status, "body": exc.body()})
                rec = self._rec_for_path(path)
                if rec is not None:
                    rec.errors.append({"route": key, "status": exc.status, "body": exc.body()})
            self._bump()
            return _json_response(exc.body(), status=exc.status, headers=exc.headers)
        record.status = response.status
        self._bump()
        return response

    def _rec_for_path(self, path: str) -> InteractionRecord | None:
        m = re.match(r"^/interactions/(\d+)/", path)
        if m:
            return self._interactions.get(int(m.group(1)))
        m = re.match(r"^/webhooks/\d+/([^/]+)", path)
        if m:
            return self._by_token.get(m.group(1))
        return None

    async def _handle_unknown(self, request: web.Request) -> web.StreamResponse:
        key = f"{request.method} {request.path}"
        log.error("fake Discord: UNHANDLED %s", key)
        self.unhandled.append(key)
        self._bump()
        return _json_response({"message": "404: Not Found", "code": 0}, status=404)

    async def _handle_cdn(self, request: web.Request) -> web.StreamResponse:
        key = f"GET {request.path}"
        fault = self._take_fault(key)
        if fault is not None:
            return self._fault_response(fault, key)
        try:
            aid = int(request.match_info["attachment_id"])
        except ValueError:
            aid = -1
        f = self._files.get(aid)
        if f is None or f.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        ex = request.query.get("ex", "")
        expected = hmac.new(self._cdn_secret, f"{aid}/{f.filename}/{ex}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.query.get("hm", "")):
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(body=f.data, content_type=f.content_type.split(";")[0])

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        return _json_response(data, status=status)

    @staticmethod
    def _no_content() -> web.Response:
        return web.Response(status=204)
