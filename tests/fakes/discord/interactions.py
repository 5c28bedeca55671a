"""Users acting: slash commands, autocomplete, buttons, selects and modal submissions, each
dispatched to the bot as an interaction."""

from __future__ import annotations

import asyncio
import copy
import secrets
from typing import Any

from .constants import _OPTION_TYPE_NAMES, ADMINISTRATOR, DM_PERMISSIONS, FLAG_EPHEMERAL
from .errors import FakeDiscordError
from .models import FakeChannel, FakeGuild, FakeMember, FakeUser, _id_of
from .records import InteractionRecord
from .validation import _is_int, _is_number, _walk_components, _wire


class InteractionsMixin:
    # -- interactions: dispatch ------------------------------------------------------------------------

    def _interaction_payload(
        self,
        itype: int,
        *,
        user: FakeUser,
        channel: FakeChannel,
        data: dict[str, Any] | None,
        locale: str | None,
        permissions: int | None,
        app_permissions: int | None,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        iid = self._snowflake()
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48),
            "version": 1,
            "channel_id": str(channel.id),
            "locale": locale or user.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.attachment_size_limit,
            "app_permissions": str(app_permissions if app_permissions is not None else self.bot_permissions(channel)),
        }
        if data is not None:
            payload["data"] = data
        if guild is not None:
            member = guild.member(user)
            perms = permissions if permissions is not None else self.member_permissions(guild, member, channel)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": guild.preferred_locale, "features": list(guild.features)},
                guild_locale=guild.preferred_locale,
                member={**member.payload(), "permissions": str(perms)},
                channel={**channel.payload(), "permissions": str(perms)},
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                user=user.payload(),
                channel={
                    **channel.payload(),
                    "permissions": str(permissions if permissions is not None else DM_PERMISSIONS),
                },
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if message is not None:
            payload["message"] = _wire(message)
        return payload

    async def _send_interaction(
        self, payload: dict[str, Any], command: dict[str, Any] | None = None, parent: InteractionRecord | None = None
    ) -> InteractionRecord:
        rec = InteractionRecord(self, payload, command=command)
        rec.parent = parent
        if parent is not None and rec.source_message_id is None:
            rec.source_message_id = parent.source_message_id
        sessions = self._sessions_for(rec.guild_id)
        rec.sessions = [s.id for s in sessions]
        self.interactions.append(rec)
        self._interactions[rec.id] = rec
        self._by_token[rec.token] = rec
        rec.dispatched_at = asyncio.get_running_loop().time()
        for session in sessions:
            self._send(session, "INTERACTION_CREATE", copy.deepcopy(payload))
        for session in sessions:
            assert session.conn is not None
            await session.conn.flush()
        self._bump()
        return rec

    def _resolve_context(self, by: Any, in_channel: Any, dm: bool) -> tuple[FakeUser, FakeChannel, FakeGuild | None]:
        if dm:
            if by is None:
                raise FakeDiscordError("a DM interaction needs by=<user>")
            user = self.users.get(_id_of(by))
            if user is None:
                raise FakeDiscordError(f"unknown user {by!r}")
            return user, self.dm_channel(user), None
        channel = self._channel(in_channel) if in_channel is not None else self._default_channel()
        if channel.type == 1:
            return self._resolve_context(by if by is not None else channel.recipients[0], None, True)
        if channel.deleted:
            raise FakeDiscordError(f"channel {channel.id} was deleted: users cannot interact there")
        guild = self._guild(channel.guild_id)
        member = guild.member(by) if by is not None else guild.owner
        return member.user, channel, guild

    def _find_command(self, name: str, guild: FakeGuild | None) -> tuple[dict[str, Any], int | None]:
        scopes: list[int | None] = ([guild.id] if guild else []) + [None]
        for scope in scopes:
            for cmd in self._commands.get(scope, []):
                if cmd["type"] != 1:
                    continue
                if cmd["name"] == name or name in (cmd.get("name_localizations") or {}).values():
                    return cmd, scope
        known = sorted({c["name"] for s in scopes for c in self._commands.get(s, [])})
        raise FakeDiscordError(f"no synced slash command {name!r} here (synced: {known})")

    @staticmethod
    def _match_option(options: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
        for opt in options:
            if opt["name"] == name or name in (opt.get("name_localizations") or {}).values():
                return opt
        return None

    def _command_path(
        self, command: str, guild: FakeGuild | None
    ) -> tuple[dict[str, Any], int | None, list[dict[str, Any]], dict[str, Any]]:
        """(command, scope, [group/subcommand option defs], leaf definition holding the value options)."""
        parts = command.split()
        if not parts:
            raise FakeDiscordError("empty command")
        cmd, scope = self._find_command(parts[0].lstrip("/"), guild)
        chain: list[dict[str, Any]] = []
        leaf: dict[str, Any] = cmd
        for part in parts[1:]:
            sub = self._match_option([o for o in leaf.get("options") or [] if o["type"] in (1, 2)], part)
            if sub is None:
                raise FakeDiscordError(
                    f"/{cmd['name']} has no sub-command or group {part!r} "
                    f"(has: {[o['name'] for o in leaf.get('options') or [] if o['type'] in (1, 2)]})"
                )
            chain.append(sub)
            leaf = sub
        if any(o["type"] in (1, 2) for o in leaf.get("options") or []):
            raise FakeDiscordError(
                f"/{command} is a group: Discord only invokes sub-commands ({[o['name'] for o in leaf['options']]})"
            )
        return cmd, scope, chain, leaf

    def _check_invocable(
        self, cmd: dict[str, Any], guild: FakeGuild | None, user: FakeUser, enforce_permissions: bool
    ) -> None:
        if guild is None:
            contexts = cmd.get("contexts")
            if (
                cmd.get("guild_id")
                or (contexts is not None and 1 not in contexts)
                or (contexts is None and cmd.get("dm_permission") is False)
            ):
                raise FakeDiscordError(f"/{cmd['name']} is not available in DMs")
            return
        contexts = cmd.get("contexts")
        if contexts is not None and 0 not in contexts:
            raise FakeDiscordError(f"/{cmd['name']} is not available in guilds")
        required = cmd.get("default_member_permissions")
        if enforce_permissions and required is not None:
            perms = self.member_permissions(guild, guild.member(user))
            if not perms & ADMINISTRATOR and (int(required) == 0 or perms & int(required) != int(required)):
                raise FakeDiscordError(
                    f"/{cmd['name']} needs default_member_permissions={required}: Discord hides it from "
                    f"{user.username} (pass enforce_permissions=False to simulate an override)"
                )

    def _option_value(
        self,
        opt: dict[str, Any],
        value: Any,
        resolved: dict[str, dict[str, Any]],
        guild: FakeGuild | None,
        invoker: FakeUser,
        channel: FakeChannel,
    ) -> Any:
        otype, name = opt["type"], opt["name"]
        choices = opt.get("choices") or []

        def bad(why: str) -> FakeDiscordError:
            return FakeDiscordError(f"option {name!r} ({_OPTION_TYPE_NAMES[otype]}): {why}")

        if otype == 3:
            if not isinstance(value, str):
                raise bad(f"expects a string, got {value!r}")
            if opt.get("min_length") is not None and len(value) < opt["min_length"]:
                raise bad(f"shorter than min_length={opt['min_length']}")
            if opt.get("max_length") is not None and len(value) > opt["max_length"]:
                raise bad(f"longer than max_length={opt['max_length']}")
            if len(value) > 6000:
                raise bad("longer than 6000")
        elif otype in (4, 10):
            if not (_is_int(value) if otype == 4 else _is_number(value)):
                raise bad(f"expects {'an integer' if otype == 4 else 'a number'}, got {value!r}")
            if opt.get("min_value") is not None and value < opt["min_value"]:
                raise bad(f"below min_value={opt['min_value']}")
            if opt.get("max_value") is not None and value > opt["max_value"]:
                raise bad(f"above max_value={opt['max_value']}")
        elif otype == 5:
            if not isinstance(value, bool):
                raise bad(f"expects a bool, got {value!r}")
        elif otype in (6, 9) and (
            isinstance(value, (FakeUser, FakeMember)) or (otype == 6 or _id_of(value) in self.users)
        ):
            uid = _id_of(value)
            user = self.users.get(uid)
            if user is None:
                raise bad(f"unknown user {uid}")
            resolved.setdefault("users", {})[str(uid)] = user.payload()
            if guild is not None and uid in guild.members:
                member = guild.members[uid]
                resolved.setdefault("members", {})[str(uid)] = {
                    **member.payload(with_user=False),
                    "permissions": str(self.member_permissions(guild, member, channel)),
                }
            return str(uid)
        elif otype in (8, 9):
            rid = _id_of(value)
            if guild is None or rid not in guild.roles:
                raise bad(f"unknown role {rid} in this guild")
            resolved.setdefault("roles", {})[str(rid)] = guild.roles[rid].payload()
            return str(rid)
        elif otype == 7:
            ch = self._channel(value)
            if guild is None or ch.guild_id != guild.id or ch.deleted:
                raise bad(f"channel {ch.id} is not a channel of this guild")
            if opt.get("channel_types") and ch.type not in opt["channel_types"]:
                raise bad(f"channel type {ch.type} not in channel_types={opt['channel_types']}")
            perms = self.member_permissions(guild, guild.member(invoker), ch)
            if ch.is_thread:  # a thread comes resolved with its owner, counts and metadata
                resolved.setdefault("channels", {})[str(ch.id)] = {**ch.payload(), "permissions": str(perms)}
                return str(ch.id)
            resolved.setdefault("channels", {})[str(ch.id)] = {
                "id": str(ch.id),
                "name": ch.name,
                "type": ch.type,
                "permissions": str(perms),
                "parent_id": str(ch.parent_id) if ch.parent_id else None,
                "guild_id": str(ch.guild_id),
                "position": ch.position,
                "topic": ch.topic,
                "nsfw": ch.nsfw,
                "rate_limit_per_user": 0,
                "flags": ch.flags,
                "last_message_id": str(ch.last_message_id) if ch.last_message_id else None,
            }
            return str(ch.id)
        elif otype == 11:
            aid = _id_of(value)
            att = self._user_attachments.get(aid)
            if att is None:
                raise bad(f"unknown attachment {aid}: use fake.add_attachment()")
            resolved.setdefault("attachments", {})[str(aid)] = copy.deepcopy(att)
            return str(aid)
        else:
            raise bad(f"unsupported value {value!r}")
        if choices and value not in [c["value"] for c in choices]:
            raise bad(f"{value!r} is not one of the choices {[c['value'] for c in choices]}")
        return value

    def _build_command_data(
        self,
        command: str,
        guild: FakeGuild | None,
        user: FakeUser,
        channel: FakeChannel,
        values: dict[str, Any],
        *,
        focused: str | None = None,
        focused_value: str = "",
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        cmd, scope, chain, leaf = self._command_path(command, guild)
        defs = leaf.get("options") or []
        resolved: dict[str, dict[str, Any]] = {}
        given: dict[str, Any] = {}
        for name, value in values.items():
            opt = self._match_option(defs, name)
            if opt is None:
                raise FakeDiscordError(f"/{command} has no option {name!r} (has: {[o['name'] for o in defs]})")
            given[opt["name"]] = (opt, value)
        focused_def = None
        if focused is not None:
            focused_def = self._match_option(defs, focused)
            if focused_def is None:
                raise FakeDiscordError(f"/{command} has no option {focused!r} (has: {[o['name'] for o in defs]})")
            if not focused_def.get("autocomplete"):
                raise FakeDiscordError(f"option {focused!r} of /{command} has no autocomplete: Discord sends none")
        options: list[dict[str, Any]] = []
        for opt in defs:
            if focused_def is not None and focused_def is opt:
                options.append({"type": opt["type"], "name": opt["name"], "value": str(focused_value), "focused": True})
            elif opt["name"] in given:
                value = given[opt["name"]][1]
                if focused is not None and opt["type"] in (3, 4, 10):
                    options.append({"type": opt["type"], "name": opt["name"], "value": value})
                else:
                    sent = self._option_value(opt, value, resolved, guild, user, channel)
                    options.append({"type": opt["type"], "name": opt["name"], "value": sent})
            elif opt.get("required") and focused is None:
                raise FakeDiscordError(f"/{command}: required option {opt['name']!r} missing")
        for sub in reversed(chain):
            options = [{"type": sub["type"], "name": sub["name"], "options": options}]
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if options:
            data["options"] = options
        if resolved and focused is None:
            data["resolved"] = resolved
        if scope is not None:
            data["guild_id"] = str(scope)
        return data, cmd

    async def invoke(
        self,
        command: str,
        /,
        options: dict[str, Any] | None = None,
        *,
        by: Any = None,
        in_channel: Any = None,
        dm: bool = False,
        locale: str | None = None,
        permissions: int | None = None,
        app_permissions: int | None = None,
        enforce_permissions: bool = True,
        **option_values: Any,
    ) -> InteractionRecord:
        """A user runs a slash command: ``invoke("search", query="x")``, ``invoke("setup key")``.

        ``by``: user/member (default: the guild owner); ``in_channel`` (default: the first
        guild's system channel); ``dm=True`` for the bot's DM. Options go as keywords or in
        ``options`` (for names that clash with these parameters); user/role/channel options
        take fake objects or ids, attachment options take ``fake.add_attachment(...)``.
        Raises FakeDiscordError for what Discord's client would not send."""
        values = {**(options or {}), **option_values}
        user, channel, guild = self._resolve_context(by, in_channel, dm)
        data, cmd = self._build_command_data(command, guild, user, channel, values)
        self._check_invocable(cmd, guild, user, enforce_permissions)
        payload = self._interaction_payload(
            2,
            user=user,
            channel=channel,
            data=data,
            locale=locale,
            permissions=permissions,
            app_permissions=app_permissions,
        )
        return await self._send_interaction(payload, command=cmd)

    async def autocomplete(
        self,
        command: str,
        focused_option: str,
        value: str = "",
        /,
        options: dict[str, Any] | None = None,
        *,
        by: Any = None,
        in_channel: Any = None,
        dm: bool = False,
        locale: str | None = None,
        timeout: float = 5.0,
        **other_options: Any,
    ) -> list[dict[str, Any]]:
        """The user types ``value`` in ``focused_option``: returns the bot's choices (type 8)."""
        values = {**(options or {}), **other_options}
        user, channel, guild = self._resolve_context(by, in_channel, dm)
        data, cmd = self._build_command_data(
            command, guild, user, channel, values, focused=focused_option, focused_value=value
        )
        self._check_invocable(cmd, guild, user, enforce_permissions=False)
        payload = self._interaction_payload(
            4, user=user, channel=channel, data=data, locale=locale, permissions=None, app_permissions=None
        )
        rec = await self._send_interaction(payload, command=cmd)
        response = await rec.wait_response(timeout)
        if response["type"] != 8:
            raise FakeDiscordError(f"autocomplete answered with callback type {response['type']}")
        return rec.choices or []

    def _component_message(self, message: Any) -> dict[str, Any]:
        if isinstance(message, InteractionRecord):
            if message.original is None:
                raise FakeDiscordError(f"{message!r} has no response message")
            msg = message.original
        else:
            found = self._messages.get(_id_of(message))
            if found is None:
                raise FakeDiscordError(f"unknown message {message!r}")
            msg = found
        if msg.get("_deleted"):
            raise FakeDiscordError(f"message {msg['id']} was deleted")
        return msg

    def _find_component(self, msg: dict[str, Any], custom_id: str) -> dict[str, Any]:
        for comp in _walk_components(msg.get("components")):
            if comp.get("custom_id") == custom_id:
                return comp
        ids = [c.get("custom_id") for c in _walk_components(msg.get("components")) if c.get("custom_id")]
        raise FakeDiscordError(f"message {msg['id']} has no component {custom_id!r} (has: {ids})")

    def _component_context(self, msg: dict[str, Any], by: Any) -> tuple[FakeUser, FakeChannel]:
        meta_user = (msg.get("interaction_metadata") or {}).get("user", {}).get("id")
        if by is None:
            if meta_user is None:
                raise FakeDiscordError("who clicks? pass by=<member>")
            by = int(meta_user)
        channel = self.channels[int(msg["channel_id"])]
        if msg["flags"] & FLAG_EPHEMERAL and meta_user is not None and _id_of(by) != int(meta_user):
            raise FakeDiscordError("an ephemeral message is only visible to the user who ran the command")
        user, channel, _ = self._resolve_context(by, channel, False)
        return user, channel

    async def click(
        self, message: Any, custom_id: str, *, by: Any = None, locale: str | None = None
    ) -> InteractionRecord:
        """A user presses the button ``custom_id`` of ``message`` (a message dict, its id, or an
        InteractionRecord for its response). ``by`` defaults to the user who ran the command."""
        msg = self._component_message(message)
        comp = self._find_component(msg, custom_id)
        if comp.get("type") != 2:
            raise FakeDiscordError(f"component {custom_id!r} is not a button (type {comp.get('type')})")
        if comp.get("disabled"):
            raise FakeDiscordError(f"button {custom_id!r} is disabled")
        user, channel = self._component_context(msg, by)
        payload = self._interaction_payload(
            3,
            user=user,
            channel=channel,
            locale=locale,
            permissions=None,
            app_permissions=None,
            message=msg,
            data={"custom_id": custom_id, "component_type": 2},
        )
        return await self._send_interaction(payload)

    async def select(
        self, message: Any, custom_id: str, values: list[Any], *, by: Any = None, locale: str | None = None
    ) -> InteractionRecord:
        """A user picks ``values`` in the select menu ``custom_id`` (string, user, role,
        mentionable or channel select)."""
        msg = self._component_message(message)
        comp = self._find_component(msg, custom_id)
        ctype = comp.get("type")
        if ctype not in (3, 5, 6, 7, 8):
            raise FakeDiscordError(f"component {custom_id!r} is not a select menu (type {ctype})")
        if comp.get("disabled"):
            raise FakeDiscordError(f"select {custom_id!r} is disabled")
        lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
        if not lo <= len(values) <= hi:
            raise FakeDiscordError(f"select {custom_id!r} takes {lo}..{hi} values, got {len(values)}")
        user, channel = self._component_context(msg, by)
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if ctype == 3:
            allowed = [o["value"] for o in comp.get("options", [])]
            for v in values:
                if v not in allowed:
                    raise FakeDiscordError(f"{v!r} is not an option of select {custom_id!r} ({allowed})")
            data["values"] = list(values)
        else:
            resolved: dict[str, dict[str, Any]] = {}
            kind = {5: 6, 6: 8, 7: 9, 8: 7}[ctype]
            fake_opt = {"type": kind, "name": custom_id, "channel_types": comp.get("channel_types")}
            data["values"] = [self._option_value(fake_opt, v, resolved, guild, user, channel) for v in values]
            data["resolved"] = resolved
        payload = self._interaction_payload(
            3, user=user, channel=channel, locale=locale, permissions=None, app_permissions=None, message=msg, data=data
        )
        return await self._send_interaction(payload)

    async def submit_modal(
        self, modal: Any, values: dict[str, Any], *, by: Any = None, locale: str | None = None
    ) -> InteractionRecord:
        """The user fills and submits a modal the bot opened. ``modal``: the InteractionRecord
        that answered with it (or the modal payload, ``rec.modal``); ``values``: custom_id ->
        text (or list of values for a select inside a Label)."""
        parent: InteractionRecord | None
        if isinstance(modal, InteractionRecord):
            parent = modal
        else:
            parent = next((r for r in reversed(self.interactions) if r.modal is modal), None) or next(
                (
                    r
                    for r in reversed(self.interactions)
                    if r.modal and r.modal.get("custom_id") == modal.get("custom_id")
                ),
                None,
            )
        if parent is None or parent.modal is None:
            raise FakeDiscordError(f"no interaction answered with this modal: {modal!r}")
        spec = parent.modal
        unknown = set(values)
        components = []
        for top in spec.get("components", []):
            if top.get("type") == 1:
                inner = [self._submitted(c, values, unknown) for c in top.get("components", [])]
                components.append({"type": 1, "id": top.get("id"), "components": [c for c in inner if c]})
            elif top.get("type") == 18:
                inner_c = self._submitted(top["component"], values, unknown)
                if inner_c:
                    components.append({"type": 18, "id": top.get("id"), "component": inner_c})
            elif top.get("type") == 10:
                components.append({"type": 10, "id": top.get("id")})
        if unknown:
            raise FakeDiscordError(f"the modal has no inputs {sorted(unknown)}")
        user_arg = by if by is not None else parent.user_id
        user, channel, _ = self._resolve_context(user_arg, parent.channel_id, parent.guild_id is None)
        message = self._messages.get(parent.source_message_id) if parent.source_message_id else None
        payload = self._interaction_payload(
            5,
            user=user,
            channel=channel,
            locale=locale,
            permissions=None,
            app_permissions=None,
            message=message,
            data={"custom_id": spec["custom_id"], "components": components},
        )
        return await self._send_interaction(payload, parent=parent)

    @staticmethod
    def _submitted(comp: dict[str, Any], values: dict[str, Any], unknown: set[str]) -> dict[str, Any] | None:
        cid = comp.get("custom_id")
        if cid is None:
            return None
        unknown.discard(cid)
        if comp.get("type") == 4:
            value = values.get(cid, comp.get("value") or "")
            if not isinstance(value, str):
                raise FakeDiscordError(f"text input {cid!r} takes a string")
            if comp.get("required", True) and not value:
                raise FakeDiscordError(f"text input {cid!r} is required: Discord would not submit")
            if value and comp.get("min_length") is not None and len(value) < comp["min_length"]:
                raise FakeDiscordError(f"text input {cid!r}: shorter than min_length={comp['min_length']}")
            if comp.get("max_length") is not None and len(value) > comp["max_length"]:
                raise FakeDiscordError(f"text input {cid!r}: longer than max_length={comp['max_length']}")
            return {"type": 4, "id": comp.get("id"), "custom_id": cid, "value": value}
        chosen = values.get(cid, [])
        chosen = [chosen] if isinstance(chosen, str) else list(chosen)
        return {"type": comp.get("type"), "id": comp.get("id"), "custom_id": cid, "values": chosen}
