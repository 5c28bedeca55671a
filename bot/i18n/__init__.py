"""Every user-facing string, in French and English.

Catalogues are JSON files beside this module (``fr.json``, ``en.json``) so a translator
edits them without reading Python: ``messages`` maps a key to a ``str.format`` template;
``commands`` maps the English source text of a command/option name or description to
its translation (used by the app_commands Translator).

A counted message is a dict of plural forms instead of one template, chosen by the
``count`` value with CLDR's rules (Babel): ``{"one": "{count} result", "other": "{count}
results"}``. French uses ``one`` for 0 and 1, English for 1 only; ``other`` is always there
and covers any form a language has but a message does not spell out (French ``many``). An
exact-number form such as ``"=0"`` (ICU's syntax) wins over the rule when present:
``"=0": "No release matches"``. Keys are named after the command they answer
(``alert.*`` for ``/alert``, ``upload.*`` for ``/upload`` and ``/uploads``,
``setup.status.*`` for ``/setup status``…).
"""

from __future__ import annotations

import json
import logging
from functools import cache
from importlib import resources
from typing import Any, Literal, TypedDict

from babel import Locale

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")

log = logging.getLogger(__name__)


def lang_of(locale: object) -> Lang:
    """French for any ``fr`` locale (``fr``, ``fr-FR``...), English otherwise."""
    value = str(getattr(locale, "value", locale) or "").lower()
    return "fr" if value.startswith("fr") else "en"


#: A message: one template, or templates by plural form (``one``, ``other``, ``=0``…).
Message = str | dict[str, str]


class Catalogue(TypedDict):
    messages: dict[str, Message]
    commands: dict[str, str]


@cache
def _catalogue(lang: Lang) -> Catalogue:
    text = resources.files(__package__).joinpath(f"{lang}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return {"messages": data.get("messages", {}), "commands": data.get("commands", {})}


def has(key: str) -> bool:
    return key in _catalogue("en")["messages"]


@cache
def _babel_locale(lang: Lang) -> Locale:
    return Locale.parse(lang)


def plural_form(lang: Lang, count: int) -> str:
    """CLDR's plural category of ``count`` in ``lang`` (``one``, ``many``, ``other``…)."""
    return str(_babel_locale(lang).plural_form(abs(count)))


def is_plural(message: object) -> bool:
    return isinstance(message, dict)


def _choose(lang: Lang, key: str, forms: dict[str, str], values: dict[str, Any]) -> str:
    count = values.get("count")
    if not isinstance(count, int) or isinstance(count, bool):
        log.error("message %r needs an integer count, got %r", key, count)
        return forms["other"]
    return forms.get(f"={count}") or forms.get(plural_form(lang, count)) or forms["other"]


def t(locale: object, key: str, /, **values: Any) -> str:
    """The message ``key`` in the locale's language, formatted with ``values``.

    A counted message takes ``count=n``: it picks the plural form of ``n`` in that
    language and fills ``{count}`` like any other value.

    A key missing in French falls back to English; missing everywhere returns the key
    (and logs), so a forgotten string is visible but never crashes a command.
    """
    lang = lang_of(locale)
    message = _catalogue(lang)["messages"].get(key)
    if not message:
        lang, message = "en", _catalogue("en")["messages"].get(key)
    if message is None:
        log.error("missing message key %r", key)
        return key
    template = _choose(lang, key, message, values) if isinstance(message, dict) else message
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


def message(lang: Lang, key: str) -> Message | None:
    """The raw catalogue entry (a template, or a dict of plural forms)."""
    return _catalogue(lang)["messages"].get(key)


def all_command_sources(lang: Lang) -> dict[str, str]:
    return dict(_catalogue(lang)["commands"])
