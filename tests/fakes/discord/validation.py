"""Discord's validation rules for request bodies: application commands and their options, embeds,
components (v1 and v2), messages; each failure becomes the 50035 Discord would answer."""

from __future__ import annotations

import copy
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeGuard

from .constants import (
    _CHANNEL_TYPES,
    _MAX_SAFE_INT,
    _OPTION_TYPE_NAMES,
    _SENDABLE_FLAGS,
    FLAG_COMPONENTS_V2,
    FLAG_EPHEMERAL,
    VALID_LOCALES,
)
from .errors import _Errors
from .records import _File

# --- Discord's validation rules ------------------------------------------------------------


def _valid_name_char(ch: str) -> bool:
    if ch in "-_'":
        return True
    if unicodedata.category(ch)[0] in "LN":
        return True
    cp = ord(ch)
    return 0x0900 <= cp <= 0x097F or 0xA8E0 <= cp <= 0xA8FF or 0x0E00 <= cp <= 0x0E7F


def _check_chat_name(errors: _Errors, path: tuple[Any, ...], name: Any) -> None:
    """``^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$``, lower case where possible."""
    if not isinstance(name, str):
        errors.add(path, "BASE_TYPE_REQUIRED" if name is None else "BASE_TYPE_STRING", "This field is required")
        return
    if not 1 <= len(name) <= 32:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    elif not all(_valid_name_char(c) for c in name):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name {name!r} is invalid")
    elif any(c.lower() != c for c in name):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name {name!r} must be lower case")


def _check_menu_name(errors: _Errors, path: tuple[Any, ...], name: Any) -> None:
    if not isinstance(name, str):
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
    elif not 1 <= len(name) <= 32 or not name.strip():
        errors.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")


def _check_length(errors: _Errors, path: tuple[Any, ...], value: Any, lo: int, hi: int) -> None:
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_REQUIRED" if value is None else "BASE_TYPE_STRING", "This field is required")
    elif not lo <= len(value) <= hi:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {lo} and {hi} in length.")


def _check_localizations(
    errors: _Errors, path: tuple[Any, ...], locs: Any, check: Callable[[tuple[Any, ...], Any], None]
) -> None:
    if locs is None:
        return
    if not isinstance(locs, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    for locale, value in locs.items():
        if locale not in VALID_LOCALES:
            errors.add(path + (locale,), "ENUM_TYPE_COERCE", f'Value "{locale}" is not a valid enum value.')
        else:
            check(path + (locale,), value)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate_options(errors: _Errors, path: tuple[Any, ...], options: Any, level: str) -> None:
    """``level`` is "command", "group" (holds sub-commands) or "subcommand" (holds values)."""
    if options is None:
        return
    if not isinstance(options, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(options) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    kinds = [o.get("type") in (1, 2) for o in options if isinstance(o, dict)]
    if level == "command" and any(kinds) and not all(kinds):
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all other types",
        )
    seen: set[str] = set()
    seen_localized: dict[str, set[str]] = defaultdict(set)
    optional_seen = False
    for i, opt in enumerate(options):
        p = path + (i,)
        if not isinstance(opt, dict):
            errors.add(p, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        otype = opt.get("type")
        if otype not in _OPTION_TYPE_NAMES:
            errors.add(p + ("type",), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(_OPTION_TYPE_NAMES)}.")
            continue
        if level == "group" and otype != 1:
            errors.add(
                p + ("type",),
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Sub-command groups may only contain sub-commands",
            )
        if level == "subcommand" and otype in (1, 2):
            errors.add(
                p + ("type",),
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Sub-commands cannot contain sub-commands or groups",
            )
        name = opt.get("name")
        _check_chat_name(errors, p + ("name",), name)
        if isinstance(name, str):
            if name in seen:
                errors.add(
                    p + ("name",), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique"
                )
            seen.add(name)
        _check_length(errors, p + ("description",), opt.get("description"), 1, 100)
        name_locs = opt.get("name_localizations")
        _check_localizations(
            errors, p + ("name_localizations",), name_locs, lambda q, v: _check_chat_name(errors, q, v)
        )
        if isinstance(name_locs, dict):
            for locale, value in name_locs.items():
                if value in seen_localized[locale]:
                    errors.add(
                        p + ("name_localizations", locale),
                        "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                        "Option names must be unique per locale",
                    )
                seen_localized[locale].add(value)
        _check_localizations(
            errors,
            p + ("description_localizations",),
            opt.get("description_localizations"),
            lambda q, v: _check_length(errors, q, v, 1, 100),
        )
        if otype in (1, 2):
            sub_options = opt.get("options")
            if otype == 2 and not sub_options:
                errors.add(p + ("options",), "BASE_TYPE_REQUIRED", "Sub-command groups must contain sub-commands")
            _validate_options(errors, p + ("options",), sub_options, "group" if otype == 2 else "subcommand")
            if level != "command" and otype == 2:
                errors.add(
                    p + ("type",), "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Sub-command groups cannot be nested"
                )
            continue
        required = opt.get("required", False)
        if required and optional_seen:
            errors.add(
                p + ("required",),
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
        if not required:
            optional_seen = True
        choices = opt.get("choices")
        if choices:
            if otype not in (3, 4, 10):
                errors.add(
                    p + ("choices",),
                    "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                    "Only string, integer and number options may have choices",
                )
            if not isinstance(choices, list):
                errors.add(p + ("choices",), "BASE_TYPE_ARRAY", "Must be an array.")
                choices = []
            if len(choices) > 25:
                errors.add(p + ("choices",), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            if opt.get("autocomplete"):
                errors.add(
                    p + ("autocomplete",),
                    "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                    "Autocomplete and choices are mutually exclusive",
                )
            for j, choice in enumerate(choices):
                q = p + ("choices", j)
                if not isinstance(choice, dict):
                    errors.add(q, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
                    continue
                _check_length(errors, q + ("name",), choice.get("name"), 1, 100)
                _check_localizations(
                    errors,
                    q + ("name_localizations",),
                    choice.get("name_localizations"),
                    lambda r, v: _check_length(errors, r, v, 1, 100),
                )
                value = choice.get("value")
                if otype == 3:
                    _check_length(errors, q + ("value",), value, 1, 100)
                elif otype == 4 and not (_is_int(value) and abs(value) <= _MAX_SAFE_INT):
                    errors.add(q + ("value",), "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
                elif otype == 10 and not _is_number(value):
                    errors.add(q + ("value",), "NUMBER_TYPE_COERCE", f'Value "{value}" is not a valid number.')
        if opt.get("autocomplete") and otype not in (3, 4, 10):
            errors.add(
                p + ("autocomplete",),
                "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
                "Only string, integer and number options support autocomplete",
            )
        for key in ("min_value", "max_value"):
            if opt.get(key) is not None:
                if otype not in (4, 10):
                    errors.add(
                        p + (key,),
                        "APPLICATION_COMMAND_OPTION_INVALID",
                        f"{key} is only valid for integer and number options",
                    )
                elif not _is_number(opt[key]) or (otype == 4 and not _is_int(opt[key])):
                    errors.add(p + (key,), "NUMBER_TYPE_COERCE", f'Value "{opt[key]}" is not a valid number.')
        if (
            _is_number(opt.get("min_value"))
            and _is_number(opt.get("max_value"))
            and opt["min_value"] > opt["max_value"]
        ):
            errors.add(p + ("min_value",), "NUMBER_TYPE_MAX", "min_value must be less than or equal to max_value")
        for key, lo in (("min_length", 0), ("max_length", 1)):
            if opt.get(key) is not None:
                if otype != 3:
                    errors.add(
                        p + (key,), "APPLICATION_COMMAND_OPTION_INVALID", f"{key} is only valid for string options"
                    )
                elif not _is_int(opt[key]) or not lo <= opt[key] <= 6000:
                    errors.add(p + (key,), "NUMBER_TYPE_MAX", f"Must be between {lo} and 6000.")
        if _is_int(opt.get("min_length")) and _is_int(opt.get("max_length")) and opt["min_length"] > opt["max_length"]:
            errors.add(p + ("min_length",), "NUMBER_TYPE_MAX", "min_length must be less than or equal to max_length")
        if opt.get("channel_types") is not None:
            if otype != 7:
                errors.add(
                    p + ("channel_types",),
                    "APPLICATION_COMMAND_OPTION_INVALID",
                    "channel_types is only valid for channel options",
                )
            elif not isinstance(opt["channel_types"], list) or any(
                t not in _CHANNEL_TYPES for t in opt["channel_types"]
            ):
                errors.add(
                    p + ("channel_types",), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(_CHANNEL_TYPES)}."
                )


def _command_size(cmd: dict[str, Any], locale: str | None) -> int:
    """Discord's 4000-character budget: names, descriptions, choice names and values."""

    def loc(obj: dict[str, Any], key: str) -> str:
        locs = obj.get(f"{key}_localizations") or {}
        value = locs.get(locale) if locale else None
        return str(value if value is not None else obj.get(key) or "")

    def walk(options: list[dict[str, Any]]) -> int:
        total = 0
        for opt in options or []:
            if not isinstance(opt, dict):
                continue
            total += len(loc(opt, "name")) + len(loc(opt, "description"))
            for choice in opt.get("choices") or []:
                if isinstance(choice, dict):
                    total += len(loc(choice, "name")) + len(str(choice.get("value", "")))
            total += walk(opt.get("options") or [])
        return total

    return len(loc(cmd, "name")) + len(loc(cmd, "description")) + walk(cmd.get("options") or [])


def _all_locales(obj: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key.endswith("_localizations") and isinstance(value, dict):
                found.update(value)
            else:
                found |= _all_locales(value)
    elif isinstance(obj, list):
        for item in obj:
            found |= _all_locales(item)
    return found


def _validate_command(errors: _Errors, index: int, cmd: Any) -> None:
    p: tuple[Any, ...] = (index,)
    if not isinstance(cmd, dict):
        errors.add(p, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    ctype = cmd.get("type", 1)
    if ctype not in (1, 2, 3, 4):
        errors.add(p + ("type",), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
        return
    chat = ctype == 1
    if chat:
        _check_chat_name(errors, p + ("name",), cmd.get("name"))
        _check_length(errors, p + ("description",), cmd.get("description"), 1, 100)
        _check_localizations(
            errors,
            p + ("name_localizations",),
            cmd.get("name_localizations"),
            lambda q, v: _check_chat_name(errors, q, v),
        )
        _check_localizations(
            errors,
            p + ("description_localizations",),
            cmd.get("description_localizations"),
            lambda q, v: _check_length(errors, q, v, 1, 100),
        )
        _validate_options(errors, p + ("options",), cmd.get("options"), "command")
        for locale in [None, *sorted(_all_locales(cmd))]:
            if _command_size(cmd, locale) > 4000:
                errors.add(p, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (4000)")
                break
    else:
        _check_menu_name(errors, p + ("name",), cmd.get("name"))
        _check_localizations(
            errors,
            p + ("name_localizations",),
            cmd.get("name_localizations"),
            lambda q, v: _check_menu_name(errors, q, v),
        )
        if cmd.get("description"):
            errors.add(
                p + ("description",),
                "APPLICATION_COMMAND_INVALID_DESCRIPTION",
                "Context menu commands cannot have a description",
            )
        if cmd.get("options"):
            errors.add(
                p + ("options",), "APPLICATION_COMMAND_INVALID_OPTIONS", "Context menu commands cannot have options"
            )
    perms = cmd.get("default_member_permissions")
    if perms is not None and not (_is_int(perms) and perms >= 0) and not (isinstance(perms, str) and perms.isdigit()):
        errors.add(p + ("default_member_permissions",), "NUMBER_TYPE_COERCE", f'Value "{perms}" is not snowflake.')
    for key, allowed in (("contexts", {0, 1, 2}), ("integration_types", {0, 1})):
        value = cmd.get(key)
        if value is not None and (not isinstance(value, list) or any(v not in allowed for v in value)):
            errors.add(p + (key,), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}.")


def _validate_command_list(payload: Any) -> None:
    errors = _Errors()
    if not isinstance(payload, list):
        errors.add((), "BASE_TYPE_ARRAY", "Must be an array.")
        errors.raise_if_any()
    counts: dict[int, int] = defaultdict(int)
    names: dict[tuple[int, str], int] = {}
    for i, cmd in enumerate(payload):
        _validate_command(errors, i, cmd)
        if isinstance(cmd, dict) and isinstance(cmd.get("name"), str):
            key = (cmd.get("type", 1), cmd["name"])
            if key in names:
                errors.add(
                    (i, "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique ({cmd['name']!r})",
                )
            names[key] = i
            counts[key[0]] += 1
    for ctype, limit in ((1, 100), (2, 15), (3, 15)):
        if counts[ctype] > limit:
            errors.add(
                (),
                "APPLICATION_COMMANDS_TOO_MANY",
                f"Maximum number of application commands of type {ctype} reached ({limit})",
            )
    errors.raise_if_any()


_URL_RE = re.compile(r"^(https?|attachment)://\S+$")


def _validate_embeds(errors: _Errors, embeds: Any) -> None:
    if not isinstance(embeds, list):
        errors.add(("embeds",), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(embeds) > 10:
        errors.add(("embeds",), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        p = ("embeds", i)
        if not isinstance(embed, dict):
            errors.add(p, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        for key, limit in (("title", 256), ("description", 4096)):
            value = embed.get(key)
            if value is not None:
                total += len(str(value))
                if len(str(value)) > limit:
                    errors.add(p + (key,), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        for key, sub, limit in (("footer", "text", 2048), ("author", "name", 256)):
            part = embed.get(key)
            if isinstance(part, dict):
                value = part.get(sub)
                if value is None or value == "":
                    errors.add(p + (key, sub), "BASE_TYPE_REQUIRED", "This field is required")
                else:
                    total += len(str(value))
                    if len(str(value)) > limit:
                        errors.add(p + (key, sub), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.add(p + ("fields",), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, fld in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = fld.get(key) if isinstance(fld, dict) else None
                if value is None or str(value) == "":
                    errors.add(p + ("fields", j, key), "BASE_TYPE_REQUIRED", "This field is required")
                else:
                    total += len(str(value))
                    if len(str(value)) > limit:
                        errors.add(
                            p + ("fields", j, key), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
                        )
        for key in ("url",):
            if embed.get(key) is not None and not _URL_RE.match(str(embed[key])):
                errors.add(p + (key,), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        for key in ("image", "thumbnail", "author", "footer"):
            part = embed.get(key)
            if isinstance(part, dict):
                for sub in ("url", "icon_url"):
                    if part.get(sub) is not None and not _URL_RE.match(str(part[sub])):
                        errors.add(p + (key, sub), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        color = embed.get("color")
        if color is not None and not (_is_int(color) and 0 <= color <= 0xFFFFFF):
            errors.add(p + ("color",), "NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215.")
    if total > 6000:
        errors.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _walk_components(components: Any) -> Iterable[dict[str, Any]]:
    for comp in components or []:
        if not isinstance(comp, dict):
            continue
        yield comp
        yield from _walk_components(comp.get("components"))
        for key in ("component", "accessory"):
            if isinstance(comp.get(key), dict):
                yield from _walk_components([comp[key]])


def _validate_components(errors: _Errors, components: Any, *, v2: bool) -> None:
    if not isinstance(components, list):
        errors.add(("components",), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if not v2 and len(components) > 5:
        errors.add(("components",), "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    custom_ids: set[str] = set()
    if v2 and sum(1 for _ in _walk_components(components)) > 40:
        errors.add(("components",), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Must be 40 or fewer components in total.")
    for i, row in enumerate(components):
        p = ("components", i)
        if not isinstance(row, dict):
            errors.add(p, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        if not v2 and row.get("type") != 1:
            errors.add(
                p + ("type",),
                "UNION_TYPE_CHOICES",
                "Top-level components must be action rows (type 1) without the components v2 flag",
            )
            continue
        if row.get("type") == 1:
            children = row.get("components") or []
            if not 1 <= len(children) <= 5:
                errors.add(p + ("components",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
            selects = [c for c in children if isinstance(c, dict) and c.get("type") in (3, 5, 6, 7, 8)]
            if selects and len(children) > 1:
                errors.add(
                    p + ("components",),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "A select menu must be alone in its action row",
                )
    for comp in _walk_components(components):
        ctype = comp.get("type")
        cid = comp.get("custom_id")
        if cid is not None:
            if not isinstance(cid, str) or not 1 <= len(cid) <= 100:
                errors.add(
                    ("components",), "BASE_TYPE_BAD_LENGTH", f"custom_id {cid!r}: must be between 1 and 100 in length."
                )
            elif cid in custom_ids:
                errors.add(
                    ("components",),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    f"Component custom id {cid!r} cannot be duplicated",
                )
            custom_ids.add(cid) if isinstance(cid, str) else None
        if ctype == 2:
            style = comp.get("style")
            if style not in (1, 2, 3, 4, 5, 6):
                errors.add(
                    ("components",), "BASE_TYPE_CHOICES", f"button style {style!r}: value must be one of (1..6)."
                )
            if style in (1, 2, 3, 4) and not cid:
                errors.add(
                    ("components",), "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "A custom id is required for this button"
                )
            if style == 5 and not comp.get("url"):
                errors.add(("components",), "BUTTON_COMPONENT_URL_REQUIRED", "A url is required for link buttons")
            if style == 5 and cid:
                errors.add(
                    ("components",),
                    "BUTTON_COMPONENT_INVALID_URL_WITH_CUSTOM_ID",
                    "Link buttons cannot have a custom id",
                )
            if comp.get("label") is not None and len(str(comp["label"])) > 80:
                errors.add(("components",), "BASE_TYPE_MAX_LENGTH", "button label: must be 80 or fewer in length.")
            if style != 6 and not comp.get("label") and not comp.get("emoji"):
                errors.add(
                    ("components",),
                    "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
                    "A label or an emoji is required for buttons",
                )
        elif ctype in (3, 5, 6, 7, 8):
            if not cid:
                errors.add(("components",), "BASE_TYPE_REQUIRED", "select custom_id: this field is required")
            options = comp.get("options") or []
            if ctype == 3 and not 1 <= len(options) <= 25:
                errors.add(
                    ("components",), "BASE_TYPE_BAD_LENGTH", "select options: must be between 1 and 25 in length."
                )
            values = set()
            for opt in options:
                for key, limit in (("label", 100), ("value", 100), ("description", 100)):
                    value = opt.get(key)
                    if key != "description" and not value:
                        errors.add(
                            ("components",), "BASE_TYPE_REQUIRED", f"select option {key}: this field is required"
                        )
                    elif value is not None and len(str(value)) > limit:
                        errors.add(
                            ("components",),
                            "BASE_TYPE_MAX_LENGTH",
                            f"select option {key}: must be {limit} or fewer in length.",
                        )
                if opt.get("value") in values:
                    errors.add(
                        ("components",),
                        "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                        "Select option values must be unique",
                    )
                values.add(opt.get("value"))
            min_v, max_v = comp.get("min_values", 1), comp.get("max_values", 1)
            if not 0 <= min_v <= 25 or not 1 <= max_v <= 25 or min_v > max_v or (ctype == 3 and max_v > len(options)):
                errors.add(
                    ("components",),
                    "SELECT_COMPONENT_MIN_MAX_INVALID",
                    f"select min_values/max_values invalid ({min_v}, {max_v})",
                )
            if comp.get("placeholder") is not None and len(comp["placeholder"]) > 150:
                errors.add(
                    ("components",), "BASE_TYPE_MAX_LENGTH", "select placeholder: must be 150 or fewer in length."
                )
        elif ctype == 4:
            errors.add(("components",), "COMPONENT_TYPE_INVALID", "Text inputs are only valid in modals")


def _validate_message(data: dict[str, Any], files: list[_File], *, creating: bool, allow_ephemeral: bool) -> None:
    errors = _Errors()
    content = data.get("content")
    if content is not None:
        if not isinstance(content, str):
            errors.add(("content",), "BASE_TYPE_STRING", "Must be a string.")
        elif len(content) > 2000:
            errors.add(("content",), "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    flags = data.get("flags")
    v2 = False
    if flags is not None:
        if not _is_int(flags) or flags & ~_SENDABLE_FLAGS:
            errors.add(("flags",), "MESSAGE_FLAGS_INVALID", f"Invalid message flags {flags!r}")
        elif flags & FLAG_EPHEMERAL and not allow_ephemeral:
            errors.add(("flags",), "MESSAGE_FLAGS_INVALID", "Only interaction responses and followups can be ephemeral")
        v2 = bool(_is_int(flags) and flags & FLAG_COMPONENTS_V2)
    if data.get("embeds") is not None:
        _validate_embeds(errors, data["embeds"])
        if v2 and data["embeds"]:
            errors.add(
                ("embeds",),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "embeds cannot be used with IS_COMPONENTS_V2",
            )
    if v2 and content:
        errors.add(
            ("content",),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "content cannot be used with IS_COMPONENTS_V2",
        )
    if data.get("components") is not None:
        _validate_components(errors, data["components"], v2=v2)
    mentions = data.get("allowed_mentions")
    if mentions is not None:
        parse = mentions.get("parse", [])
        if any(p not in ("roles", "users", "everyone") for p in parse):
            errors.add(
                ("allowed_mentions", "parse"),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('roles', 'users', 'everyone').",
            )
        for kind in ("users", "roles"):
            if kind in parse and mentions.get(kind):
                errors.add(
                    ("allowed_mentions",),
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
                )
            if len(mentions.get(kind) or []) > 100:
                errors.add(("allowed_mentions", kind), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    if len(files) > 10:
        errors.add(("files",), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    errors.raise_if_any()


def _is_empty_message(msg: dict[str, Any]) -> bool:
    return (
        not (msg.get("content") or "").strip()
        and not msg.get("embeds")
        and not msg.get("attachments")
        and not msg.get("components")
        and not msg.get("sticker_items")
        and not msg.get("poll")
    )


def _collect_strings(obj: Any, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(obj)
    elif isinstance(obj, dict):
        for value in obj.values():
            _collect_strings(value, out)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _collect_strings(value, out)


_INTERNAL_MESSAGE_KEYS = frozenset({"allowed_mentions", "enforce_nonce"})


def _wire(msg: dict[str, Any]) -> dict[str, Any]:
    """A stored message as Discord sends it (no recorded request fields, no file bytes)."""
    out = {k: copy.deepcopy(v) for k, v in msg.items() if not k.startswith("_") and k not in _INTERNAL_MESSAGE_KEYS}
    out["attachments"] = [{k: v for k, v in a.items() if k != "data"} for a in msg.get("attachments", [])]
    return out
