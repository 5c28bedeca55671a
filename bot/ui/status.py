"""The /setup status card."""

from __future__ import annotations

import discord

from bot import i18n
from bot.services.guilds import GuildStatus
from bot.states import PauseReason, PollOutcome
from bot.ui.style import Colours, relative_time
from bot.ui.text import escape


def _when(value: object) -> str:
    return relative_time(value)  # type: ignore[arg-type]


def pause_reason_text(locale: object, reason: str | None) -> str:
    """Why an alert is paused, in words (``/alert list``, ``/setup status``)."""
    return i18n.t(locale, f"alert.pause_reason.{PauseReason.of(reason)}")


def poll_outcome_text(locale: object, outcome: str | None) -> str:
    """How the last poll ended, in words; a word this version does not know is shown as is."""
    key = f"alert.poll_outcome.{outcome or PollOutcome.OK}"
    return i18n.t(locale, key) if i18n.has(key) else escape(outcome or "")


def guild_status_embed(status: GuildStatus, locale: object) -> discord.Embed:
    t = i18n.t
    embed = discord.Embed(title=t(locale, "setup.status.title"), colour=Colours.STATUS)
    if status.has_key:
        key_line = t(locale, f"setup.status.key.{status.key_status}", fingerprint=status.fingerprint or "?")
        if status.registered_by:
            key_line += "\n" + t(
                locale,
                "setup.status.key.registered",
                user=f"<@{status.registered_by}>",
                when=_when(status.registered_at),
            )
        key_line += "\n" + t(locale, "setup.status.key.checked", when=_when(status.checked_at))
    else:
        key_line = t(locale, "setup.status.key.none")
    embed.add_field(name=t(locale, "setup.status.key"), value=key_line, inline=False)
    alerts = t(locale, "setup.status.alerts.value", total=status.alerts_total, paused=status.alerts_paused)
    for name, reason in status.paused_alerts[:10]:
        alerts += f"\n• {escape(name)} — {pause_reason_text(locale, reason)}"
    embed.add_field(name=t(locale, "setup.status.alerts"), value=alerts[:1024], inline=True)
    poll = (
        t(locale, "setup.status.poll.never")
        if status.last_poll_at is None
        else t(
            locale,
            "setup.status.poll.value",
            when=_when(status.last_poll_at),
            outcome=poll_outcome_text(locale, status.last_poll_outcome),
        )
    )
    embed.add_field(name=t(locale, "setup.status.poll"), value=poll, inline=True)
    watches = t(locale, "setup.status.watches.on" if status.watches_enabled else "setup.status.watches.off")
    watches += "\n" + t(locale, "setup.status.watches.count", count=status.watches_total)
    embed.add_field(name=t(locale, "setup.status.watches"), value=watches, inline=False)
    role = f"<@&{status.upload_role_id}>" if status.upload_role_id else t(locale, "setup.status.upload_role.default")
    embed.add_field(name=t(locale, "setup.status.upload_role"), value=role, inline=False)
    channel = f"<#{status.upload_channel_id}>" if status.upload_channel_id else "—"
    embed.add_field(name=t(locale, "setup.status.upload_channel"), value=channel, inline=True)
    log_channel = (
        f"<#{status.log_channel_id}>" if status.log_channel_id else t(locale, "setup.status.log_channel.default")
    )
    embed.add_field(name=t(locale, "setup.status.log_channel"), value=log_channel, inline=True)
    return embed
