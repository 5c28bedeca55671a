"""Every user-facing string, in French and English.

Catalogues are JSON files beside this module (``fr.json``, ``en.json``) so a translator
edits them without reading Python: ``messages`` maps a key to a ``str.format`` template;
``commands`` maps the English source text of a command/option name or description to
its translation (used by the app_commands Translator).
"""

from __future__ import annotations

import json
import logging
from functools import cache
from importlib import resources
from typing import Any, Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")

log = logging.getLogger(__name__)


def lang_of(locale: object) -> Lang:
    """French for any ``fr`` locale (``fr``, ``fr-FR``...), English otherwise."""
    value = str(getattr(locale, "value", locale) or "").lower()
    return "fr" if value.startswith("fr") else "en"


@cache
def _catalogue(lang: Lang) -> dict[str, dict[str, str]]:
    text = resources.files(__package__).joinpath(f"{lang}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return {"messages": data.get("messages", {}), "commands": data.get("commands", {})}


def has(key: str) -> bool:
    return key in _catalogue("en")["messages"]


def t(locale: object, key: str, /, **values: Any) -> str:
    """The message ``key`` in the locale's language, formatted with ``values``.

    A key missing in French falls back to English; missing everywhere returns the key
    (and logs), so a forgotten string is visible but never crashes a command.
    """
    lang = lang_of(locale)
    template = _catalogue(lang)["messages"].get(key) or _catalogue("en")["messages"].get(key)
    if template is None:
        log.error("missing message key %r", key)
        return key
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        log.exception("bad values for message %r", key)
        return template


def command_text(lang: Lang, source: str) -> str | None:
    """Translation of a command/option name or description, ``None`` when not localized."""
    if lang == "en":
        return None
    return _catalogue(lang)["commands"].get(source)


def all_message_keys(lang: Lang) -> set[str]:
    return set(_catalogue(lang)["messages"])


def all_command_sources(lang: Lang) -> dict[str, str]:
    return dict(_catalogue(lang)["commands"])
