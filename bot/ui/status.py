"""The /setup status card."""

from __future__ import annotations

import discord

from bot import i18n
from bot.services.guilds import GuildStatus
from bot.ui.text import escape


def _when(value: object) -> str:
    return discord.utils.format_dt(value, "R") if value is not None else "—"  # type: ignore[arg-type]


def _reason(locale: object, reason: str) -> str:
    key = f"alert.pause_reason.{reason}"
    return i18n.t(locale, key) if i18n.has(key) else escape(reason)


def guild_status_embed(status: GuildStatus, locale: object) -> discord.Embed:
    t = i18n.t
    embed = discord.Embed(title=t(locale, "setup.status.title"), colour=discord.Colour.blurple())
    if status.has_key:
        key_line = t(locale, f"setup.status.key.{status.key_status}", fingerprint=status.fingerprint or "?")
        if status.registered_by:
            key_line += "\n" + t(locale, "setup.status.key.registered", user=f"<@{status.registered_by}>", when=_when(status.registered_at))
        key_line += "\n" + t(locale, "setup.status.key.checked", when=_when(status.checked_at))
    else:
        key_line = t(locale, "setup.status.key.none")
    embed.add_field(name=t(locale, "setup.status.key"), value=key_line, inline=False)
    alerts = t(locale, "setup.status.alerts.value", total=status.alerts_total, paused=status.alerts_paused)
    for name, reason in status.paused_alerts[:10]:
        alerts += f"\n• {escape(name)} — {_reason(locale, reason)}"
    embed.add_field(name=t(locale, "setup.status.alerts"), value=alerts[:1024], inline=True)
    outcome = status.last_poll_outcome or "ok"
    outcome_key = f"alert.poll_outcome.{outcome}"
    poll = t(locale, "setup.status.poll.never") if status.last_poll_at is None else t(
        locale, "setup.status.poll.value", when=_when(status.last_poll_at), outcome=t(locale, outcome_key) if i18n.has(outcome_key) else escape(outcome)
    )
    embed.add_field(name=t(locale, "setup.status.poll"), value=poll, inline=True)
    role = f"<@&{status.upload_role_id}>" if status.upload_role_id else t(locale, "setup.status.upload_role.default")
    embed.add_field(name=t(locale, "setup.status.upload_role"), value=role, inline=False)
    channel = f"<#{status.upload_channel_id}>" if status.upload_channel_id else "—"
    embed.add_field(name=t(locale, "setup.status.upload_channel"), value=channel, inline=True)
    log_channel = f"<#{status.log_channel_id}>" if status.log_channel_id else t(locale, "setup.status.log_channel.default")
    embed.add_field(name=t(locale, "setup.status.log_channel"), value=log_channel, inline=True)
    return embed
