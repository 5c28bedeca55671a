"""Untrusted text (titles, descriptions, server messages) made safe to post."""

from __future__ import annotations

import discord

ELLIPSIS = "…"


def escape(text: str) -> str:
    """Markdown and mentions neutralised: text from La Cale shows as typed and pings no one.

    ``allowed_mentions`` already stops pings; escaping mentions as well keeps ``@everyone``
    from even looking like one.
    """
    text = discord.utils.escape_markdown(text, as_needed=False)
    # escape_markdown already escapes "[" (a masked link cannot open); "]" too, for symmetry.
    text = text.replace("]", "\\]")
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
