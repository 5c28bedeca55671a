"""Discord's own OpenAPI description, for the fake's request and response shapes.

The routes added for threads, forums and DMs check request bodies against Discord's schemas
(``CreateForumThreadRequest``…) instead of hand-written rules, and the fake's own tests check
what it answers (``ThreadResponse``, ``GuildChannelResponse``…) against them, so the fake
cannot drift from what Discord accepts and sends.

Discord's spec (github.com/discord/discord-api-spec, MIT) is read at test time from where
the workplace keeps it, ``shared/discord-api-spec/openapi.json`` beside the repository,
or from the file ``DISCORD_API_SPEC`` names; it is never copied into the project. Only the
closure of ``ROOTS`` (the schemas the fake uses and everything they reference) is loaded.
On a machine without it, request bodies get only the fake's own checks (said once in the
log) and the fake's schema tests are skipped, saying why.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import _ApiError, _Errors

#: Where Discord's OpenAPI description is read from (see the module's docstring).
log = logging.getLogger("tests.fakes.discord")

SPEC_ENV = "DISCORD_API_SPEC"
SHARED_SPEC = Path("shared") / "discord-api-spec" / "openapi.json"
_BASE = "urn:discord-api-spec"

#: The schemas the fake uses; everything they reference comes along.
ROOTS = (
    "CreateForumThreadRequest",
    "CreateTextThreadWithoutMessageRequest",
    "CreatePrivateChannelRequest",
    "MessageCreateRequest",
    "CreatedThreadResponse",
    "ThreadResponse",
    "GuildChannelResponse",
    "PrivateChannelResponse",
    "MessageResponse",
)


def _local_origin(root: Path) -> Path | None:
    """The checkout this one was cloned from, when that is a folder on this machine (a
    fresh clone made for a clean run sits anywhere; its origin sits beside ``shared/``)."""
    try:
        url = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    origin = Path(url.removeprefix("file://")).expanduser() if url else None
    return origin.resolve() if origin is not None and origin.is_dir() else None


@functools.cache
def spec_path() -> Path | None:
    """``DISCORD_API_SPEC``, else ``shared/discord-api-spec/openapi.json`` in the nearest folder
    above the repository (a checkout beside ``shared/``, or a worktree deeper), or above the
    local checkout it was cloned from; ``None`` when there is none."""
    named = os.environ.get(SPEC_ENV)
    if named:
        return Path(named).expanduser()
    root = Path(__file__).resolve().parents[3]
    origin = _local_origin(root)
    for start in (root, origin):
        for folder in start.parents if start is not None else ():
            if (folder / SHARED_SPEC).is_file():
                return folder / SHARED_SPEC
    return None


def available() -> bool:
    path = spec_path()
    return path is not None and path.is_file()


@functools.cache
def schemas() -> dict[str, Any]:
    """The schemas the fake uses, from Discord's spec (read once per test session)."""
    path = spec_path()
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"Discord's OpenAPI description was not found (looked for {SHARED_SPEC} above the repository "
            f"and above the checkout it was cloned from). Set {SPEC_ENV} to discord-api-spec's specs/openapi.json."
        )
    return extract(json.loads(path.read_text()))


@functools.cache
def _registry(*, lenient: bool) -> Registry[Any]:
    schemas_ = dict(schemas())
    if lenient:
        # The spec types snowflakes as strings, but Discord takes them as JSON numbers too
        # (discord.py sends ``recipient_id`` as one): requests may use either, answers are strings.
        schemas_["SnowflakeType"] = {"anyOf": [schemas_["SnowflakeType"], {"type": "integer", "minimum": 0}]}
    document = {"components": {"schemas": schemas_}}
    return Registry().with_resource(_BASE, Resource.from_contents(document, default_specification=DRAFT202012))


@functools.cache
def validator(schema: str, *, request: bool = False) -> Draft202012Validator:
    """A validator of one of Discord's schemas (``components/schemas/<schema>``); ``request``:
    as Discord reads a request body (snowflakes may be numbers)."""
    if schema not in schemas():
        raise KeyError(f"{schema} is not among the schemas loaded: add it to ROOTS")
    return Draft202012Validator({"$ref": f"{_BASE}#/components/schemas/{schema}"}, registry=_registry(lenient=request))


def problems(schema: str, instance: Any, *, request: bool = False) -> list[str]:
    """What in ``instance`` Discord's ``schema`` refuses, one line each ("path: why")."""
    found = validator(schema, request=request).iter_errors(instance)
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(found, key=lambda e: list(map(str, e.absolute_path)))
    ]


def check_request(schema: str, body: Any) -> None:
    """Refuses a request body the schema refuses, as Discord does: 400 / 50035 Invalid Form Body
    with the ``errors`` tree keyed by the offending field. Without the spec on this machine
    only the fake's own checks of the route apply (said once in the log)."""
    if not available():
        _warn_no_spec()
        return
    errors = _Errors()
    for e in validator(schema, request=True).iter_errors(body):
        errors.add(e.absolute_path or ["_root"], "BASE_TYPE_BAD_SCHEMA", e.message)
    if errors:
        raise _ApiError(400, 50035, "Invalid Form Body", errors.tree)


def extract(openapi: dict[str, Any], roots: tuple[str, ...] = ROOTS) -> dict[str, Any]:
    """The schemas ``roots`` need (their ``$ref`` closure), from the whole spec."""
    schemas = openapi["components"]["schemas"]
    wanted: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    name = value.rsplit("/", 1)[-1]
                    if name not in wanted:
                        wanted.add(name)
                        walk(schemas[name])
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for root in roots:
        wanted.add(root)
        walk(schemas[root])
    return {name: schemas[name] for name in sorted(wanted)}


@functools.cache
def _warn_no_spec() -> None:
    log.warning(
        "Discord's OpenAPI description not found: the fake Discord checks request bodies with its own "
        "rules only (set %s to check them against Discord's schemas too)",
        SPEC_ENV,
    )
