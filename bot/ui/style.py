"""How Vigie looks, decided once: the colours of its cards and how a date is shown.

Dates go through Discord's timestamp markup (``<t:…:R>``, ``<t:…:f>``), which each reader
sees in their own time zone and language.
"""

from __future__ import annotations

from datetime import datetime

import discord


class Colours:
    """Every colour a Vigie card uses."""

    #: Release cards, listings, upload previews.
    BRAND = discord.Colour.from_rgb(0x1F, 0x6F, 0xB5)
    #: Something done (an upload accepted).
    OK = discord.Colour.green()
    #: Nothing done, nothing wrong either (cancelled, expired, duplicate…).
    WARN = discord.Colour.orange()
    #: Refused.
    FAIL = discord.Colour.red()
    #: The /setup status card.
    STATUS = discord.Colour.blurple()


def relative_time(value: datetime | None, missing: str = "—") -> str:
    """Render "3 hours ago", with the exact date on hover; *missing* when there is no date."""
    return discord.utils.format_dt(value, "R") if value is not None else missing


def exact_time(value: datetime) -> str:
    """The full date and time, in each reader's time zone."""
    return discord.utils.format_dt(value, "f")
