"""Gap and admin notices carry deterministic nonces: told twice (a re-send after a crash,
a second process), they are posted once. The real bot's poster against the fake Discord,
which, like Discord, answers a repeated nonce (``enforce_nonce``) with the first message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.services.alerts.deliver import AdminNotice, GapNotice
from bot.states import NoticeKind
from tests.e2e.conftest import VigieWorld

pytestmark = pytest.mark.asyncio


def poster(world: VigieWorld) -> Any:
    assert world.bot is not None
    cog = world.bot.get_cog("Alerts")
    assert cog is not None
    return cog.poster


async def test_a_gap_notice_sent_twice_is_posted_once(world: VigieWorld) -> None:
    w = world
    since = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    notice = GapNotice(w.guild.id, w.channel.id, "en", ("dune",), since, since.replace(hour=11))
    await poster(w).send_gap_notice(notice)
    await poster(w).send_gap_notice(GapNotice(w.guild.id, w.channel.id, "en", ("dune",), since, since.replace(hour=11)))
    (message,) = w.discord.channel_messages(w.channel)
    assert message["nonce"] == notice.nonce and message["enforce_nonce"] is True
    assert w.discord.nonce_dedup_hits == 1
    # Another gap (another window) is another message.
    await poster(w).send_gap_notice(GapNotice(w.guild.id, w.channel.id, "en", ("dune",), since, since.replace(hour=12)))
    assert len(w.discord.channel_messages(w.channel)) == 2


async def test_an_admin_notice_sent_twice_is_posted_once(world: VigieWorld) -> None:
    w = world
    log_channel = w.discord.add_channel(w.guild, "vigie-log")
    at = datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
    refused = AdminNotice(w.guild.id, log_channel.id, "en", NoticeKind.KEY_REFUSED, ("dune",), at=at)
    await poster(w).notify_admins(refused)
    await poster(w).notify_admins(
        AdminNotice(w.guild.id, log_channel.id, "en", NoticeKind.KEY_REFUSED, ("dune",), at=at.replace(minute=9))
    )
    (message,) = w.discord.channel_messages(log_channel)
    assert message["nonce"] == refused.nonce and message["enforce_nonce"] is True
    forbidden = AdminNotice(w.guild.id, log_channel.id, "en", NoticeKind.CHANNEL_FORBIDDEN, ("dune",), w.channel.id, at)
    await poster(w).notify_admins(forbidden)
    await poster(w).notify_admins(forbidden)
    assert len(w.discord.channel_messages(log_channel)) == 2
    assert w.discord.nonce_dedup_hits == 2
