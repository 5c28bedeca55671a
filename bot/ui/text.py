"""Untrusted text (titles, descriptions, server messages) made safe to post."""

from __future__ import annotations

import re

import discord

from bot.formatting import clean_text

ELLIPSIS = "…"
_NUMBERED = re.compile(r"^(\d+)\.(?=\s)")
_MENTION_OPEN = re.compile(r"<(?=[@#/]|t:)")


def escape(text: str) -> str:
    """The one function for untrusted text shown in Discord (titles, queries, labels,
    alert names, tag names...): cleaned, then Markdown and mentions neutralised, so text
    from La Cale or a member shows as typed, on one line, and pings no one.

    Cleaning (:func:`bot.formatting.clean_text`) drops control and format characters
    (U+202E and the other bidi overrides, zero-width characters, the BOM) and folds line
    breaks and tabs to spaces. ``allowed_mentions`` already stops pings; escaping
    mentions as well keeps ``@everyone`` from even looking like one.
    """
    text = discord.utils.escape_markdown(clean_text(text), as_needed=False)
    # escape_markdown already escapes "[" (a masked link cannot open); "]" too, for symmetry.
    text = text.replace("]", "\\]")
    # A numbered list item, and mention/timestamp/command syntax (<@id>, <@&id>, <#id>,
    # <t:...>, </cmd:id>): shown as typed, not as someone's name or a date.
    text = _NUMBERED.sub(r"\1\\.", text)
    text = _MENTION_OPEN.sub(r"\\<", text)
    return discord.utils.escape_mentions(text)


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary when one is near, with an ellipsis; never mid-escape."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = max(cut.rfind(" "), cut.rfind("."), cut.rfind("-"))
    if space >= limit * 0.6:
        cut = cut[:space]
    while cut.endswith("\\"):
        cut = cut[:-1]
    return cut.rstrip(" .-") + ELLIPSIS


def safe_title(text: str, limit: int = 256) -> str:
    """Shortened, then escaped, within ``limit`` characters once escaped (escapes add
    backslashes, so the raw text gets a smaller budget until it fits)."""
    budget = limit
    while True:
        out = escape(shorten(text, budget))
        if len(out) <= limit or budget <= 8:
            return out if len(out) <= limit else out[: limit - 1].rstrip("\\") + ELLIPSIS
        budget -= max(1, len(out) - limit)


def inline_code(text: str, limit: int = 100) -> str:
    """Untrusted text as inline code (a slug, an id, a guid, a tracker URL): shown as is,
    never a link or a ping; cleaned, and a backtick (the one thing that would close the
    span) swapped, since a backslash does not escape inside code."""
    return "`" + (shorten(clean_text(text).replace("`", "'"), limit) or " ") + "`"


def plain(text: str, limit: int = 100) -> str:
    """Untrusted text where Markdown does not render (select option labels, autocomplete
    names, file names): cleaned and shortened, not escaped (a backslash would show)."""
    return shorten(clean_text(text), limit)
