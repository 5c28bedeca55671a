"""REST routes answering interactions: callbacks (with the 3 s deadline and double-ack rule),
follow-ups and the interaction webhook's messages."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web

from .constants import _SENDABLE_FLAGS, FLAG_EPHEMERAL, FLAG_LOADING
from .errors import _ApiError, _Errors
from .records import CallbackRecord, InteractionRecord, _File
from .validation import _check_length, _is_empty_message, _is_int, _is_number, _validate_message, _wire

log = logging.getLogger("tests.fakes.discord")


class InteractionRoutesMixin:
    # -- interactions: responses ------------------------------------------------------------------------

    def _validate_modal(self, data: Any) -> None:
        errors = _Errors()
        if not isinstance(data, dict):
            errors.add(("data",), "BASE_TYPE_REQUIRED", "This field is required")
            errors.raise_if_any()
        _check_length(errors, ("data", "custom_id"), data.get("custom_id"), 1, 100)
        _check_length(errors, ("data", "title"), data.get("title"), 1, 45)
        comps = data.get("components") or []
        if not 1 <= len(comps) <= 5:
            errors.add(("data", "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        ids: set[str] = set()
        for i, top in enumerate(comps):
            p = ("data", "components", i)
            if top.get("type") == 1:
                inner = top.get("components") or []
                if len(inner) != 1 or inner[0].get("type") != 4:
                    errors.add(p, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "A modal action row holds exactly one text input")
            elif top.get("type") == 18:
                inner = [top.get("component") or {}]
                _check_length(errors, p + ("label",), top.get("label"), 1, 45)
            elif top.get("type") == 10:
                continue
            else:
                errors.add(
                    p + ("type",), "UNION_TYPE_CHOICES", f"Component type {top.get('type')} is not valid in a modal"
                )
                continue
            for comp in inner:
                cid = comp.get("custom_id")
                if not cid or len(cid) > 100 or cid in ids:
                    errors.add(p, "COMPONENT_CUSTOM_ID_INVALID", f"custom_id {cid!r} missing, too long or duplicated")
                ids.add(cid)
                if comp.get("type") == 4:
                    if top.get("type") == 1:
                        _check_length(errors, p + ("components", 0, "label"), comp.get("label"), 1, 45)
                    if comp.get("style") not in (1, 2):
                        errors.add(p, "BASE_TYPE_CHOICES", "text input style must be 1 or 2")
                    lo, hi = comp.get("min_length"), comp.get("max_length")
                    if (lo is not None and not 0 <= lo <= 4000) or (hi is not None and not 1 <= hi <= 4000):
                        errors.add(p, "BASE_TYPE_BAD_LENGTH", "min_length/max_length must be within 0..4000")
                    if comp.get("value") is not None and len(comp["value"]) > 4000:
                        errors.add(p, "BASE_TYPE_MAX_LENGTH", "value must be 4000 or fewer in length.")
                    if comp.get("placeholder") is not None and len(comp["placeholder"]) > 100:
                        errors.add(p, "BASE_TYPE_MAX_LENGTH", "placeholder must be 100 or fewer in length.")
        errors.raise_if_any()

    def _validate_choices(self, rec: InteractionRecord, data: Any) -> None:
        errors = _Errors()
        choices = (data or {}).get("choices")
        if not isinstance(choices, list):
            errors.add(("data", "choices"), "BASE_TYPE_REQUIRED", "This field is required")
            errors.raise_if_any()
            return
        if len(choices) > 25:
            errors.add(("data", "choices"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        focused_type = 3
        opts = (rec.payload.get("data") or {}).get("options") or []
        while opts:
            f = next((o for o in opts if o.get("focused")), None)
            if f is not None:
                focused_type = f["type"]
                break
            opts = next((o.get("options") or [] for o in opts if o["type"] in (1, 2)), [])
        for j, choice in enumerate(choices):
            p = ("data", "choices", j)
            _check_length(errors, p + ("name",), choice.get("name"), 1, 100)
            value = choice.get("value")
            if focused_type == 3:
                _check_length(errors, p + ("value",), value, 1, 100)
            elif focused_type == 4 and not _is_int(value):
                errors.add(p + ("value",), "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
            elif focused_type == 10 and not _is_number(value):
                errors.add(p + ("value",), "NUMBER_TYPE_COERCE", f'Value "{value}" is not a valid number.')
        errors.raise_if_any()

    async def _r_callback(
        self, request: web.Request, payload: Any, files: list[_File], interaction_id: str, token: str
    ) -> web.Response:
        rec = self._interactions.get(int(interaction_id)) if interaction_id.isdigit() else None
        if rec is None or rec.token != token:
            raise _ApiError(404, 10062, "Unknown interaction")
        try:
            response = await self._callback(request, payload, files, rec)
        except _ApiError as exc:
            self.callback_log.append(CallbackRecord(rec.id, time.monotonic(), exc.status, exc.code))
            raise
        self.callback_log.append(CallbackRecord(rec.id, time.monotonic(), response.status))
        return response

    async def _callback(
        self, request: web.Request, payload: Any, files: list[_File], rec: InteractionRecord
    ) -> web.Response:
        if rec.callbacks:
            raise _ApiError(400, 40060, "Interaction has already been acknowledged.")
        if asyncio.get_running_loop().time() - rec.dispatched_at > self.interaction_timeout:
            raise _ApiError(404, 10062, "Unknown interaction")
        body = payload or {}
        ctype = body.get("type")
        data = body.get("data")
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[rec.type]
        if rec.type == 5 and rec.source_message_id is None:
            allowed = {4, 5}
        if ctype == 1 or ctype not in allowed:
            raise _ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "type": {
                        "_errors": [
                            {
                                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                                "message": f"Callback type {ctype} is not valid for an interaction of type {rec.type}",
                            }
                        ]
                    }
                },
            )
        message: dict[str, Any] | None = None
        channel = self.channels[rec.channel_id]
        if ctype == 4:
            data = data or {}
            _validate_message(data, files, creating=True, allow_ephemeral=True)
            self._check_files(files)
            if _is_empty_message({**data, "attachments": files or data.get("attachments")}):
                raise _ApiError(400, 50006, "Cannot send an empty message")
            message = self._new_message(
                channel,
                data,
                files,
                msg_type=20 if rec.type == 2 else 19,
                flags=(data.get("flags") or 0) & _SENDABLE_FLAGS,
                rec=rec,
            )
            rec.original_id = int(message["id"])
        elif ctype == 5:
            flags = ((data or {}).get("flags") or 0) & FLAG_EPHEMERAL
            message = self._new_message(
                channel, {}, [], msg_type=20 if rec.type == 2 else 19, flags=flags | FLAG_LOADING, rec=rec
            )
            rec.original_id = int(message["id"])
        elif ctype in (6, 7):
            source = self._messages.get(rec.source_message_id or 0)
            if source is None or source.get("_deleted"):
                raise _ApiError(404, 10008, "Unknown Message")
            if ctype == 7:
                _validate_message(data or {}, files, creating=False, allow_ephemeral=False)
                self._check_files(files)
                self._apply_edit(source, data or {}, files)
                message = source
            rec.original_id = int(source["id"])
        elif ctype == 8:
            self._validate_choices(rec, data)
        elif ctype == 9:
            self._validate_modal(data)
        rec.callbacks.append(
            {
                "type": ctype,
                "data": data,
                "files": [{"filename": f.filename, "data": f.data, "content_type": f.content_type} for f in files],
            }
        )
        self._bump()
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return self._no_content()
        original = self._messages.get(rec.original_id) if rec.original_id else None
        interaction: dict[str, Any] = {"id": str(rec.id), "type": rec.type}
        if original is not None:
            interaction.update(
                response_message_id=original["id"],
                response_message_loading=bool(original["flags"] & FLAG_LOADING),
                response_message_ephemeral=bool(original["flags"] & FLAG_EPHEMERAL),
            )
        resource: dict[str, Any] = {"type": ctype}
        if message is not None and ctype in (4, 7):
            resource["message"] = _wire(message)
        return self._json({"interaction": interaction, "resource": resource})

    def _webhook_rec(self, app_id: str, token: str) -> InteractionRecord:
        rec = self._by_token.get(token)
        if app_id != str(self.application_id) or rec is None:
            raise _ApiError(404, 10015, "Unknown Webhook")
        if not rec.callbacks:
            raise _ApiError(404, 10015, "Unknown Webhook")  # Discord: not acknowledged yet
        if rec.callback_type == 8:
            raise _ApiError(404, 10015, "Unknown Webhook")  # autocomplete has no followups
        return rec

    def _webhook_message(self, rec: InteractionRecord, message_id: str) -> dict[str, Any]:
        if message_id == "@original":
            if rec.original_id is None:
                raise _ApiError(404, 10008, "Unknown Message")
            msg = self._live_message(rec.original_id)
        else:
            msg = self._live_message(message_id)
            if int(msg["id"]) not in {rec.original_id, *rec.followup_ids}:
                raise _ApiError(404, 10008, "Unknown Message")
        return msg

    async def _r_followup(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, token: str
    ) -> web.Response:
        rec = self._webhook_rec(app_id, token)
        data = payload or {}
        _validate_message(data, files, creating=True, allow_ephemeral=True)
        self._check_files(files)
        if _is_empty_message({**data, "attachments": files or data.get("attachments")}):
            raise _ApiError(400, 50006, "Cannot send an empty message")
        original = rec.original
        if rec.callback_type == 5 and original is not None and original["flags"] & FLAG_LOADING:
            # The first followup after a "thinking" deferral replaces the loading message.
            self._apply_edit(original, {**data, "flags": None}, files, resolve_loading=True)
            msg = original
        else:
            msg = self._new_message(
                self.channels[rec.channel_id],
                data,
                files,
                msg_type=20 if rec.type == 2 else 0,
                flags=(data.get("flags") or 0) & _SENDABLE_FLAGS,
                rec=rec,
            )
        rec.followup_ids.append(int(msg["id"]))
        self._bump()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return self._json(_wire(msg))
        return self._no_content()

    async def _r_webhook_get(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, token: str, message_id: str
    ) -> web.Response:
        rec = self._webhook_rec(app_id, token)
        return self._json(_wire(self._webhook_message(rec, message_id)))

    async def _r_webhook_edit(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, token: str, message_id: str
    ) -> web.Response:
        rec = self._webhook_rec(app_id, token)
        msg = self._webhook_message(rec, message_id)
        _validate_message(payload or {}, files, creating=False, allow_ephemeral=True)
        self._check_files(files)
        self._apply_edit(msg, payload or {}, files)
        if int(msg["id"]) == rec.original_id:
            rec._edits_after_ack += 1
        self._bump()
        return self._json(_wire(msg))

    async def _r_webhook_delete(
        self, request: web.Request, payload: Any, files: list[_File], app_id: str, token: str, message_id: str
    ) -> web.Response:
        rec = self._webhook_rec(app_id, token)
        self._delete(self._webhook_message(rec, message_id))
        return self._no_content()
